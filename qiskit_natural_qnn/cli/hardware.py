"""The ``qnqnn noise-sweep``, ``qnqnn borderline`` and ``qnqnn estimate`` subcommands.

::

    qnqnn borderline MODEL [--a-values 0.1,0.2,0.316,0.5,1] [--classical MODEL2] [--criterion probability|vote]
                           [--strict] [--shots 200] [--limit 5] [--split validation] [--plot PATH] [--json]
    qnqnn noise-sweep MODEL --backend fake_perth (--images 3,17 | --borderline N) [--pairs 0,20,60]
                           [--gate sx|cz] [--a-values 0.5] [--shots 200] [--copies 1] [--no-noise]
                           [--optimization-level 1] [--out DIR]
    qnqnn estimate MODEL --backend fake_torino [--images 10] [--shots 15] [--copies auto] [--pairs 0]
                           [--gate sx] [--max-sets-per-job N] [--json]

``MODEL`` is a file written by ``qnqnn train`` (:func:`qiskit_natural_qnn.io.save_model`); images
are indices into the default validation set (or the training set with ``--split train``).
``noise-sweep`` runs on a fake IBM backend locally with its noise model (``--no-noise``: ideal), or
on a device given as ``ibm:NAME`` (IBM Runtime, credentials from the saved account) or
``ionq:NAME``; it prints one line per point and, with ``--out``, writes ``points.json`` and
``success_vs_pairs.png`` (and ``success_vs_a.png`` for several ``a``).

Wire them into the main parser with ``add_noise_sweep_parser(subparsers)``,
``add_borderline_parser(subparsers)`` and ``add_estimate_parser(subparsers)``; each sets ``handler``.
``python -m qiskit_natural_qnn.cli.hardware COMMAND ...`` runs them alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = [
    "add_borderline_parser",
    "add_estimate_parser",
    "add_noise_sweep_parser",
    "main",
    "points_to_json",
    "run_borderline_command",
    "run_estimate_command",
    "run_noise_sweep_command",
]


def _ints(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,20,60, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0 such as 0,20,60, got {text!r}")
    return values


def _floats(text: str) -> list[float]:
    from qiskit_natural_qnn.cli.experiments import parse_values

    try:
        return parse_values(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _copies(text: str) -> int | str:
    from qiskit_natural_qnn.cli.app import int_argument

    return int_argument(minimum=1, auto=True)(text)


def points_to_json(points: list[Any]) -> list[dict[str, Any]]:
    """Success points as JSON-ready dicts (one per image and setting)."""
    return [
        {
            "image": p.image,
            "label": p.label,
            "a": p.a,
            "pairs": p.pairs,
            "gate": p.gate,
            "backend": p.backend,
            **p.rate._asdict(),
        }
        for p in points
    ]


def _dataset(args: argparse.Namespace) -> Any:
    from qiskit_natural_qnn.cli.app import _load_split

    split = _load_split(getattr(args, "data_dir", None), None, None)
    return split.train if args.split == "train" else split.validation


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model.safetensors file written by qnqnn train or save_model")
    p.add_argument("--data-dir", default=None, help="full MNIST IDX folder (default: the embedded subset)")
    p.add_argument(
        "--split", choices=["validation", "train"], default="validation", help="image set (default validation)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the passes (default 0)")


# ---------------------------------------------------------------------------------------- borderline
def add_borderline_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``borderline`` subcommand (sets ``handler=run_borderline_command``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="qnqnn")
        >>> _ = add_borderline_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["borderline", "m.safetensors", "--a-values", "0.2,0.5"])
        >>> args.a_values, args.criterion, args.shots, args.limit
        ([0.2, 0.5], 'probability', 200, 10)
    """
    from qiskit_natural_qnn.cli.app import _positive_int

    p = subparsers.add_parser(
        "borderline",
        help="find images the classical network gets wrong and the quantum one right at some a",
        description=(
            "Classical wrong: the a = 0 network (the same weights, or --classical MODEL2) misclassifies the image. "
            "Quantum right at some a: over --shots fast-path passes the success rate exceeds 1/2 "
            "(--criterion probability; --strict: the 95%% Wilson lower bound does) or the majority vote is right "
            "(--criterion vote). Prints the images, best first, with their success rate versus a."
        ),
    )
    _common(p)
    p.add_argument(
        "--a-values",
        type=_floats,
        default=[0.1, 0.2, 0.316, 0.5, 0.75, 1.0],
        metavar="LIST",
        help="stretches to try (default 0.1,0.2,0.316,0.5,0.75,1)",
    )
    p.add_argument(
        "--classical",
        default=None,
        metavar="MODEL2",
        help="a separately trained network as the classical reference (default: the same weights at a = 0)",
    )
    p.add_argument("--criterion", choices=["probability", "vote"], default="probability")
    p.add_argument("--strict", action="store_true", help="require the interval's lower end above 1/2")
    p.add_argument("--shots", type=_positive_int, default=200, help="passes per image and a (default 200)")
    p.add_argument("--limit", type=_positive_int, default=10, help="report at most this many images (default 10)")
    p.add_argument("--max-images", type=_positive_int, default=None, help="search only the first N images")
    p.add_argument("--plot", default=None, metavar="PATH", help="write success versus a of the images found (PNG)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=run_borderline_command)
    return p


def run_borderline_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn borderline``."""
    import numpy as np

    from qiskit_natural_qnn.experiments.borderline import find_borderline, plot_success_vs_a
    from qiskit_natural_qnn.io import load_model

    model = load_model(args.model)
    classical = load_model(args.classical) if args.classical else None
    data = _dataset(args)
    n = len(data.labels) if args.max_images is None else min(args.max_images, len(data.labels))
    found = find_borderline(
        model,
        np.asarray(data.images[:n]),
        np.asarray(data.labels[:n]),
        a_values=args.a_values,
        classical=classical,
        criterion=args.criterion,
        strict=args.strict,
        shots=args.shots,
        seed=args.seed,
        limit=args.limit,
    )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "image": b.image,
                        "label": b.label,
                        "classical_class": b.classical_class,
                        "best_a": b.best_a,
                        "best_rate": b.best_rate,
                        "points": points_to_json(list(b.points)),
                    }
                    for b in found
                ]
            )
        )
    else:
        print(
            f"{len(found)} borderline image(s) among the first {n} {args.split} images "
            f"({args.criterion}{', strict' if args.strict else ''}, {args.shots} passes per a)"
        )
        for b in found:
            curve = "  ".join(f"a={p.a:g}: {p.rate.rate:.2f}" for p in b.points)
            print(
                f"image {b.image}: label {b.label}, classical {b.classical_class}, best {b.best_rate:.2f} at "
                f"a = {b.best_a:g} | {curve}"
            )
    if args.plot and found:
        from qiskit_natural_qnn.experiments.plots import save_figure

        path = save_figure(plot_success_vs_a([p for b in found[:3] for p in b.points]), args.plot)
        print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------------------- noise-sweep
def add_noise_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``noise-sweep`` subcommand (sets ``handler=run_noise_sweep_command``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="qnqnn")
        >>> _ = add_noise_sweep_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["noise-sweep", "m.safetensors", "--backend", "fake_perth", "--images", "3,17"])
        >>> args.pairs, args.gate, args.images, args.shots, args.copies
        ([0, 20, 60], 'sx', [3, 17], 200, 1)
    """
    from qiskit_natural_qnn.cli.app import _positive_int

    p = subparsers.add_parser(
        "noise-sweep",
        help="success rate of images versus injected identity pairs (and a) on a noisy device",
        description=(
            "Insert n protected identity pairs (SX SXdg per neuron, or CZ CZ per neighbouring neuron pair on coupled "
            "qubits) into every hidden layer's circuit, run the network layer by layer and report each image's "
            "success rate with 95%% Wilson intervals. --backend: a fake IBM backend (local, its noise model), "
            "ibm:NAME (IBM Runtime) or ionq:NAME."
        ),
    )
    _common(p)
    p.add_argument("--backend", required=True, help="fake_NAME, ibm:NAME or ionq:NAME")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--images", type=_ints, default=None, metavar="LIST", help="image indices, e.g. 3,17")
    which.add_argument(
        "--borderline",
        type=_positive_int,
        default=None,
        metavar="N",
        help="the N best borderline images (searched as by qnqnn borderline, among the first 500)",
    )
    p.add_argument(
        "--pairs", type=_ints, default=[0, 20, 60], metavar="LIST", help="numbers of pairs (default 0,20,60)"
    )
    p.add_argument("--gate", choices=["sx", "cz"], default="sx", help="pair gate (default sx)")
    p.add_argument("--a-values", type=_floats, default=None, metavar="LIST", help="stretches (default: the model's)")
    p.add_argument("--shots", type=_positive_int, default=200, help="passes per image and point (default 200)")
    p.add_argument(
        "--copies", type=_copies, default=1, help="copies of a layer side by side per circuit, or auto (default 1)"
    )
    p.add_argument("--optimization-level", type=int, choices=[0, 1, 2, 3], default=1)
    p.add_argument("--no-noise", action="store_true", help="fake backends: simulate without the noise model")
    p.add_argument("--out", default=None, help="folder for points.json and the figures")
    p.set_defaults(handler=run_noise_sweep_command)
    return p


def run_noise_sweep_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn noise-sweep``."""
    import numpy as np

    from qiskit_natural_qnn.experiments.borderline import find_borderline, plot_success_vs_a, plot_success_vs_pairs
    from qiskit_natural_qnn.experiments.noise import noise_sweep
    from qiskit_natural_qnn.io import load_model

    model = load_model(args.model)
    data = _dataset(args)
    if args.images is not None:
        ids = np.asarray(args.images)
        if ids.max() >= len(data.labels):
            raise ConfigurationError(
                f"--images holds {int(ids.max())}, the {args.split} set has {len(data.labels)} images"
            )
    else:
        found = find_borderline(
            model, np.asarray(data.images[:500]), np.asarray(data.labels[:500]), seed=args.seed, limit=args.borderline
        )
        if not found:
            raise ConfigurationError("no borderline image among the first 500; pass --images instead")
        ids = np.asarray([b.image for b in found])
    sampler, backend, setup = None, args.backend, None
    if args.backend.lower().startswith(("ibm:", "ionq:")):
        from qiskit_natural_qnn.providers.samplers import make_sampler

        setup = make_sampler(args.backend, optimization_level=args.optimization_level)
        sampler, backend = setup.sampler, setup.target
    try:
        points = noise_sweep(
            model,
            np.asarray(data.images)[ids],
            np.asarray(data.labels)[ids],
            backend=backend,
            pairs=args.pairs,
            gate=args.gate,
            a_values=args.a_values,
            shots=args.shots,
            seed=args.seed,
            noise=not args.no_noise,
            sampler=sampler,
            copies=args.copies,
            optimization_level=args.optimization_level,
            image_ids=ids,
        )
    finally:
        if setup is not None:
            setup.close()
    for p in points:
        print(
            f"image {p.image} (label {p.label}) a={p.a:g} {p.pairs:3d} {p.gate or '-':2} pairs on {p.backend}: "
            f"{p.rate.successes}/{p.rate.trials} = {p.rate.rate:.3f} [{p.rate.low:.3f}, {p.rate.high:.3f}]"
        )
    if args.out:
        from qiskit_natural_qnn.experiments.plots import save_figure

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "points.json").write_text(json.dumps(points_to_json(points), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {save_figure(plot_success_vs_pairs(points), out / 'success_vs_pairs.png')}")
        if len({p.a for p in points}) > 1:
            print(f"wrote {save_figure(plot_success_vs_a(points), out / 'success_vs_a.png')}")
    return 0


# ------------------------------------------------------------------------------------------ estimate
def add_estimate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``estimate`` subcommand (sets ``handler=run_estimate_command``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="qnqnn")
        >>> _ = add_estimate_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["estimate", "m.safetensors", "--backend", "fake_torino", "--copies", "auto"])
        >>> args.images, args.shots, args.copies, args.pairs
        (10, 15, 'auto', 0)
    """
    from qiskit_natural_qnn.cli.app import _positive_int

    p = subparsers.add_parser(
        "estimate",
        help="jobs, circuits, shots, qubits, gates and device time of a run, before paying for it",
        description=(
            "Build and transpile the circuits of a layer-by-layer run for --backend and count jobs, circuits, "
            "shots, qubits per job, two-qubit gates, mid-circuit measurements and, where the backend reports "
            "durations, the device time (circuit time plus the repetition delay per shot; no queue or overheads)."
        ),
    )
    p.add_argument("model", help="a model.safetensors file")
    p.add_argument("--backend", required=True, help="fake_NAME (its real device's properties), ionq, ionq_forte...")
    p.add_argument("--images", type=_positive_int, default=10, help="images (default 10)")
    p.add_argument("--shots", type=_positive_int, default=15, help="passes per image (default 15)")
    p.add_argument("--copies", type=_copies, default="auto", help="copies per circuit or auto (default auto)")
    p.add_argument("--pairs", type=int, default=0, help="identity pairs (default 0)")
    p.add_argument("--gate", choices=["sx", "cz"], default="sx")
    p.add_argument("--optimization-level", type=int, choices=[0, 1, 2, 3], default=1)
    p.add_argument("--max-sets-per-job", type=_positive_int, default=None)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run_estimate_command)
    return p


def run_estimate_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn estimate``."""
    from qiskit_natural_qnn.experiments.cost import estimate_cost
    from qiskit_natural_qnn.io import load_model

    model = load_model(args.model)
    est = estimate_cost(
        model,
        backend=args.backend,
        n_images=args.images,
        shots=args.shots,
        copies=args.copies,
        pairs=args.pairs,
        gate=args.gate,
        optimization_level=args.optimization_level,
        max_sets_per_job=args.max_sets_per_job,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "backend": est.backend,
                    "n_images": est.n_images,
                    "shots": est.shots,
                    "pairs": list(est.pairs),
                    "jobs": est.jobs,
                    "circuits": est.circuits,
                    "total_shots": est.total_shots,
                    "max_qubits": est.max_qubits,
                    "two_qubit_gates_executed": est.two_qubit_gates_executed,
                    "mid_circuit_measurements_executed": est.mid_circuit_measurements_executed,
                    "device_time_s": est.device_time_s,
                    "rep_delay_s": est.rep_delay_s,
                    "layers": [r._asdict() for r in est.layers],
                }
            )
        )
    else:
        print(est.table())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one of these subcommands alone (``python -m qiskit_natural_qnn.cli.hardware ...``).

    Returns:
        0 on success, 2 for a library error (printed as ``error: <message>``), 130 when interrupted.
    """
    parser = argparse.ArgumentParser(prog="qnqnn")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (add_noise_sweep_parser, add_borderline_parser, add_estimate_parser):
        add(sub)
    from qiskit_natural_qnn.cli.app import run_handler

    return run_handler(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
