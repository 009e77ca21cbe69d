"""Sweep scaling: the same grid serially and on an embedded Dask cluster of local worker processes.

One run trains the same points twice, each time into a fresh results folder:

1. serially in this process (``run_sweep`` without a client), with ``--serial-threads`` torch threads
   (default 1: on a machine shared with other jobs, extra OpenMP threads mostly wait on each other);
2. on ``--workers`` local worker processes (``qnqnn sweep --workers N``: ``local_cluster`` +
   ``run_sweep(client=...)``), one torch thread per point. The start-up (the cluster, and each worker
   importing the package, which its first point would do) is timed apart from the sweep;
3. with ``--ensemble K`` (default 4; 1 skips 3 and 4): serially again, up to K points trained at once
   as one ensemble (``qnqnn sweep --ensemble K``, :func:`~qiskit_natural_qnn.training.fit_ensemble`);
4. and on the workers with ensembles of up to K points in each task (``--workers N --ensemble K``).

It prints the wall times (the parallel one with and without the start-up), the speed-ups,
checks that every point's record is the same every way (weights digest and errors), and extrapolates
to more workers and more points from the measured time per point and the measured parallel
efficiency. Default grid: 8 points (a in {0.1, 0.316, 0.5, 1} x seeds {0, 1}) of 784-64-64-64-10,
10 epochs on the 5,000 training images of the embedded split, validation every 5 epochs with 15
shots. Target: a speed-up of at least 1.7 on 2 cores.

Usage::

    python benchmarks/sweep_scaling.py [--workers 2] [--ensemble 4] [--epochs 10] [--hidden 64 64 64]

Report the machine's load next to the figures (``uptime``): other jobs on the same cores lower both.
"""

from __future__ import annotations

import argparse
import importlib
import math
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

try:
    import qiskit_natural_qnn  # noqa: F401
except ModuleNotFoundError:  # a source checkout that is not installed: use the repository's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from qiskit_natural_qnn.data import MNISTSplit, load_default, take
from qiskit_natural_qnn.experiments.distributed import local_cluster
from qiskit_natural_qnn.experiments.sweep import METRICS, SweepSettings, grid_points, run_sweep
from qiskit_natural_qnn.training import TrainConfig


def _load() -> str:
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not POSIX
        return "load average n/a"


def _spin(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - start


def free_cores(workers: int, n: int = 10_000_000) -> float:
    """How many cores ``workers`` busy processes really get now: ``workers * t(1 alone) / t(all at once)``.

    On a machine shared with other jobs this is below ``workers``, and so is the best speed-up a sweep can show.
    """
    alone = _spin(n)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_spin, [1000] * workers)  # the processes are up before the clock starts
        together = max(pool.map(_spin, [n] * workers))
    return workers * alone / together


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--serial-threads", type=int, default=1)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64, 64])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-size", type=int, default=5000)
    p.add_argument("--a-values", type=float, nargs="+", default=[0.1, 0.316, 0.5, 1.0])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--ensemble", type=int, default=4, help="points per ensemble in runs 3 and 4 (1: skip them)")
    args = p.parse_args()

    full = load_default()
    data = MNISTSplit(take(full.train, args.train_size), full.validation, full.source)
    settings = SweepSettings(
        hidden=tuple(args.hidden), config=TrainConfig(epochs=args.epochs, eval_every=max(1, args.epochs // 2))
    )
    points = grid_points(a=args.a_values, seeds=range(args.seeds))
    net = "-".join(map(str, [784, *args.hidden, 10]))
    print(
        f"grid: {len(points)} points of {net}, {args.epochs} epochs on {args.train_size} training images; "
        f"{os.cpu_count()} CPUs; {_load()} at the start"
    )
    cores = free_cores(args.workers)
    print(f"{args.workers} busy processes get {cores:.2f} cores now (the best speed-up other jobs leave)")

    with tempfile.TemporaryDirectory() as tmp:
        torch.set_num_threads(args.serial_threads)
        start = time.perf_counter()
        serial = run_sweep(points, settings=settings, results_dir=Path(tmp, "serial"), data=data, progress=False)
        t_serial = time.perf_counter() - start
        print(f"serial ({args.serial_threads} torch thread(s)): {t_serial:.1f} s ({_load()})")

        start = time.perf_counter()
        with local_cluster(workers=args.workers) as client:
            client.run(importlib.import_module, "qiskit_natural_qnn.experiments.sweep")  # what a first point imports
            up = time.perf_counter() - start
            sweep_start = time.perf_counter()
            parallel = run_sweep(
                points, settings=settings, results_dir=Path(tmp, "parallel"), data=data, client=client, progress=False
            )
            t_sweep = time.perf_counter() - sweep_start
        t_parallel = time.perf_counter() - start
        print(
            f"--workers {args.workers} (1 torch thread each): {t_parallel:.1f} s in all = {up:.1f} s start-up (the "
            f"cluster, and the package imported by each worker) + {t_sweep:.1f} s sweep + "
            f"{t_parallel - up - t_sweep:.1f} s shut-down ({_load()})"
        )
        others = [parallel]
        if args.ensemble > 1:
            torch.set_num_threads(1)  # one thread: each record is bit for bit its serial one
            start = time.perf_counter()
            ens_dir = Path(tmp, "ens")
            together = run_sweep(
                points, settings=settings, results_dir=ens_dir, data=data, progress=False, ensemble=args.ensemble
            )
            t_ensemble = time.perf_counter() - start
            print(f"serial, --ensemble {args.ensemble} (1 torch thread): {t_ensemble:.1f} s ({_load()})")
            start = time.perf_counter()
            with local_cluster(workers=args.workers) as client:
                client.run(importlib.import_module, "qiskit_natural_qnn.experiments.sweep")
                sweep_start = time.perf_counter()
                both = run_sweep(
                    points,
                    settings=settings,
                    results_dir=Path(tmp, "both"),
                    data=data,
                    client=client,
                    progress=False,
                    ensemble=args.ensemble,
                )
                t_both = time.perf_counter() - sweep_start
            print(
                f"--workers {args.workers} --ensemble {args.ensemble}: {time.perf_counter() - start:.1f} s in all, "
                f"{t_both:.1f} s sweep ({_load()})"
            )
            print(
                f"speed-up of the sweep itself over serial: ensemble {t_serial / t_ensemble:.2f}x, workers + ensemble "
                f"{t_serial / t_both:.2f}x"
            )
            others += [together, both]

    same = all(
        s.weights_sha256 == q.weights_sha256 and all(s.metric(m) == q.metric(m) for m in METRICS)
        for other in others
        for s, q in zip(serial, other)
    )
    print(f"records identical in every run (weights digest, every error): {same}")
    speedup, speedup_sweep = t_serial / t_parallel, t_serial / t_sweep
    efficiency = speedup_sweep / args.workers
    print(
        f"speed-up: {speedup:.2f}x with start-up and shut-down, {speedup_sweep:.2f}x for the sweep itself "
        f"(target >= 1.7x on 2 cores; {cores:.2f} cores were free); parallel efficiency {efficiency:.0%}"
    )
    print(f"cores free at the end: {free_cores(args.workers):.2f} ({_load()})")

    # Extrapolation: equal points, one core per worker, the measured efficiency, points handed out in waves.
    t_point = t_serial / len(points)
    overhead = t_parallel - t_sweep
    print(
        f"\nextrapolation (time per point {t_point:.1f} s serially, efficiency {efficiency:.0%}, "
        f"{overhead:.0f} s cluster start-up and shut-down; one core per worker):"
    )
    workers = [1, 2, 4, 8, 16, 32, 64]
    sizes = [8, 30, 150, 500]
    print("points \\ workers " + "".join(f"{w:>9}" for w in workers))
    for n in sizes:
        cells = []
        for w in workers:
            t = n * t_point if w == 1 else overhead + math.ceil(n / w) * t_point / efficiency
            cells.append(f"{_duration(t):>9}")
        print(f"{n:>17} " + "".join(cells))
    print(
        "the paper-scale study (about 150 runs of 784-512x3 for 100-200 epochs, 2-16 min each here) scales the "
        "same way: time ~ ceil(points / workers) x time per point"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
