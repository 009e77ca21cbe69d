"""Forward passes per second on a noisy device: the emulated noise of the fast path against Aer.

For a 784-16-16-16-10 network (tanh, a = 0.5) and ``--images`` MNIST images x ``--shots`` shots (default
1,000 x 15, the paper's protocol) on ``--device``'s noise model (default ``fake_torino``), this times

(a) the fast path with the device's noise emulated exactly (``predict(..., noise=emulate_device(...))``,
    :mod:`qiskit_natural_qnn.emulation`), on ``--torch-device`` (``cpu`` or ``cuda``), the best of
    ``--repeats`` runs; the one-off cost of building the emulation is printed apart;
(b) Aer's noisy layer-by-layer execution of the same transpiled circuits with the same placement
    (:class:`~qiskit_natural_qnn.execution.layerwise.LayerwiseExecutor` with the emulation's pass
    manager and copies, ``qiskit_aer.primitives.SamplerV2`` on ``AerSimulator.from_backend(device)`` with
    the noise model cut to the qubits the circuits use, ``DeviceEmulation.placed_noise_model()``: the
    same draws as the whole model's, about twice as fast),
    circuits transpiled before the clock starts. By default it is timed on the full set (about 2.5
    minutes on a 2-core CPU). ``--aer-images A B`` times two subsets instead and extrapolates the full
    set as ``fixed + per_image * images`` (a straight line through the two points, as the output
    says): quicker, but it overestimated Aer's speed 2x on FakeTorino (Aer runs a small job's circuits
    in parallel better than a large one's).

and the noiseless fast path for scale. Target: (a) >= 1,000x (b).

Run: ``python benchmarks/noise_emulation.py [--device fake_torino] [--images 1000] [--shots 15]
[--aer-images 6 24] [--torch-device cpu]``. Needs the ``[ibm]`` extra (the fake devices).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.emulation import emulate_device
from qiskit_natural_qnn.execution.layerwise import LayerwiseExecutor
from qiskit_natural_qnn.inference import predict
from qiskit_natural_qnn.transpile import get_backend

SIZES = [784, 16, 16, 16, 10]


def _images(n: int) -> np.ndarray:
    from qiskit_natural_qnn.data import load_default

    data = load_default().validation
    reps = -(-n // len(data.labels))
    return np.tile(data.images, (reps, 1))[:n].astype(np.float64)


def _best(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, moving the laws to the device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Time (a) and (b) and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="fake_torino", help="the fake device whose noise model is used")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=15)
    parser.add_argument(
        "--aer-images", type=int, nargs="+", default=None, help="Aer subset sizes (1 or 2; default: the full set)"
    )
    parser.add_argument("--torch-device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = NaturalQNN(layer_sizes=SIZES, a=0.5, seed=0).to(args.torch_device)
    images = _images(args.images)
    passes = args.images * args.shots
    backend = get_backend(args.device)

    start = time.perf_counter()
    emu = emulate_device(model, backend)
    build = time.perf_counter() - start
    print(f"network {'-'.join(map(str, SIZES))}, a = 0.5 (tanh); {args.images} images x {args.shots} shots")
    print(f"noise: {emu.describe()}; emulation built once in {build:.1f} s (noise model, transpilation, laws)")

    noisy = _best(lambda: predict(model, images, shots=args.shots, seed=0, noise=emu), args.repeats)
    ideal = _best(lambda: predict(model, images, shots=args.shots, seed=0), args.repeats)

    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    # Aer at its fastest for these circuits: the noise model cut to the qubits they use (the same draws as the
    # whole model's for a seed, about twice as fast per circuit on a 133-qubit device)
    simulator = AerSimulator.from_backend(backend, noise_model=emu.placed_noise_model())
    sampler = SamplerV2.from_backend(simulator, seed=1)
    executor = LayerwiseExecutor(model, sampler, pass_manager=emu.pass_manager, copies=emu.copies)
    for k in range(1, len(model.hidden_sizes) + 1):
        executor.circuit(k, emu.copies)  # transpiled before the clock starts
    timed = []
    for n in args.aer_images or [args.images]:
        start = time.perf_counter()
        executor.run(images[:n], shots=args.shots, seed=0)
        timed.append((n, time.perf_counter() - start))
    if len(timed) == 1 and timed[0][0] == args.images:
        aer_seconds, how = timed[0][1], "timed on the full set"
    elif len(timed) == 1:
        (n, t) = timed[0]
        aer_seconds, how = t * args.images / n, f"timed on {n} images ({t:.1f} s), scaled linearly"
    else:
        (n1, t1), (n2, t2) = timed[0], timed[-1]
        per = (t2 - t1) / (n2 - n1)
        fixed = max(t1 - per * n1, 0.0)
        aer_seconds = fixed + per * args.images
        how = (
            f"timed on {n1} images ({t1:.1f} s) and {n2} images ({t2:.1f} s), extrapolated to {args.images} "
            f"as {fixed:.1f} s + {per:.2f} s per image"
        )

    width = 56
    print(f"{'':{width}} {'passes/s':>12} {'seconds':>10}")
    rows = [
        (f"(a) fast path, emulated noise ({args.torch_device})", noisy),
        (f"    fast path, noiseless ({args.torch_device})", ideal),
        ("(b) Aer, noisy layerwise execution (same circuits)", aer_seconds),
    ]
    for label, seconds in rows:
        print(f"{label:{width}} {passes / seconds:12.1f} {seconds:10.3f}")
    print(f"(b): {how}")
    ratio = aer_seconds / noisy
    print(f"(a) / (b) = {ratio:,.0f}x (target >= 1,000x): {'met' if ratio >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
