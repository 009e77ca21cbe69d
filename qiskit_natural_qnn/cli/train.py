"""The ``qnqnn train`` subcommand: train a network on MNIST with the fast path.

It writes ``model.safetensors``, ``history.json`` and ``learning_curve.png`` (the loss and the
training and validation errors per epoch; it needs Matplotlib, the ``[plot]`` extra: without it the
command logs how to get it and writes the rest) into ``--out``, with a checkpoint in
``--out/checkpoint`` after every epoch (and every ``--checkpoint-every`` steps); ``--resume``
continues an interrupted run from it, bit for bit. An ``--out`` that already holds a run is refused
unless ``--resume`` continues it or ``--overwrite`` replaces it. The defaults are the paper's first network and
recipe (arXiv:2503.15482; docs/model.md, "Training"): 784-512-512-10 for 10 epochs, SGD (lr 0.01,
momentum 0.9, batch 64), on the embedded default split (train = MNIST test images 0-4999,
validation = 5000-9999); ``--data-dir`` takes the full MNIST for the paper's split. The
quantization defaults are the library's: ``--a 0`` and ``--g pi/2``, the classical network.
``--limit N`` keeps only the first N training and validation images, for smoke tests.
``--native KIND`` trains a hardware-native network (:mod:`qiskit_natural_qnn.native`). ``--noise DEVICE``
trains for a device: every pass samples its noise model, emulated exactly (``docs/device-noise.md``).

Wire it into the main parser with ``add_train_parser(subparsers)``; it sets ``handler=run_train_command``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiskit_natural_qnn.circuits.exactness import check_exact
from qiskit_natural_qnn.cli.argtypes import positive_int
from qiskit_natural_qnn.cli.emulation import add_emulation_arguments, emulation_from_args
from qiskit_natural_qnn.cli.options import (
    add_a_option,
    add_data_dir_option,
    add_device_option,
    add_epochs_option,
    add_eval_every_option,
    add_g_option,
    add_hidden_option,
    add_limit_option,
    add_logging_options,
    add_native_arguments,
    add_no_progress_option,
    add_recipe_options,
    add_seed_option,
    add_shots_option,
    add_stretch_option,
    add_train_size_option,
    add_weak_update_option,
    native_setup_from_args,
    recipe_options,
)
from qiskit_natural_qnn.cli.runtime import choose_device, load_split
from qiskit_natural_qnn.data import N_PIXELS, MNISTSplit
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.io.files import check_output_path, remove_stale_temporaries
from qiskit_natural_qnn.native import NativeSetup
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.optional import MissingExtraError, require
from qiskit_natural_qnn.training import History, TrainConfig, fit

__all__ = ["LEARNING_CURVE", "RUN_FILES", "add_train_parser", "run_train_command", "write_learning_curve"]

_LOG = logging.getLogger(__name__)

#: The files of a run in ``--out``: an ``--out`` holding any of them holds a run.
RUN_FILES = ("model.safetensors", "history.json", "checkpoint/checkpoint.safetensors")

#: The learning curve's file in ``--out``, beside ``history.json``.
LEARNING_CURVE = "learning_curve.png"


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``subparsers`` (sets ``handler=run_train_command``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="qnqnn")
        >>> _ = add_train_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["train", "--hidden", "16", "--g", "pi/4", "--native", "linear", "--a", "1"])
        >>> args.hidden, round(args.g, 4), args.native, args.epochs, args.lr
        ([16], 0.7854, 'linear', 10, 0.01)
    """
    p = subparsers.add_parser(
        "train",
        help="train a network on MNIST",
        description="Train a naturally quantized network and write model.safetensors, history.json and "
        "learning_curve.png (with the [plot] extra) into --out. "
        "Defaults: the paper's 784-512-512-10 network, 10 epochs, SGD lr 0.01 momentum 0.9 batch 64, "
        "classical neurons (a=0, g=pi/2), on the embedded default split.",
    )
    model = p.add_argument_group("model")
    add_hidden_option(
        model,
        default=[512, 512],
        help="hidden widths (default: 512 512, the paper's first network; 512 512 512 is its second)",
    )
    add_a_option(model, help="stretch a >= 0 (default 0: classical sign neurons)")
    add_stretch_option(model)
    add_g_option(model, help="entanglement angle in [0, pi/2], e.g. pi/4 or 5*pi/19 (default pi/2: projective)")
    add_weak_update_option(model)
    model.add_argument("--bias", action="store_true", help="add biases (off in the paper)")
    add_native_arguments(p.add_argument_group("hardware-native training (one exact dynamic circuit at any width)"))
    train = p.add_argument_group("training")
    add_epochs_option(train, default=10)
    add_shots_option(train, default=15, help="validation shots per image for the majority vote (default 15)")
    add_eval_every_option(train, default=1, help="validate every this many epochs (default 1)")
    add_seed_option(train, help="seed of the initialisation, shuffling and sampling (default 0)")
    add_recipe_options(train)
    data = p.add_argument_group("data and output")
    add_data_dir_option(data)
    add_train_size_option(data)
    add_limit_option(data)
    data.add_argument("--out", default=None, help="output folder (default runs/<timestamp>)")
    data.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its checkpoint (same settings and data)",
    )
    data.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (its model, history and checkpoint are deleted first)",
    )
    data.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=None,
        metavar="STEPS",
        help="also checkpoint every STEPS optimizer steps (default: at the end of every epoch only)",
    )
    add_no_progress_option(data)
    add_logging_options(data)
    add_device_option(data)
    add_emulation_arguments(p, flag="--noise", copies=True)
    p.set_defaults(handler=run_train_command)
    return p


def _model(
    args: argparse.Namespace, layer_sizes: list[int]
) -> tuple[NaturalQNN, list[Callable[[NaturalQNN], None]], NativeSetup | None]:
    """The network to train, the hooks that keep it hardware-native (if ``--native``), and that setup."""
    native = native_setup_from_args(args, layer_sizes=layer_sizes)
    if native is not None:
        return native.model, native.step_hooks, native
    model = NaturalQNN(
        layer_sizes=layer_sizes,
        a=args.a,
        stretch=args.stretch,
        g=args.g,
        weak_update=args.weak_update,
        bias=args.bias,
        surrogate=args.surrogate,
        seed=args.seed,
    )
    return model, [], None


def _print_plan(split: MNISTSplit, model: NaturalQNN, device: str, out: Path) -> None:
    print(f"data: {split.source}")
    print(f"      train {len(split.train.labels)} images, validation {len(split.validation.labels)} images")
    print(f"model: NaturalQNN({model.extra_repr()})")
    print(f"device: {device}; output: {out}")


def write_learning_curve(history: History, out: Path) -> Path | None:
    """Write the run's learning curve as ``out/learning_curve.png``; return its path, or None without Matplotlib.

    The figure is :func:`~qiskit_natural_qnn.experiments.plots.plot_learning_curve`, written
    atomically (:func:`~qiskit_natural_qnn.experiments.plots.save_figure`). Matplotlib comes with the
    ``[plot]`` extra, which ``pip install qiskit-natural-qnn`` does not install: without it, one
    warning says how to get it, and training still succeeds.
    """
    try:
        require("matplotlib", extra="plot")
    except MissingExtraError as exc:
        _LOG.warning(
            "%s not written (%s); then draw it from history.json with "
            "qiskit_natural_qnn.experiments.plots.plot_learning_curve",
            out / LEARNING_CURVE,
            exc,
        )
        return None
    from qiskit_natural_qnn.experiments.plots import plot_learning_curve, save_figure  # the [plot] extra

    return save_figure(plot_learning_curve(history), out / LEARNING_CURVE)


def _print_result(
    history: History, config: TrainConfig, model: NaturalQNN, native: NativeSetup | None, out: Path
) -> None:
    last = history.last_validated
    if last is not None:
        print(
            f"validation after epoch {last.epoch}: single-shot error {last.val_single_shot_error:.4f}, "
            f"majority-vote error ({config.eval_shots} shots) {last.val_vote_error:.4f}"
        )
    if native is not None:
        print(f"hardware-native ({native.kind}, surrogate {model.surrogate}): single dynamic circuit")
        print(check_exact(model, "linear").explain())
    curve = write_learning_curve(history, out)
    extra = f" and {curve}" if curve is not None else ""
    print(f"wrote {out / 'model.safetensors'}, {out / 'history.json'}{extra}")


def _check_out(out: Path, *, resume: bool, overwrite: bool) -> list[str]:
    """Check ``--out`` before any work and return the run files it holds (never replaced silently).

    Raises:
        ConfigurationError: ``out`` is not a writable folder, or holds a run and neither ``resume``
            nor ``overwrite`` is set, or both are set.
    """
    if resume and overwrite:
        raise ConfigurationError("--resume continues the run in --out and --overwrite replaces it; pass one of them")
    check_output_path(out, kind="dir", option="--out")
    found = [name for name in RUN_FILES if (out / name).exists() or (out / name).is_symlink()]
    if found and not resume and not overwrite:
        raise ConfigurationError(
            f"--out {str(out)!r} already holds a run ({', '.join(found)}); pass --resume to continue it, "
            "--overwrite to replace it, or another --out"
        )
    return found


def _clear_out(out: Path, found: list[str], *, resume: bool) -> None:
    """Delete the run files ``found`` (``--overwrite``) and the leftovers of killed writes in ``out``."""
    if found and not resume:
        for name in found:
            (out / name).unlink()
        print(f"--overwrite: deleted {', '.join(found)} in {out}")
    remove_stale_temporaries(out)
    remove_stale_temporaries(out / "checkpoint")


def run_train_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn train`` with parsed arguments; return the exit status (0 on success).

    Raises:
        NaturalQNNError: any library error (bad recipe, device, data folder, checkpoint, an ``--out``
            that already holds a run without ``--resume`` or ``--overwrite``); ``qnqnn``'s ``main``
            prints it and exits with status 2.
    """
    if args.resume and not args.out:
        raise ConfigurationError("--resume continues the run in --out; pass the --out folder of the interrupted run")
    out = Path(args.out) if args.out else Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    found = _check_out(out, resume=args.resume, overwrite=getattr(args, "overwrite", False))
    device = choose_device(args.device)
    config = TrainConfig(
        epochs=args.epochs,
        eval_shots=args.shots,
        eval_every=args.eval_every,
        seed=args.seed,
        **recipe_options(args),
    )
    model, step_hooks, native = _model(args, [N_PIXELS, *args.hidden, 10])
    model = model.to(device)
    split = load_split(args.data_dir, train_size=args.train_size, limit=args.limit)
    _print_plan(split, model, device, out)
    noise = emulation_from_args(args, model, flag="--noise")
    if noise is not None:
        print(f"noise: {noise.describe()}: every training and validation pass samples it (docs/device-noise.md)")
    _clear_out(out, found, resume=args.resume)
    history = fit(
        model,
        split.train,
        split.validation,
        config=config,
        progress=not args.no_progress,
        out_dir=out,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        step_hooks=step_hooks,
        noise=noise,
    )
    _print_result(history, config, model, native, out)
    return 0
