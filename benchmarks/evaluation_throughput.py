"""Evaluation throughput: counter-based passes per second, with the int32 and the int64 key hash side by side.

``evaluate`` (and ``predict`` with an int seed, and every validation of ``fit`` and of a sweep) draws
one counter-based uniform number per image, shot, layer and neuron: a hash of its key
(``qiskit_natural_qnn.randomness``). The library hashes the last word of the key in int32 where the
device's int32 kernels wrap (checked once per device) and in int64 otherwise; both give the same
numbers. This script times, interleaved round by round in one run:

1. ``counter_uniform`` alone for one layer of a validation (15 shots x 5,000 images x 16 neurons);
2. ``evaluate`` on the 5,000 validation images of the embedded default split, 15 shots, for
   784-16x3 networks (Method 1: a = 0.5, tanh; Method 2: a = 0, g = pi/4) and a 784-512x3 network,

each with the int32 hash (the library as it runs here) and with the int64 hash (the fallback), and
checks that both give the same errors. Minimum and median over ``--rounds`` rounds, one torch thread.

Usage::

    python benchmarks/evaluation_throughput.py [--rounds 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

try:
    import qiskit_natural_qnn  # noqa: F401
except ModuleNotFoundError:  # a source checkout that is not installed: use the repository's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qiskit_natural_qnn import randomness
from qiskit_natural_qnn.data import load_default
from qiskit_natural_qnn.inference import evaluate
from qiskit_natural_qnn.network import NaturalQNN


@contextmanager
def _int64_hash() -> Any:
    """The fallback: the whole key hash in int64 (as on a device whose int32 products do not wrap)."""
    original = randomness._int32_wraps
    randomness._int32_wraps = lambda device: False  # type: ignore[assignment]
    try:
        yield
    finally:
        randomness._int32_wraps = original


def _time(fn: Callable[[], Any], fallback: bool) -> tuple[float, Any]:
    if fallback:
        with _int64_hash():
            start = time.perf_counter()
            out = fn()
    else:
        start = time.perf_counter()
        out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"int32 hash on cpu: {randomness._int32_wraps(torch.device('cpu'))}")
    val = load_default().validation
    data = (val.images, val.labels)
    source = randomness.counter_uniform(seed=3, image_ids=torch.arange(len(val.labels)))
    shape, like = torch.Size([15, len(val.labels), 16]), torch.zeros(1)
    cases: dict[str, Callable[[], Any]] = {"counter_uniform 15x5000x16": lambda: source(1, shape, like).sum().item()}
    for name, sizes, kw in (
        ("evaluate 784-16x3 a=0.5 tanh", [784, 16, 16, 16, 10], {"a": 0.5, "stretch": "tanh"}),
        ("evaluate 784-16x3 a=0 g=pi/4", [784, 16, 16, 16, 10], {"a": 0.0, "g": 0.7853981633974483}),
        ("evaluate 784-512x3 a=0.5 tanh", [784, 512, 512, 512, 10], {"a": 0.5, "stretch": "tanh"}),
    ):
        net = NaturalQNN(layer_sizes=sizes, seed=1, **kw)
        cases[name] = lambda net=net: evaluate(net, data, shots=15, seed=5)
    times: dict[tuple[str, bool], list[float]] = {(n, f): [] for n in cases for f in (False, True)}
    results: dict[tuple[str, bool], Any] = {}
    for name, fn in cases.items():  # warm-up, and the outputs to compare
        for fallback in (False, True):
            results[(name, fallback)] = _time(fn, fallback)[1]
    for _ in range(args.rounds):
        for name, fn in cases.items():
            for fallback in (False, True):
                times[(name, fallback)].append(_time(fn, fallback)[0])
    different = [name for name in cases if results[(name, False)] != results[(name, True)]]
    if different:
        raise SystemExit(f"the int32 and int64 hashes gave different results for {different}: a bug")
    print(f"\nms per call over {args.rounds} rounds (interleaved); same results both ways")
    print(f"{'':<32}{'int32 min':>10}{'median':>9}{'int64 min':>11}{'median':>9}{'min ratio':>11}{'same':>6}")
    for name in cases:
        fast, slow = times[(name, False)], times[(name, True)]
        same = results[(name, False)] == results[(name, True)]
        print(
            f"{name:<32}{min(fast) * 1e3:>10.1f}{statistics.median(fast) * 1e3:>9.1f}{min(slow) * 1e3:>11.1f}"
            f"{statistics.median(slow) * 1e3:>9.1f}{min(slow) / min(fast):>10.2f}x{str(same):>6}"
        )


if __name__ == "__main__":
    main()
