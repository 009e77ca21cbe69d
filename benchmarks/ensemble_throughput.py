"""Ensemble throughput: K networks trained at once by ``fit_ensemble`` against K serial ``fit`` calls.

Three measurements, each side by side in one run:

1. **Sweep of small networks**: a 21-point a-sweep (a = 0, 0.05, ..., 1.0, tanh stretch) of 784-16x3
   networks (784-16-16-16-10), the sweep's recipe (``TrainConfig(epochs, eval_every=10)``, batch 64,
   each network its own seed), on the embedded default split (5,000 training and 5,000 validation
   images, as ``qnqnn sweep`` validates). Serial: 21 ``fit`` calls. Ensemble: one ``fit_ensemble``
   call. Target: >= 5x on CPU. The script also checks that every network ends with the same weights
   both ways (bit for bit with one thread, see ``qiskit_natural_qnn.training.ensemble``).
2. **Eight large networks**: K = 8 networks of 784-512x3 (a = 0.25 ... 2.0), a few epochs without
   validation; seconds per epoch, serial and ensemble, in rounds that alternate the two (fresh
   networks each round), so that a machine whose speed drifts slows both alike. Target: >= 1.3x on
   CPU, read from the medians and from the minima.
3. **GPU** (only when CUDA is present): 784-512x3 networks, K doubled until memory or the time limit
   runs out; networks x images per second of the ensemble against one network trained alone.

Usage::

    python benchmarks/ensemble_throughput.py [--epochs 100] [--big-epochs 2] [--rounds 4] [--threads 1] [--skip-sweep]

``--epochs`` below 100 keeps the per-epoch ratio (the per-epoch work is the same; validation runs every
10th epoch and after the last) and says so. On a machine shared with other jobs compare several runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

try:
    import qiskit_natural_qnn  # noqa: F401
except ModuleNotFoundError:  # a source checkout that is not installed: use the repository's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qiskit_natural_qnn.data import load_default
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.training import TrainConfig, fit
from qiskit_natural_qnn.training.ensemble import fit_ensemble


def _nets(sizes: list[int], stretches: list[float], device: torch.device) -> list[NaturalQNN]:
    return [NaturalQNN(layer_sizes=sizes, a=a, stretch="tanh", seed=k).to(device) for k, a in enumerate(stretches)]


def _same(a: list[NaturalQNN], b: list[NaturalQNN]) -> bool:
    return all(torch.equal(p, q) for m, n in zip(a, b) for p, q in zip(m.parameters(), n.parameters()))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _training_seconds(histories: list) -> float:
    """Seconds per epoch of training alone, all networks together: the epochs without validation."""
    per_network = [[r.seconds for r in h.records if r.val_vote_error is None] for h in histories]
    return sum(statistics.median(t) for t in per_network if t)


def sweep(epochs: int, device: torch.device) -> None:
    """The 21-point a-sweep of 784-16x3: serial fits against one ensemble."""
    split = load_default()
    sizes = [784, 16, 16, 16, 10]
    stretches = [round(0.05 * k, 2) for k in range(21)]
    configs = [TrainConfig(epochs=epochs, eval_every=10, seed=k) for k in range(len(stretches))]
    print(f"\n1. a-sweep: {len(stretches)} networks {'-'.join(map(str, sizes))}, {epochs} epochs, eval every 10")
    serial = _nets(sizes, stretches, device)
    start = time.perf_counter()
    serial_histories = [
        fit(net, split.train, split.validation, config=config, progress=False) for net, config in zip(serial, configs)
    ]
    _sync(device)
    t_serial = time.perf_counter() - start
    ensemble = _nets(sizes, stretches, device)
    start = time.perf_counter()
    ensemble_histories = fit_ensemble(ensemble, split.train, split.validation, configs=configs)
    _sync(device)
    t_ensemble = time.perf_counter() - start
    note = "" if epochs == 100 else f" (per epoch: {t_serial / epochs:.3f} s vs {t_ensemble / epochs:.3f} s)"
    print(f"   serial   {t_serial:8.2f} s\n   ensemble {t_ensemble:8.2f} s{note}")
    print(f"   speed-up {t_serial / t_ensemble:.2f}x (target >= 5x on CPU); same weights: {_same(serial, ensemble)}")
    train_serial, train_ensemble = _training_seconds(serial_histories), _training_seconds(ensemble_histories)
    print(
        f"   training alone (epochs without validation): {train_serial:.3f} s vs {train_ensemble:.3f} s per epoch, "
        f"{train_serial / train_ensemble:.2f}x; each validation (5,000 images x 15 counter-based shots) costs the "
        "same both ways"
    )


def warm_up(device: torch.device) -> None:
    """One-time costs of a process, paid before any timing: the first ``torch.optim`` optimizer imports
    ``torch._dynamo`` (about 1.5 s on a 2-core machine), and the first products and checks set up their kernels.
    """
    train = load_default().train
    nets = _nets([784, 8, 10], [0.5, 1.0], device)
    fit(nets[0], train, None, config=TrainConfig(epochs=1, seed=0), progress=False)
    fit_ensemble(nets, train, None, configs=[TrainConfig(epochs=1, seed=k) for k in range(2)])


def large(epochs: int, rounds: int, device: torch.device) -> None:
    """K = 8 networks of 784-512x3, no validation: seconds per epoch, serial and ensemble, interleaved.

    Each round trains fresh networks both ways (the order alternating from round to round), so that a
    machine whose speed drifts over minutes slows both sides alike; each round gives its own ratio.
    """
    train = load_default().train
    sizes = [784, 512, 512, 512, 10]
    stretches = [0.25 * (k + 1) for k in range(8)]
    configs = [TrainConfig(epochs=epochs, seed=k) for k in range(len(stretches))]
    print(
        f"\n2. {len(stretches)} networks {'-'.join(map(str, sizes))}, {epochs} epochs, no validation; "
        f"{rounds} rounds, serial and ensemble alternating"
    )

    def serial_run() -> tuple[float, list[NaturalQNN]]:
        nets = _nets(sizes, stretches, device)
        start = time.perf_counter()
        for net, config in zip(nets, configs):
            fit(net, train, None, config=config, progress=False)
        _sync(device)
        return (time.perf_counter() - start) / epochs, nets

    def ensemble_run() -> tuple[float, list[NaturalQNN]]:
        nets = _nets(sizes, stretches, device)
        start = time.perf_counter()
        fit_ensemble(nets, train, None, configs=configs)
        _sync(device)
        return (time.perf_counter() - start) / epochs, nets

    serial_s, ensemble_s, same = [], [], True
    for r in range(rounds):
        if r % 2 == 0:
            (t_s, a), (t_e, b) = serial_run(), ensemble_run()
        else:
            (t_e, b), (t_s, a) = ensemble_run(), serial_run()
        same = same and _same(a, b)
        serial_s.append(t_s)
        ensemble_s.append(t_e)
        print(f"   round {r + 1}: serial {t_s:7.3f} s, ensemble {t_e:7.3f} s per epoch (all 8): {t_s / t_e:.2f}x")
    med_s, med_e = statistics.median(serial_s), statistics.median(ensemble_s)
    print(f"   serial   {med_s:8.3f} s per epoch (median; min {min(serial_s):.3f})")
    print(f"   ensemble {med_e:8.3f} s per epoch (median; min {min(ensemble_s):.3f})")
    print(
        f"   speed-up {med_s / med_e:.2f}x (medians), {min(serial_s) / min(ensemble_s):.2f}x (minima); target >= 1.3x "
        f"on CPU; same weights: {same}"
    )


def gpu(limit_s: float) -> None:
    """Networks x images per second on CUDA, K doubled until memory or ``limit_s`` runs out."""
    device = torch.device("cuda")
    train = load_default().train
    sizes = [784, 512, 512, 512, 10]
    n = len(train.labels)
    print(f"\n3. GPU {torch.cuda.get_device_name(device)}: {'-'.join(map(str, sizes))}, 2 epochs (first is warm-up)")

    def rate(k: int) -> float:
        nets = _nets(sizes, [0.25 + 0.01 * i for i in range(k)], device)
        configs = [TrainConfig(epochs=2, seed=i) for i in range(k)]
        if k == 1:
            histories = [fit(nets[0], train, None, config=configs[0], progress=False)]
        else:
            histories = fit_ensemble(nets, train, None, configs=configs)
        _sync(device)
        seconds = sum(h.records[-1].seconds for h in histories)  # the last epoch: k shares of its time
        return k * n / seconds

    one = rate(1)
    print(f"   K = 1 (fit)      {one:12.0f} network-images/s")
    k, start = 8, time.perf_counter()
    while time.perf_counter() - start < limit_s:
        try:
            r = rate(k)
        except torch.OutOfMemoryError:
            print(f"   K = {k}: out of memory")
            break
        print(f"   K = {k:<4d} ensemble {r:12.0f} network-images/s  ({r / one:.1f}x one network)")
        k *= 2
    torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the a-sweep (the issue's: 100)")
    parser.add_argument("--big-epochs", type=int, default=2, help="epochs of each 784-512x3 run")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of the 784-512x3 comparison (alternating)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: what torch picks)")
    parser.add_argument("--skip-sweep", action="store_true", help="skip the a-sweep")
    parser.add_argument("--skip-large", action="store_true", help="skip the 784-512x3 comparison")
    parser.add_argument("--gpu-seconds", type=float, default=240.0, help="time limit of the GPU section")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    warm_up(cpu)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CUDA: {torch.cuda.is_available()}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if not args.skip_sweep:
        sweep(args.epochs, cpu)
    if not args.skip_large:
        large(args.big_epochs, args.rounds, cpu)
    if torch.cuda.is_available():
        gpu(args.gpu_seconds)
    else:
        print("\n3. GPU: no CUDA device here; the section runs where one is present")


if __name__ == "__main__":
    main()
