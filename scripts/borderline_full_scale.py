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

The agreement of Aer and the emulation on those images is summed up as a chi-square: per image the
two-proportion z-score of the two rates (pooled variance), squared and summed over the images, with
one degree of freedom per image.

Outputs in ``--out``: ``borderline_full_scale.json`` (every image's successes, ideal and emulated at
every ``a``, its category, the summaries and the confirmation) and ``borderline_full_scale.png``
(needs Matplotlib, the ``[plot]`` extra): left, each image's emulated against its ideal success rate
at the largest ``a`` by category, with the confirmed images' Aer rates; right, each category's mean
success rate ideal and emulated at every ``a``, with 95 % intervals of the mean. ``--replot JSON``
redraws the figure from a record without drawing anything.

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


def _successes(points) -> list[int]:
    return [int(p.rate.successes) for p in points]


def _mean_interval(rates: np.ndarray) -> dict:
    """The mean of per-image rates with a 95 % normal interval over the images (None when empty)."""
    if rates.size == 0:
        return {"mean": None, "low": None, "high": None}
    mean = float(rates.mean())
    half = 1.96 * float(rates.std(ddof=1)) / np.sqrt(rates.size) if rates.size > 1 else 0.0
    return {"mean": mean, "low": mean - half, "high": mean + half}


def _agreement(aer: list[int], emulated: list[int], shots: int) -> dict:
    """Chi-square of Aer against the emulation over the confirmed images (pooled two-proportion z-scores)."""
    from scipy import stats

    a, e = np.asarray(aer, dtype=float) / shots, np.asarray(emulated, dtype=float) / shots
    pooled = (a + e) / 2
    se = np.sqrt(2 * pooled * (1 - pooled) / shots)
    informative = se > 0  # both rates 0 or both 1: the image says nothing, and counts no degree of freedom
    z = np.divide(a - e, se, out=np.zeros_like(a), where=informative)
    chi2, dof = float((z**2).sum()), int(informative.sum())
    return {"z": [round(float(v), 3) for v in z], "chi2": chi2, "dof": dof, "p": float(stats.chi2.sf(chi2, dof))}


def main() -> None:
    """Draw, categorize, confirm, record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--device", default="fake_torino")
    parser.add_argument("--a", nargs="+", type=float, default=[0.0, 0.5])
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--limit", type=int, default=None, help="use the first N validation images (smoke runs)")
    parser.add_argument("--clear", type=float, default=0.9)
    parser.add_argument("--confirm", type=int, default=10)
    parser.add_argument("--confirm-shots", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/borderline")
    parser.add_argument("--replot", metavar="JSON", help="redraw the figure of a record, drawing nothing")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        _figure(json.loads(Path(args.replot).read_text()), out / "borderline_full_scale.png")
        return
    if args.model is None:
        parser.error("--model is required (or --replot JSON)")
    record = _study(args)
    path = out / "borderline_full_scale.json"
    write_atomic(path, (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8"))
    print(f"wrote {path}")
    _figure(record, out / "borderline_full_scale.png")


def _study(args: argparse.Namespace) -> dict:
    """Every image's rates ideal and emulated, the categories, and the confirmation on Aer."""
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
                "ideal": _mean_interval(i),
                "emulated": _mean_interval(n),
                "change": _mean_interval(n - i),
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
                "ideal": float(ideal_top[i]),
                "emulated_full_run": float(noisy_top[i]),
                "emulated_same_positions": {
                    "successes": again[j].rate.successes,
                    "low": again[j].rate.low,
                    "high": again[j].rate.high,
                },
                "aer": {"successes": aer.successes, "low": aer.low, "high": aer.high},
            }
        )
        print(
            f"image {i}: ideal {ideal_top[i]:.3f}, emulated {again[j].rate.rate:.3f}, Aer {aer.rate:.3f} "
            f"[{aer.low:.3f}, {aer.high:.3f}]"
        )
    agreement = _agreement(
        [c["aer"]["successes"] for c in confirmed],
        [c["emulated_same_positions"]["successes"] for c in confirmed],
        args.confirm_shots,
    )
    print(
        f"Aer against the emulation: chi2 {agreement['chi2']:.1f} on {agreement['dof']} dof, p = {agreement['p']:.3f}"
    )
    return {
        "model": str(args.model),
        "device": emu.describe(),
        "seed": args.seed,
        "shots": args.shots,
        "a": args.a,
        "clear": args.clear,
        "categories": category.tolist(),
        "classical_correct": (~wrong).astype(int).tolist(),
        "successes": {
            "ideal": {f"{a:g}": _successes(ideal[a]) for a in args.a},
            "emulated": {f"{a:g}": _successes(noisy[a]) for a in args.a},
        },
        "summary": summary,
        "confirm_shots": args.confirm_shots,
        "confirmed_on_aer": confirmed,
        "agreement": agreement,
    }


def _figure(record: dict, path: Path) -> None:
    """Left: emulated against ideal success rate per image at the largest a; right: category means."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from qiskit_natural_qnn.experiments.plots import save_figure
    except ImportError:
        print("no figure: Matplotlib (the [plot] extra) is not installed")
        return
    shots = record["shots"]
    a_values = [f"{a:g}" for a in record["a"]]
    top = a_values[-1] if len(a_values) == 1 else f"{max(record['a']):g}"
    ideal = np.asarray(record["successes"]["ideal"][top]) / shots
    noisy = np.asarray(record["successes"]["emulated"][top]) / shots
    category = np.asarray(record["categories"])
    colors = {"other": "0.75", "clear": "tab:blue", "borderline": "tab:red"}
    device = record["device"].split(" ")[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8))
    for name in ("other", "clear", "borderline"):
        mask = category == name
        left.scatter(ideal[mask], noisy[mask], s=5, color=colors[name], label=f"{name} ({int(mask.sum())})")
    confirmed = record["confirmed_on_aer"]
    if confirmed:
        cs = record["confirm_shots"]
        x = [c["ideal"] for c in confirmed]
        y = [c["aer"]["successes"] / cs for c in confirmed]
        err = [
            [yy - c["aer"]["low"] for yy, c in zip(y, confirmed)],
            [c["aer"]["high"] - yy for yy, c in zip(y, confirmed)],
        ]
        left.errorbar(x, y, yerr=err, fmt="x", color="k", ms=5, lw=0.8, label=f"on Aer ({cs} passes)")
    left.plot([0, 1], [0, 1], color="k", lw=0.8)
    left.set_xlabel(f"ideal success rate (a = {top})")
    left.set_ylabel(f"success rate on {device} (emulated)")
    left.set_title(f"every validation image, {shots} passes each")
    left.legend(loc="upper left", fontsize=8)
    names = ["borderline", "clear", "other"]
    width = 0.8 / (2 * len(a_values))  # every a, ideal and emulated, side by side within a category
    for j, a in enumerate(a_values):
        for kind, shade in (("ideal", 1.0), ("emulated", 0.55)):
            offset = (2 * j + (kind == "emulated") - (2 * len(a_values) - 1) / 2) * width
            for i, name in enumerate(names):
                stats_ = record["summary"][name][f"a={a}"][kind]
                if stats_["mean"] is None:
                    continue
                color = matplotlib.colors.to_rgb(colors[name])
                face = tuple(1 - shade * (1 - c) for c in color) if kind == "emulated" else color
                right.bar(
                    i + offset, stats_["mean"], width, color=face, edgecolor="k", lw=0.5, hatch="//" if j == 0 else None
                )
                right.errorbar(
                    i + offset,
                    stats_["mean"],
                    yerr=[[stats_["mean"] - stats_["low"]], [stats_["high"] - stats_["mean"]]],
                    color="k",
                    lw=0.8,
                    capsize=2,
                )
    right.set_xticks(range(len(names)), [f"{n}\n({record['summary'][n]['n_images']})" for n in names])
    right.set_ylabel("mean success rate")
    right.set_ylim(0, 1.05)
    right.axhline(0.5, color="k", lw=0.6, ls="--")
    right.set_title("category means, 95 % intervals")
    from matplotlib.patches import Patch

    right.legend(
        handles=[
            Patch(facecolor="0.35", edgecolor="k", label="ideal"),
            Patch(facecolor="0.8", edgecolor="k", label=f"{device} (emulated)"),
            Patch(facecolor="white", edgecolor="k", hatch="//", label=f"a = {a_values[0]}"),
            *(Patch(facecolor="white", edgecolor="k", label=f"a = {a}") for a in a_values[1:]),
        ],
        loc="upper right",
        fontsize=8,
    )
    fig.tight_layout()
    print(f"wrote {save_figure(fig, path)}")


if __name__ == "__main__":
    main()
