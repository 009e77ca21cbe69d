"""Noise-aware training: networks trained without and with a device's noise, evaluated on Aer's simulation of it.

For every stretch function in ``--stretches`` (default tanh, hardtanh), stretch ``a`` in ``--a`` (default
0, 0.5) and seed in ``--seeds`` (default 0 1 2), a 784-16-16-16-10 network is trained twice with the
paper's recipe (``--epochs``, default 10) on the embedded default split: once ideally and once with
the device's noise emulated exactly on the fast path (``fit(..., noise=emulate_device(...))``). Each
trained network is then evaluated on Aer's noisy layer-by-layer execution of the device
(``AerSimulator.from_backend``, the emulation's transpiled circuits and placement) on the first
``--aer-images`` validation images (default 1,000) with ``--shots`` passes (default 15), and for
reference on the emulated device and ideally on the fast path (all validation images). Both errors
(single shot, majority vote) are reported whatever they show. At ``a = 0`` the stretch function never
enters the network (``a f(z) = 0``): every stretch after the first reuses the first one's record
(``same_network_as``) instead of training the same network again.

Results go to ``--out/noise_aware_training.json`` (one record per network, rewritten after each), the
trained networks to ``--out/models/``, and a line per network on standard output; each record also
holds the emulated errors on the images Aer evaluated (``emulated_on_aer_images``: the emulation and
Aer on the same images, the same protocol). A run can be stopped and started again: networks already
in the JSON are skipped. A record written before ``emulated_on_aer_images`` existed is completed by
training its network again (training is deterministic for a seed: the script checks that the errors
it recorded come out again, and stops otherwise) without running Aer again.

Run: ``python scripts/noise_aware_training.py [--device fake_torino] [--out results/noise_aware]``
(the ``[ibm]`` extra). The Aer evaluation dominates: about 7 minutes per network on a 2-core CPU at
the defaults (``benchmarks/noise_emulation.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(REPO_ROOT))

from qiskit_natural_qnn import NaturalQNN  # noqa: E402
from qiskit_natural_qnn.data import load_default  # noqa: E402
from qiskit_natural_qnn.emulation import emulate_device  # noqa: E402
from qiskit_natural_qnn.execution.predict import SamplerEvaluation, evaluate_on_sampler  # noqa: E402
from qiskit_natural_qnn.inference import Evaluation, evaluate  # noqa: E402
from qiskit_natural_qnn.io import save_model  # noqa: E402
from qiskit_natural_qnn.io.files import write_atomic  # noqa: E402
from qiskit_natural_qnn.training import TrainConfig, fit  # noqa: E402
from qiskit_natural_qnn.transpile import get_backend  # noqa: E402

SIZES = [784, 16, 16, 16, 10]


def _errors(evaluation: Evaluation | SamplerEvaluation) -> dict:
    return {"single_shot_error": evaluation.single_shot_error, "vote_error": evaluation.vote_error}


def _key(stretch: str, a: float, seed: int, trained: str) -> str:
    return f"{stretch}/a={a:g}/seed={seed}/{trained}"


def main() -> None:
    """Train, evaluate, record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="fake_torino")
    parser.add_argument("--stretches", nargs="+", default=["tanh", "hardtanh"])
    parser.add_argument("--a", nargs="+", type=float, default=[0.0, 0.5])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--shots", type=int, default=15)
    parser.add_argument("--aer-images", type=int, default=1000)
    parser.add_argument("--train-limit", type=int, default=None, help="train on the first N images (smoke runs)")
    parser.add_argument("--out", default="results/noise_aware")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "noise_aware_training.json"
    records: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}
    split = load_default()
    train, val = split.train, split.validation
    if args.train_limit is not None:
        train = type(train)(train.images[: args.train_limit], train.labels[: args.train_limit], train.name)
    aer_data = (val.images[: args.aer_images].astype(np.float64), val.labels[: args.aer_images])
    backend = get_backend(args.device)

    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    emulation = None
    sampler = None
    for stretch in args.stretches:
        for a in args.a:
            for seed in args.seeds:
                for trained in ("ideal", "noisy"):
                    key = _key(stretch, a, seed, trained)
                    old = records.get(key)
                    if old is not None and ("same_network_as" in old or "emulated_on_aer_images" in old):
                        continue
                    first = _key(args.stretches[0], a, seed, trained)
                    if a == 0 and stretch != args.stretches[0] and first in records:  # a f(z) = 0: the same network
                        records[key] = {**records[first], "stretch": stretch, "same_network_as": first}
                        write_atomic(path, (json.dumps(records, indent=2) + "\n").encode("utf-8"))
                        continue
                    model = NaturalQNN(layer_sizes=SIZES, a=a, stretch=stretch, seed=seed)
                    if emulation is None:  # one architecture and measurement: one emulation for every network
                        emulation = emulate_device(model, backend)
                        sim = AerSimulator.from_backend(backend, noise_model=emulation.placed_noise_model())
                        sampler = SamplerV2.from_backend(sim, seed=seed)
                    start = time.perf_counter()
                    config = TrainConfig(epochs=args.epochs, seed=seed, eval_shots=args.shots)
                    noise = emulation if trained == "noisy" else None
                    fit(model, train, val, config=config, progress=False, noise=noise)
                    seconds = time.perf_counter() - start
                    save_model(model, out / "models" / f"{key.replace('/', '_')}.safetensors")
                    emulated = evaluate(model, val, shots=args.shots, seed=seed, noise=emulation)
                    ideal = evaluate(model, val, shots=args.shots, seed=seed)
                    same_images = evaluate(model, aer_data, shots=args.shots, seed=seed, noise=emulation)
                    record = {
                        "stretch": stretch,
                        "a": a,
                        "seed": seed,
                        "trained": trained,
                        "epochs": args.epochs,
                        "device": emulation.describe(),
                        "train_seconds": seconds,
                        "emulated": _errors(emulated),
                        "ideal": _errors(ideal),
                        "emulated_on_aer_images": _errors(same_images),
                    }
                    if old is not None:  # a record of an earlier version of this script: the same network again
                        if (old["ideal"], old["emulated"]) != (record["ideal"], record["emulated"]):
                            raise SystemExit(
                                f"{key}: retraining gave another network than the record's; not mixing them"
                            )
                        records[key] = {**old, **record, "train_seconds": old["train_seconds"]}
                    else:
                        on_aer = evaluate_on_sampler(
                            model,
                            aer_data,
                            sampler=sampler,
                            shots=args.shots,
                            mode="layerwise",
                            pass_manager=emulation.pass_manager,
                            copies=emulation.copies,
                            seed=seed,
                        )
                        aer = {"n_images": on_aer.n_images, "shots": on_aer.shots, **_errors(on_aer)}
                        records[key] = {**record, "aer": aer}
                    write_atomic(path, (json.dumps(records, indent=2) + "\n").encode("utf-8"))
                    r = records[key]
                    print(
                        f"{key:32} on Aer: single {r['aer']['single_shot_error']:.4f} "
                        f"vote {r['aer']['vote_error']:.4f} "
                        f"(emulated on the same images: {same_images.single_shot_error:.4f}, "
                        f"{same_images.vote_error:.4f}); all images emulated: single {emulated.single_shot_error:.4f} "
                        f"vote {emulated.vote_error:.4f}; ideal: single {ideal.single_shot_error:.4f} "
                        f"vote {ideal.vote_error:.4f}",
                        flush=True,
                    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
