"""The ``qnqnn evaluate MODEL`` subcommand: single-shot and majority-vote error of a saved model.

On the fast path by default; with ``--backend`` on a sampler (:mod:`qiskit_natural_qnn.cli.execution`);
with ``--emulate DEVICE`` on the fast path with the exact noise of the device's noise model
(:mod:`qiskit_natural_qnn.cli.emulation`, ``docs/device-noise.md``).
``--limit N`` keeps only the first N images of the set, ``--json`` prints one JSON object. Sampler
runs show progress bars over their jobs (and layers) with each job id on standard error unless
``--no-progress``; ``-v`` logs the submissions and results, ``-vv`` more.

Wire it into the main parser with ``add_evaluate_parser(subparsers)``; it sets ``handler=run_evaluate_command``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from qiskit_natural_qnn.cli.argtypes import positive_int
from qiskit_natural_qnn.cli.emulation import add_emulation_arguments, emulation_from_args
from qiskit_natural_qnn.cli.execution import add_backend_arguments, run_evaluate_on_backend
from qiskit_natural_qnn.cli.options import (
    add_data_dir_option,
    add_device_option,
    add_json_option,
    add_limit_option,
    add_logging_options,
    add_model_argument,
    add_no_progress_option,
    add_seed_option,
    add_shots_option,
    add_split_option,
)
from qiskit_natural_qnn.cli.runtime import choose_device, load_image_set
from qiskit_natural_qnn.exceptions import ConfigurationError
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
    add_no_progress_option(p)
    add_logging_options(p)
    add_backend_arguments(p)
    add_emulation_arguments(p, flag="--emulate", copies=False)
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
        if args.emulate is not None:
            raise ConfigurationError(
                f"--backend {args.backend} runs on a sampler and --emulate {args.emulate} emulates a device on the "
                "fast path; pass one of them"
            )
        return run_evaluate_on_backend(args, model, data)
    noise = emulation_from_args(args, model, flag="--emulate")
    ev = evaluate(model, data, shots=args.shots, seed=args.seed, batch_size=args.batch_size, noise=noise)
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
                    **({"noise": noise.describe()} if noise is not None else {}),
                }
            )
        )
    else:
        print(f"model: {args.model}: NaturalQNN({model.extra_repr()})")
        print(f"data: {data.name}, {ev.n_images} images")
        if noise is not None:
            print(f"noise: {noise.describe()}, exact on the fast path")
        print(f"single-shot error: {ev.single_shot_error:.4f}")
        print(f"majority-vote error ({ev.shots} shots): {ev.vote_error:.4f}")
    return 0
