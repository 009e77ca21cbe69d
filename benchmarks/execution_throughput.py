"""Forward passes per second on Aer: layerwise and dynamic execution against the naive way.

For a 784-16-16-16-10 network and ``--images`` MNIST images x ``--shots`` shots (default 1,000 x 15,
the paper's protocol) this times

(a) layerwise execution (:func:`qiskit_natural_qnn.execution.predict_on_sampler`, ``mode="layerwise"``:
    one job per hidden layer, parameter-array PUBs, copies side by side),
(b) dynamic execution (``mode="dynamic"``: one dynamic circuit, one job). With the default ``tanh``
    stretch no single circuit is exact for 16-neuron layers (lookup stops at 8), so (b) runs the
    same architecture with the ``linear`` stretch (a = 4), for which the linear construction is
    exact; the output says so;
(c) the naive way: one circuit per layer per image per shot, each submitted as its own job, one at a
    time (host feedforward in between); ``--naive-passes`` passes (default 20) are timed and the
    rate extrapolated;

and the PyTorch fast path for scale. Every sampler is Aer's ``SamplerV2`` with the same options
(``matrix_product_state``, parallel parameter sets), so the ratios measure how work is packed
into jobs, not simulator settings. Target: (a) >= 20x (c).

Run: ``python benchmarks/execution_throughput.py [--images 1000] [--shots 15] [--naive-passes 20]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qiskit_aer.primitives import SamplerV2 as AerSampler

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.circuits import (
    bind_layer,
    input_angles,
    layer_angles,
    layer_circuit,
)
from qiskit_natural_qnn.circuits.registers import layer_bits
from qiskit_natural_qnn.execution import predict_on_sampler
from qiskit_natural_qnn.execution.samplers import AER_DEFAULT_BACKEND_OPTIONS
from qiskit_natural_qnn.inference import predict

SIZES = [784, 16, 16, 16, 10]


def _aer(seed: int | None = None) -> AerSampler:
    return AerSampler(seed=seed, options={"backend_options": dict(AER_DEFAULT_BACKEND_OPTIONS)})


def _images(n: int) -> np.ndarray:
    from qiskit_natural_qnn.data import load_default

    data = load_default().validation
    reps = -(-n // len(data.labels))
    return np.tile(data.images, (reps, 1))[:n].astype(np.float64)


def _naive(model: NaturalQNN, images: np.ndarray, passes: int) -> float:
    """Seconds for ``passes`` forward passes, one single-circuit job per layer per pass."""
    circuits = [layer_circuit(model, layer=k) for k in range(1, len(model.hidden_sizes) + 1)]
    circuits = [lc._replace(circuit=lc.circuit.decompose(gates_to_decompose=["rzy"])) for lc in circuits]
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for p in range(passes):
        x = images[p % len(images)]
        bits = None
        for k, lc in enumerate(circuits, start=1):
            angles = input_angles(model, x) if k == 1 else layer_angles(model, layer=k, bits=bits)
            (bound,) = bind_layer(lc, angles)
            result = _aer(int(rng.integers(2**31))).run([bound], shots=1).result()
            bits = layer_bits(result[0].data, lc.register)[0]
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=15)
    parser.add_argument("--naive-passes", type=int, default=20)
    parser.add_argument("--a", type=float, default=0.5, help="stretch of the tanh network (default 0.5)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n, shots = args.images, args.shots
    passes = n * shots
    images = _images(n)
    tanh_net = NaturalQNN(layer_sizes=SIZES, a=args.a, stretch="tanh", seed=0)
    linear_net = NaturalQNN(layer_sizes=SIZES, a=4.0, stretch="linear", seed=0)
    print(f"network {'-'.join(map(str, SIZES))}, {n} images x {shots} shots = {passes} forward passes on Aer")

    t = time.perf_counter()
    layerwise = predict_on_sampler(tanh_net, images, sampler=_aer(), shots=shots, mode="layerwise", seed=1)
    t_layerwise = time.perf_counter() - t
    jobs = len(layerwise.jobs)

    t = time.perf_counter()
    dynamic = predict_on_sampler(linear_net, images, sampler=_aer(), shots=shots, mode="dynamic", seed=2)
    t_dynamic = time.perf_counter() - t

    t_naive = _naive(tanh_net, images, args.naive_passes)

    t = time.perf_counter()
    predict(tanh_net, images, shots=shots, seed=3)
    t_fast = time.perf_counter() - t

    rate = {
        "layerwise": passes / t_layerwise,
        "dynamic": passes / t_dynamic,
        "naive": args.naive_passes / t_naive,
        "fast": passes / t_fast,
    }
    print(
        f"(a) layerwise (tanh a={args.a}): {t_layerwise:8.2f} s  {rate['layerwise']:10.1f} passes/s  "
        f"({jobs} jobs of {[j.n_sets for j in layerwise.jobs]} parameter sets)"
    )
    print(
        f"(b) dynamic ({dynamic.construction} construction; NOTE: linear stretch a=4, since no single circuit is "
        f"exact for 16-wide tanh layers): {t_dynamic:8.2f} s  {rate['dynamic']:10.1f} passes/s  "
        f"({len(dynamic.jobs)} job)"
    )
    print(
        f"(c) naive (one job per layer per image per shot; {args.naive_passes} passes timed, extrapolated): "
        f"{t_naive:8.2f} s  {rate['naive']:10.1f} passes/s"
    )
    print(f"    fast path (PyTorch, for scale): {t_fast:8.3f} s  {rate['fast']:10.1f} passes/s")
    print(f"ratio layerwise / naive: {rate['layerwise'] / rate['naive']:.1f}x (target >= 20x)")
    print(f"ratio dynamic / naive:   {rate['dynamic'] / rate['naive']:.1f}x")
    print(f"ratio fast path / layerwise: {rate['fast'] / rate['layerwise']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
