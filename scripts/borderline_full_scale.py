"""The borderline study at full scale: every validation image, ideal and on an emulated device, at a = 0 and 0.5.

For a trained model (``--model``, a ``model.safetensors``) and the 5,000 images of the embedded
validation set, this draws ``--shots`` passes per image (default 200) at each stretch of ``--a``
(default 0 and 0.5), ideally and with the device's noise emulated exactly on the fast path
(``--device``, default ``fake_torino``), and records every image's success rate with its 95 % Wilson
interval. The categories of the hardware follow-up (arXiv:2507.21222) are then compared:

* **borderline** (classically wrong but quantum right): the deterministic ``a = 0`` network is wrong
  and the ideal success rate at the largest ``a`` exceeds 1/2;
* **clear**: the classical network is right and the ideal success rate at the largest ``a`` is at
  least ``--clear`` (default 0.9);
* **other**: the rest.

Per category it prints the mean ideal and emulated success rates at every ``a`` and their change.
The ``--confirm`` most noise-sensitive images (largest drop from ideal to emulated at the largest ``a``)
are then run on Aer's noisy layer-by-layer simulation of the device with the emulation's circuits and
placement, and on the emulation again at the same positions (placement depends on an image's position
in a run), ``--confirm-shots`` passes each (default 200): both rates are recorded with intervals.

Outputs in ``--out``: ``borderline_full_scale.json`` (every rate), ``borderline_full_scale.png`` (ideal
against emulated success rate at the largest ``a``, by category; needs Matplotlib, the ``[plot]``
extra).

Run: ``python scripts/borderline_full_scale.py --model runs/X/model.safetensors [--out results/borderline]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(REPO_ROOT))

from qiskit_natural_qnn.data import load_default  # noqa: E402
from qiskit_natural_qnn.emulation import emulate_device, success_rates  # noqa: E402
from qiskit_natural_qnn.execution.layerwise import LayerwiseExecutor  # noqa: E402
from qiskit_natural_qnn.experiments.borderline import pass_classes, success_rate, with_stretch  # noqa: E402
from qiskit_natural_qnn.inference import predict  # noqa: E402
from qiskit_natural_qnn.io import load_model  # noqa: E402
from qiskit_natural_qnn.io.files import write_atomic  # noqa: E402
from qiskit_natural_qnn.transpile import get_backend  # noqa: E402


def _rates(points) -> list[dict]:
    return [{"rate": p.rate.rate, "low": p.rate.low, "high": p.rate.high} for p in points]


def main() -> None:
    """Draw, categorize, confirm, record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--device", default="fake_torino")
    parser.add_argument("--a", nargs="+", type=float, default=[0.0, 0.5])
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--limit", type=int, default=None, help="use the first N validation images (smoke runs)")
    parser.add_argument("--clear", type=float, default=0.9)
    parser.add_argument("--confirm", type=int, default=10)
    parser.add_argument("--confirm-shots", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/borderline")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model, device="cpu")
    val = load_default().validation
    images = val.images[: args.limit].astype(np.float64)
    labels = val.labels[: args.limit].astype(np.int64)
    backend = get_backend(args.device)
    emu = emulate_device(model, backend)
    print(f"{len(labels)} images, {args.shots} passes each; device: {emu.describe()}")

    classical = predict(with_stretch(model, 0.0), images, shots=1, seed=args.seed).majority
    ideal, noisy = {}, {}
    for a in args.a:
        net = with_stretch(model, a)
        ideal[a] = success_rates(net, images, labels, shots=args.shots, seed=args.seed)
        noisy[a] = success_rates(net, images, labels, noise=emu, shots=args.shots, seed=args.seed)
    top = max(args.a)
    ideal_top = np.array([p.rate.rate for p in ideal[top]])
    noisy_top = np.array([p.rate.rate for p in noisy[top]])
    wrong = classical != labels
    category = np.where(
        wrong & (ideal_top > 0.5), "borderline", np.where(~wrong & (ideal_top >= args.clear), "clear", "other")
    )

    summary = {}
    for name in ("borderline", "clear", "other"):
        mask = category == name
        summary[name] = {"n_images": int(mask.sum())}
        for a in args.a:
            i = np.array([p.rate.rate for p in ideal[a]])[mask]
            n = np.array([p.rate.rate for p in noisy[a]])[mask]
            summary[name][f"a={a:g}"] = {
                "ideal_mean": float(i.mean()) if i.size else None,
                "emulated_mean": float(n.mean()) if n.size else None,
                "change": float((n - i).mean()) if i.size else None,
            }
        print(name, json.dumps(summary[name]))

    sensitive = np.argsort(-(ideal_top - noisy_top), kind="stable")[: args.confirm]
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    net = with_stretch(model, top)
    simulator = AerSimulator.from_backend(backend, noise_model=emu.placed_noise_model())
    sampler = SamplerV2.from_backend(simulator, seed=args.seed)
    run = LayerwiseExecutor(net, sampler, pass_manager=emu.pass_manager, copies=emu.copies).run(
        images[sensitive], shots=args.confirm_shots, seed=args.seed
    )
    aer_classes = pass_classes(net, run.bits[-1])
    again = success_rates(
        net, images[sensitive], labels[sensitive], noise=emu, shots=args.confirm_shots, seed=args.seed
    )
    confirmed = []
    for j, i in enumerate(sensitive):
        aer = success_rate(successes=int((aer_classes[j] == labels[i]).sum()), trials=args.confirm_shots)
        confirmed.append(
            {
                "image": int(i),
                "label": int(labels[i]),
                "category": str(category[i]),
                "ideal": ideal_top[i],
                "emulated_full_run": noisy_top[i],
                "emulated_same_positions": {
                    "rate": again[j].rate.rate,
                    "low": again[j].rate.low,
                    "high": again[j].rate.high,
                },
                "aer": {"rate": aer.rate, "low": aer.low, "high": aer.high},
            }
        )
        print(
            f"image {i}: ideal {ideal_top[i]:.3f}, emulated {again[j].rate.rate:.3f}, Aer {aer.rate:.3f} "
            f"[{aer.low:.3f}, {aer.high:.3f}]"
        )

    record = {
        "model": str(args.model),
        "device": emu.describe(),
        "shots": args.shots,
        "a": args.a,
        "categories": category.tolist(),
        "classical_correct": (~wrong).tolist(),
        "ideal": {f"{a:g}": _rates(ideal[a]) for a in args.a},
        "emulated": {f"{a:g}": _rates(noisy[a]) for a in args.a},
        "summary": summary,
        "confirmed_on_aer": confirmed,
    }
    path = out / "borderline_full_scale.json"
    write_atomic(path, (json.dumps(record, indent=1) + "\n").encode("utf-8"))
    print(f"wrote {path}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from qiskit_natural_qnn.experiments.plots import save_figure
    except ImportError:
        print("no figure: Matplotlib (the [plot] extra) is not installed")
        return
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, color in (("other", "0.75"), ("clear", "tab:blue"), ("borderline", "tab:red")):
        mask = category == name
        ax.scatter(ideal_top[mask], noisy_top[mask], s=6, color=color, label=f"{name} ({int(mask.sum())})")
    ax.plot([0, 1], [0, 1], color="k", lw=0.8)
    ax.set_xlabel(f"ideal success rate (a = {top:g})")
    ax.set_ylabel(f"success rate on {emu.name} (emulated)")
    ax.legend(loc="upper left")
    print(f"wrote {save_figure(fig, out / 'borderline_full_scale.png')}")


if __name__ == "__main__":
    main()
