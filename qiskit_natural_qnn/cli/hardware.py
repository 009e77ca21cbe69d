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

``borderline`` and ``noise-sweep`` show progress bars on standard error (over the values of ``a``;
over the points and each point's jobs and layers, with every job id as it is submitted) unless
``--no-progress``; every command takes ``-v``/``-vv``/``--log-level`` for the library's log.

Wire them into the main parser with ``add_noise_sweep_parser(subparsers)``,
``add_borderline_parser(subparsers)`` and ``add_estimate_parser(subparsers)``; each sets ``handler``.
``python -m qiskit_natural_qnn.cli.hardware COMMAND ...`` runs them alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from qiskit_natural_qnn.cli.argtypes import int_list, positive_int
from qiskit_natural_qnn.cli.options import (
    add_a_values_option,
    add_copies_option,
    add_data_dir_option,
    add_gate_option,
    add_json_option,
    add_limit_option,
    add_logging_options,
    add_model_argument,
    add_no_progress_option,
    add_optimization_level_option,
    add_seed_option,
    add_shots_option,
    add_split_option,
    configure_logging,
)
from qiskit_natural_qnn.cli.runtime import load_image_set, run_handler
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.experiments.borderline import (
    BorderlineImage,
    SuccessPoint,
    find_borderline,
    plot_success_vs_a,
    plot_success_vs_pairs,
)
from qiskit_natural_qnn.experiments.cost import CostEstimate, estimate_cost
from qiskit_natural_qnn.experiments.noise import noise_sweep
from qiskit_natural_qnn.io import load_model
from qiskit_natural_qnn.io.files import write_atomic
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.providers.aer_noise import noisy_setup
from qiskit_natural_qnn.providers.samplers import make_sampler
from qiskit_natural_qnn.transpile.devices import parse_device

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

#: ``noise-sweep --borderline N`` searches the first this many images.
BORDERLINE_SEARCH = 500


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


def _add_image_options(p: Any) -> None:
    """``MODEL`` and the images it runs on: ``--data-dir``, ``--split``, ``--seed`` of the passes."""
    add_model_argument(p)
    add_data_dir_option(p)
    add_split_option(p)
    add_seed_option(p, help="seed of the passes (default 0)")


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
    p = subparsers.add_parser(
        "borderline",
        help="find images the classical network gets wrong and the quantum one right at some a",
        description=(
            "Classical wrong: the a = 0 network (the same weights, or --classical MODEL2) misclassifies the image. "
            "Quantum right at some a: over --shots fast-path passes the success rate exceeds 1/2 "
            "(--criterion probability; --strict: the 95% Wilson lower bound does) or the majority vote is right "
            "(--criterion vote). Prints the images, best first, with their success rate versus a."
        ),
    )
    _add_image_options(p)
    add_a_values_option(
        p, default=[0.1, 0.2, 0.316, 0.5, 0.75, 1.0], help="stretches to try (default 0.1,0.2,0.316,0.5,0.75,1)"
    )
    p.add_argument(
        "--classical",
        default=None,
        metavar="MODEL2",
        help="a separately trained network as the classical reference (default: the same weights at a = 0)",
    )
    p.add_argument(
        "--criterion",
        choices=["probability", "vote"],
        default="probability",
        help="quantum right: the success rate exceeds 1/2 (probability, default) or the majority vote is right (vote)",
    )
    p.add_argument("--strict", action="store_true", help="require the interval's lower end above 1/2")
    add_shots_option(p, default=200, help="passes per image and a (default 200)")
    add_limit_option(p, default=10, help="report at most this many images (default 10)")
    p.add_argument("--max-images", type=positive_int, default=None, help="search only the first N images")
    p.add_argument("--plot", default=None, metavar="PATH", help="write success versus a of the images found (PNG)")
    add_json_option(p)
    add_no_progress_option(p)
    add_logging_options(p)
    p.set_defaults(handler=run_borderline_command)
    return p


def _borderline_json(found: list[BorderlineImage]) -> str:
    return json.dumps(
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


def _borderline_text(found: list[BorderlineImage], n: int, args: argparse.Namespace) -> str:
    lines = [
        f"{len(found)} borderline image(s) among the first {n} {args.split} images "
        f"({args.criterion}{', strict' if args.strict else ''}, {args.shots} passes per a)"
    ]
    for b in found:
        curve = "  ".join(f"a={p.a:g}: {p.rate.rate:.2f}" for p in b.points)
        lines.append(
            f"image {b.image}: label {b.label}, classical {b.classical_class}, best {b.best_rate:.2f} at "
            f"a = {b.best_a:g} | {curve}"
        )
    return "\n".join(lines)


def run_borderline_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn borderline``: print the borderline images (text or ``--json``), plot them with ``--plot``."""
    model = load_model(args.model)
    classical = load_model(args.classical) if args.classical else None
    data = load_image_set(args.data_dir, args.split)
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
        progress=not getattr(args, "no_progress", False),
    )
    print(_borderline_json(found) if args.json else _borderline_text(found, n, args))
    if args.plot and found:
        from qiskit_natural_qnn.experiments.plots import save_figure  # matplotlib: the [plot] extra

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
    p = subparsers.add_parser(
        "noise-sweep",
        help="success rate of images versus injected identity pairs (and a) on a noisy device",
        description=(
            "Insert n protected identity pairs (SX SXdg per neuron, or CZ CZ per neighbouring neuron pair on coupled "
            "qubits) into every hidden layer's circuit, run the network layer by layer and report each image's "
            "success rate with 95% Wilson intervals. --backend: a fake IBM backend (local, its noise model), "
            "ibm:NAME (IBM Runtime) or ionq:NAME."
        ),
    )
    _add_image_options(p)
    p.add_argument("--backend", required=True, help="fake_NAME, ibm:NAME or ionq:NAME")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--images", type=int_list, default=None, metavar="LIST", help="image indices, e.g. 3,17")
    which.add_argument(
        "--borderline",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"the N best borderline images (searched as by qnqnn borderline, among the first {BORDERLINE_SEARCH})",
    )
    p.add_argument(
        "--pairs", type=int_list, default=[0, 20, 60], metavar="LIST", help="numbers of pairs (default 0,20,60)"
    )
    add_gate_option(p)
    add_a_values_option(p, default=None, help="stretches (default: the model's)")
    add_shots_option(p, default=200, help="passes per image and point (default 200)")
    add_copies_option(p, default=1)
    add_optimization_level_option(p)
    p.add_argument("--no-noise", action="store_true", help="fake backends: simulate without the noise model")
    p.add_argument("--out", default=None, help="folder for points.json and the figures")
    add_no_progress_option(p)
    add_logging_options(p)
    p.set_defaults(handler=run_noise_sweep_command)
    return p


def _image_ids(args: argparse.Namespace, model: NaturalQNN, data: Dataset) -> np.ndarray:
    """The images of ``--images``, checked against the set, or the ``--borderline N`` best borderline ones."""
    if args.images is not None:
        ids = np.asarray(args.images)
        if ids.max() >= len(data.labels):
            raise ConfigurationError(
                f"--images holds {int(ids.max())}, the {args.split} set has {len(data.labels)} images"
            )
        return ids
    found = find_borderline(
        model,
        np.asarray(data.images[:BORDERLINE_SEARCH]),
        np.asarray(data.labels[:BORDERLINE_SEARCH]),
        seed=args.seed,
        limit=args.borderline,
        progress=not getattr(args, "no_progress", False),
    )
    if not found:
        raise ConfigurationError(f"no borderline image among the first {BORDERLINE_SEARCH}; pass --images instead")
    return np.asarray([b.image for b in found])


def _write_noise_sweep(points: list[SuccessPoint], out: Path) -> None:
    from qiskit_natural_qnn.experiments.plots import save_figure  # matplotlib: the [plot] extra

    write_atomic(out / "points.json", (json.dumps(points_to_json(points), indent=1) + "\n").encode("utf-8"))
    print(f"wrote {save_figure(plot_success_vs_pairs(points), out / 'success_vs_pairs.png')}")
    if len({p.a for p in points}) > 1:
        print(f"wrote {save_figure(plot_success_vs_a(points), out / 'success_vs_a.png')}")


def run_noise_sweep_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn noise-sweep``: one line per point; with ``--out``, ``points.json`` and the figures."""
    model = load_model(args.model)
    data = load_image_set(args.data_dir, args.split)
    ids = _image_ids(args, model, data)
    if parse_device(args.backend).kind in ("ibm", "ionq"):  # a cloud device
        setup = make_sampler(args.backend, optimization_level=args.optimization_level)
    else:  # simulated locally with the device's noise model ("fake_perth (noisy)") or without
        setup = noisy_setup(args.backend, noise=not args.no_noise, optimization_level=args.optimization_level)
    try:
        points = noise_sweep(
            model,
            np.asarray(data.images)[ids],
            np.asarray(data.labels)[ids],
            sampler=setup,
            pairs=args.pairs,
            gate=args.gate,
            a_values=args.a_values,
            shots=args.shots,
            seed=args.seed,
            copies=args.copies,
            optimization_level=args.optimization_level,
            image_ids=ids,
            progress=not getattr(args, "no_progress", False),
        )
    finally:
        setup.close()
    for p in points:
        print(
            f"image {p.image} (label {p.label}) a={p.a:g} {p.pairs:3d} {p.gate or '-':2} pairs on {p.backend}: "
            f"{p.rate.successes}/{p.rate.trials} = {p.rate.rate:.3f} [{p.rate.low:.3f}, {p.rate.high:.3f}]"
        )
    if args.out:
        _write_noise_sweep(points, Path(args.out))
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
    p = subparsers.add_parser(
        "estimate",
        help="jobs, circuits, shots, qubits, gates and device time of a run, before paying for it",
        description=(
            "Build and transpile the circuits of a layer-by-layer run for --backend and count jobs, circuits, "
            "shots, qubits per job, two-qubit gates, mid-circuit measurements and, where the backend reports "
            "durations, the device time (circuit time plus the repetition delay per shot; no queue or overheads)."
        ),
    )
    add_model_argument(p)
    p.add_argument("--backend", required=True, help="fake_NAME (its real device's properties), ionq, ionq_forte...")
    p.add_argument("--images", type=positive_int, default=10, help="images (default 10)")
    add_shots_option(p, default=15, help="passes per image (default 15)")
    add_copies_option(p, default="auto")
    p.add_argument("--pairs", type=int, default=0, help="identity pairs (default 0)")
    add_gate_option(p)
    add_optimization_level_option(p)
    p.add_argument(
        "--max-sets-per-job",
        type=positive_int,
        default=None,
        metavar="N",
        help="split each layer into jobs of at most N parameter sets (default: one job per layer)",
    )
    add_json_option(p)
    add_logging_options(p)
    p.set_defaults(handler=run_estimate_command)
    return p


def _estimate_json(est: CostEstimate) -> str:
    return json.dumps(
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


def run_estimate_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn estimate``: print the cost table (or ``--json``)."""
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
    print(_estimate_json(est) if args.json else est.table())
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
    args = parser.parse_args(argv)
    configure_logging(args)
    return run_handler(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
