"""The ``qnqnn evaluate MODEL`` subcommand: single-shot and majority-vote error of a saved model.

On the fast path by default; with ``--backend`` on a sampler (:mod:`qiskit_natural_qnn.cli.execution`).
``--limit N`` keeps only the first N images of the set, ``--json`` prints one JSON object.

Wire it into the main parser with ``add_evaluate_parser(subparsers)``; it sets ``handler=run_evaluate_command``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from qiskit_natural_qnn.cli.argtypes import positive_int
from qiskit_natural_qnn.cli.execution import add_backend_arguments, run_evaluate_on_backend
from qiskit_natural_qnn.cli.options import (
    add_data_dir_option,
    add_device_option,
    add_json_option,
    add_limit_option,
    add_model_argument,
    add_seed_option,
    add_shots_option,
    add_split_option,
)
from qiskit_natural_qnn.cli.runtime import choose_device, load_image_set
from qiskit_natural_qnn.inference import evaluate
from qiskit_natural_qnn.io import load_model

__all__ = ["add_evaluate_parser", "run_evaluate_command"]


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to ``subparsers`` (sets ``handler=run_evaluate_command``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="qnqnn")
        >>> _ = add_evaluate_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["evaluate", "m.safetensors", "--limit", "200", "--split", "train"])
        >>> args.model, args.limit, args.split, args.shots, args.backend
        ('m.safetensors', 200, 'train', 15, None)
    """
    p = subparsers.add_parser(
        "evaluate",
        help="single-shot and majority-vote error of a saved model",
        description="Evaluate a model file on MNIST: the average single-shot error and the majority-vote "
        "error over --shots passes per image (ties -> smallest class index).",
    )
    add_model_argument(p)
    add_shots_option(p, default=15, help="passes per image (default 15)")
    add_seed_option(p, help="seed of the shots (default 0)")
    add_data_dir_option(p)
    add_split_option(p)
    p.add_argument("--batch-size", type=positive_int, default=1024, help="images per batch (default 1024)")
    add_limit_option(p, help="use only the first N images of each set (quick runs, hardware budgets)")
    add_device_option(p)
    add_json_option(p)
    add_backend_arguments(p)
    p.set_defaults(handler=run_evaluate_command)
    return p


def run_evaluate_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn evaluate`` with parsed arguments; print the errors; return 0.

    Raises:
        NaturalQNNError: any library error (bad model file, device, data folder, sampler); ``qnqnn``'s
            ``main`` prints it and exits with status 2.
    """
    device = choose_device(args.device)
    model = load_model(args.model, device=device)
    data = load_image_set(args.data_dir, args.split, limit=args.limit)
    if args.backend is not None:
        return run_evaluate_on_backend(args, model, data)
    ev = evaluate(model, data, shots=args.shots, seed=args.seed, batch_size=args.batch_size)
    if args.json:
        print(
            json.dumps(
                {
                    "model": str(args.model),
                    "data": data.name,
                    "split": args.split,
                    "n_images": ev.n_images,
                    "shots": ev.shots,
                    "seed": args.seed,
                    "single_shot_error": ev.single_shot_error,
                    "vote_error": ev.vote_error,
                }
            )
        )
    else:
        print(f"model: {args.model}: NaturalQNN({model.extra_repr()})")
        print(f"data: {data.name}, {ev.n_images} images")
        print(f"single-shot error: {ev.single_shot_error:.4f}")
        print(f"majority-vote error ({ev.shots} shots): {ev.vote_error:.4f}")
    return 0
