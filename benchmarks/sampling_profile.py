"""Where the time of a training epoch goes: NaturalQNN against the plain binarized network, op by op.

Profiles (``torch.profiler``, CPU) one epoch of each of ``train_throughput.py``'s variants -- NaturalQNN
a = 0.5 tanh, NaturalQNN a = 0 g = pi/4 and the lean plain BNN -- after a warm-up epoch, on the same
data, shape and batching, and prints for each NaturalQNN variant the gap to the plain network outside
the matrix products (the same products in both, whose time varies from epoch to epoch by more than
the gap) and the ops whose self time differs most: the gap, decomposed. ``aten::uniform_`` is the random
numbers (``torch.rand`` from the network's ``torch.Generator``), ``aten::mm`` the matrix products
(the same in both), the rest the element-wise sampling chain, the straight-through backward, the
deferred checks and the loop. A last line sums the "pinned" kernels: the random numbers and the
neuron's transcendental functions, PyTorch's own kernels, whose values the exact draws fix (a fused
version rounds some of them differently); with every other sampling operation free, the ratio to the
plain epoch could not go below one plus their share.

Usage::

    python benchmarks/sampling_profile.py [--threads 1] [--hidden 512 512 512] [--top 12]

Profiling adds overhead per op (a few microseconds), which inflates the many small ops of the sampling;
read the ranking, and take the times from ``train_throughput.py``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

try:
    import qiskit_natural_qnn  # noqa: F401
except ModuleNotFoundError:  # a source checkout that is not installed: use the repository's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import BinarizedMLP, SignSTE, baseline_epoch  # noqa: E402

from qiskit_natural_qnn.data import load_default  # noqa: E402
from qiskit_natural_qnn.network import NaturalQNN  # noqa: E402
from qiskit_natural_qnn.training import TrainConfig, fit  # noqa: E402
from qiskit_natural_qnn.training.loop import CheckedDataset, check_dataset  # noqa: E402

#: The matrix products: the same work in both networks, whose timing varies more than the whole gap.
MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear", "aten::matmul")

#: The kernels whose values the exact draws pin: the random numbers of the network's generator and the
#: neuron's transcendental functions (PyTorch's own kernels; a fused or compiled version rounds some
#: values differently in the last bit, which flips outcomes, see docs/performance.md).
PINNED = (
    "aten::uniform_",
    *(f"aten::{f}{s}" for f in ("sin", "cos", "atan2", "sigmoid", "tanh", "asin", "sqrt") for s in ("", "_")),
)


def _self_times(run) -> tuple[dict[str, float], float]:  # type: ignore[no-untyped-def]
    """Self CPU seconds per op name of one profiled call of ``run``, and the call's total."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    times: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        times[event.key] += event.self_cpu_time_total / 1e6
    return times, sum(times.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512, 512])
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train = load_default().train
    sizes = [784, *args.hidden, 10]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); network {'-'.join(map(str, sizes))}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    plain = BinarizedMLP(sizes, seed=0, ste=SignSTE)
    optimizer = torch.optim.SGD(plain.parameters(), lr=0.01, momentum=0.9)
    bx, by = torch.tensor(train.images), torch.as_tensor(train.labels)
    gen = torch.Generator().manual_seed(0)

    def plain_epoch() -> None:
        baseline_epoch(plain, optimizer, bx, by, 64, gen)

    plain_epoch()
    base, base_total = _self_times(plain_epoch)
    wall = []
    for _ in range(3):  # the floor's denominator: the epoch's wall-clock time, without the profiler's overhead
        start = time.perf_counter()
        plain_epoch()
        wall.append(time.perf_counter() - start)
    plain_wall = min(wall)
    print(
        f"plain BNN (lean): {base_total:.3f} s of op time in one profiled epoch, {plain_wall:.3f} s unprofiled "
        "(min of 3)"
    )
    for label, kwargs in (("a=0.5 tanh", {"a": 0.5, "stretch": "tanh"}), ("a=0 g=pi/4", {"a": 0.0, "g": math.pi / 4})):
        model = NaturalQNN(layer_sizes=sizes, seed=0, **kwargs)
        data = check_dataset(model, train, "train")  # checked once here, so that the profile is the epoch

        def epoch(model: NaturalQNN = model, data: CheckedDataset = data) -> None:
            fit(model, data, None, config=TrainConfig(epochs=1, seed=0), progress=False)

        epoch()
        times, total = _self_times(epoch)
        matmul = sum(times.get(k, 0.0) for k in MATMUL)
        base_matmul = sum(base.get(k, 0.0) for k in MATMUL)
        gap = (total - matmul) - (base_total - base_matmul)
        print(
            f"\nNaturalQNN {label}: {total:.3f} s of op time ({total / base_total:.2f}x); matrix products "
            f"{matmul:.3f} s (plain {base_matmul:.3f} s: the same work, timed apart); the rest "
            f"{total - matmul:.3f} s against {base_total - base_matmul:.3f} s: a gap of {gap:.3f} s = "
            f"{gap / base_total:.0%} of the plain epoch"
        )
        names = (set(times) | set(base)) - set(MATMUL)
        diffs = sorted(((times.get(k, 0.0) - base.get(k, 0.0), k) for k in names), reverse=True)
        for diff, name in diffs[: args.top]:
            print(f"  {name:<48}{diff:>+9.3f} s  {diff / gap:>6.0%} of the gap")
        pinned = sum(times.get(k, 0.0) - base.get(k, 0.0) for k in PINNED)
        print(
            f"  pinned kernels alone (the random numbers and the neuron's transcendental functions, whose values "
            f"the exact draws fix): {pinned:.3f} s = {pinned / plain_wall:.0%} of the plain epoch (unprofiled), a "
            f"floor of about {1 + pinned / plain_wall:.2f}x with every other sampling operation free"
        )


if __name__ == "__main__":
    main()
