"""The options several ``qnqnn`` subcommands share, each defined once here.

Every ``add_*`` function adds one option (or one family: the training recipe, hardware-native
training) to a parser or an argument group; a subcommand passes its own default and help text where
the option means something specific to it (``--shots`` are validation shots for ``train``, passes per
image for ``evaluate``). :func:`recipe_options` and :func:`native_setup_from_args` turn the parsed
values into what the library takes; :func:`configure_logging` sends the library's :mod:`logging`
records to standard error at the level of :func:`add_logging_options`. Argument types are in
:mod:`qiskit_natural_qnn.cli.argtypes`.

Example:
    >>> p = argparse.ArgumentParser(prog="qnqnn demo")
    >>> add_device_option(p)
    >>> add_hidden_option(p, default=[16, 16], help="hidden widths (default 16 16)")
    >>> add_shots_option(p, default=15, help="passes per image (default 15)")
    >>> args = p.parse_args(["--hidden", "8", "8", "8"])
    >>> args.device, args.hidden, args.shots
    (None, [8, 8, 8], 15)
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from tqdm import tqdm

from qiskit_natural_qnn.cli.argtypes import angle, count_or_auto, float_list, positive_int
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.native import NATIVE_KINDS, NativeSetup, native_config
from qiskit_natural_qnn.neurons import STRETCH_KINDS, WEAK_UPDATES
from qiskit_natural_qnn.surrogates import SURROGATES
from qiskit_natural_qnn.training import SCHEDULES, TrainConfig

__all__ = [
    "OptionTarget",
    "add_a_option",
    "add_a_values_option",
    "add_copies_option",
    "add_data_dir_option",
    "add_device_option",
    "add_epochs_option",
    "add_eval_every_option",
    "add_g_option",
    "add_gate_option",
    "add_hidden_option",
    "add_holdout_option",
    "add_json_option",
    "LOG_LEVELS",
    "add_limit_option",
    "add_logging_options",
    "add_model_argument",
    "add_native_arguments",
    "add_no_progress_option",
    "add_optimization_level_option",
    "add_recipe_options",
    "add_seed_option",
    "add_shots_option",
    "add_split_option",
    "add_stretch_option",
    "add_surrogate_option",
    "add_train_size_option",
    "add_weak_update_option",
    "configure_logging",
    "log_level",
    "native_setup_from_args",
    "recipe_options",
]


class OptionTarget(Protocol):
    """Where options go: an :class:`argparse.ArgumentParser` or one of its argument groups."""

    def add_argument(self, *name_or_flags: str, **kwargs: Any) -> argparse.Action:
        """Add one argument (see :meth:`argparse.ArgumentParser.add_argument`)."""
        ...


# ------------------------------------------------------------------------------------- model and data
def add_model_argument(parser: OptionTarget) -> None:
    """Add the positional ``MODEL``: a model file written by ``qnqnn train`` or ``save_model``."""
    parser.add_argument("model", metavar="MODEL", help="a model.safetensors file written by qnqnn train or save_model")


def add_data_dir_option(parser: OptionTarget) -> None:
    """Add ``--data-dir``: the folder of the full MNIST (the paper's split); default: the embedded subset."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the full MNIST IDX files (the paper's split); default: the embedded subset",
    )


def add_train_size_option(parser: OptionTarget) -> None:
    """Add ``--train-size``: train on the first N training images."""
    parser.add_argument(
        "--train-size", type=positive_int, default=None, help="train on the first N training images (default: 5000)"
    )


def add_limit_option(
    parser: OptionTarget,
    *,
    default: int | None = None,
    help: str = "use only the first N training and validation images (smoke tests)",
) -> None:
    """Add ``--limit``: at most N images (of each set, or reported: the subcommand's ``help`` says which)."""
    parser.add_argument("--limit", type=positive_int, default=default, help=help)


def add_holdout_option(parser: OptionTarget) -> None:
    """Add ``--holdout N``: validate on the last N training images and train on the others (choosing options)."""
    parser.add_argument(
        "--holdout",
        type=positive_int,
        default=None,
        metavar="N",
        help="validate on the last N training images (after --train-size and --limit) and train on the others, "
        "so that options are chosen without the validation set (e.g. 1000 of 5000)",
    )


def add_split_option(parser: OptionTarget) -> None:
    """Add ``--split``: the validation (default) or the training set."""
    parser.add_argument(
        "--split", choices=["validation", "train"], default="validation", help="image set (default validation)"
    )


def add_device_option(parser: OptionTarget) -> None:
    """Add ``--device``: the torch device (read it with :func:`~qiskit_natural_qnn.cli.runtime.choose_device`)."""
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available, else cpu)")


def add_json_option(parser: OptionTarget) -> None:
    """Add ``--json``: print one JSON document instead of text."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_no_progress_option(parser: OptionTarget) -> None:
    """Add ``--no-progress``: hide the progress bars."""
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


#: The levels of ``--log-level``.
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")


def add_logging_options(parser: OptionTarget) -> None:
    """Add ``-v/--verbose`` (repeatable) and ``--log-level``: how much of the library's log goes to standard error.

    Read them with :func:`configure_logging`. Default: warnings and errors only; ``-v``: INFO (job
    submissions and results with their ids, the execution chosen); ``-vv`` or ``--log-level debug``:
    DEBUG (seeds, circuit sizes, ISA checks). ``--log-level`` wins over ``-v``.

    Example:
        >>> p = argparse.ArgumentParser()
        >>> add_logging_options(p)
        >>> args = p.parse_args(["-vv"])
        >>> args.verbose, args.log_level
        (2, None)
    """
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what the library does to standard error: -v job submissions and results, -vv details",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help="log level of the library's messages on standard error (default warning; overrides -v)",
    )


def log_level(args: argparse.Namespace) -> int:
    """The :mod:`logging` level that :func:`add_logging_options` asks for (WARNING when ``args`` lacks them).

    Example:
        >>> log_level(argparse.Namespace(verbose=1, log_level=None)) == logging.INFO
        True
        >>> log_level(argparse.Namespace(verbose=2, log_level="error")) == logging.ERROR
        True
        >>> log_level(argparse.Namespace()) == logging.WARNING
        True
    """
    name = getattr(args, "log_level", None)
    if name is not None:
        return int(getattr(logging, str(name).upper()))
    verbose = int(getattr(args, "verbose", 0) or 0)
    return logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING


class _TqdmHandler(logging.Handler):
    """Writes log records to standard error through ``tqdm.write``, so that they do not break the progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)  # the stderr of the moment (tests replace it)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def configure_logging(args: argparse.Namespace) -> int:
    """Send the ``qiskit_natural_qnn`` loggers' records to standard error at the level :func:`add_logging_options` asks.

    Safe to call more than once: the handler it installed before is replaced. Records still
    propagate to the root logger.

    Returns:
        The level set (:func:`log_level`).
    """
    level = log_level(args)
    logger = logging.getLogger("qiskit_natural_qnn")
    for old in [h for h in logger.handlers if isinstance(h, _TqdmHandler)]:
        logger.removeHandler(old)
    handler = _TqdmHandler()
    detail = (
        "%(asctime)s %(levelname)s %(name)s: %(message)s" if level < logging.WARNING else "%(levelname)s: %(message)s"
    )
    handler.setFormatter(logging.Formatter(detail, datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return int(level)


# ---------------------------------------------------------------------------------------- the network
def add_hidden_option(parser: OptionTarget, *, default: Sequence[int], help: str) -> None:
    """Add ``--hidden N [N ...]``: the hidden widths."""
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=list(default), metavar="N", help=help)


def add_a_option(parser: OptionTarget, *, help: str) -> None:
    """Add ``--a``: the stretch ``a >= 0`` (default 0, classical sign neurons)."""
    parser.add_argument("--a", type=float, default=0.0, help=help)


def add_g_option(parser: OptionTarget, *, help: str) -> None:
    """Add ``--g``: the entanglement angle, a number or a multiple of pi (default pi/2, projective)."""
    parser.add_argument("--g", type=angle, default=math.pi / 2, help=help)


def add_stretch_option(parser: OptionTarget) -> None:
    """Add ``--stretch``: the stretch function ``f_a``."""
    parser.add_argument("--stretch", choices=STRETCH_KINDS, default="tanh", help="stretch function (default tanh)")


def add_weak_update_option(parser: OptionTarget) -> None:
    """Add ``--weak-update``: the post-measurement state rule for ``g < pi/2``."""
    parser.add_argument(
        "--weak-update",
        choices=WEAK_UPDATES,
        default="circuit",
        help="post-measurement state rule for g < pi/2 (default circuit)",
    )


def add_surrogate_option(parser: OptionTarget) -> None:
    """Add ``--surrogate``: the training pseudo-gradient."""
    parser.add_argument(
        "--surrogate",
        choices=SURROGATES,
        default="hardtanh",
        help="training pseudo-gradient: hardtanh (the paper's unit-scale straight-through estimator, default) "
        "or expected (derivative of the neuron's expected activation; needs a > 0)",
    )


# ------------------------------------------------------------------------------------------- training
def add_epochs_option(parser: OptionTarget, *, default: int) -> None:
    """Add ``--epochs`` (checked by :class:`~qiskit_natural_qnn.training.TrainConfig`: an error names the fix)."""
    parser.add_argument("--epochs", type=int, default=default, help=f"epochs (default {default})")


def add_eval_every_option(parser: OptionTarget, *, default: int, help: str) -> None:
    """Add ``--eval-every``: validate every this many epochs (checked by ``TrainConfig``)."""
    parser.add_argument("--eval-every", type=int, default=default, help=help)


def add_recipe_options(parser: OptionTarget) -> None:
    """Add the training-recipe options shared by ``qnqnn train`` and ``qnqnn sweep`` to a parser or group.

    ``--lr``, ``--momentum``, ``--batch-size``, ``--weight-decay`` and ``--schedule`` default to the
    paper's recipe (:class:`~qiskit_natural_qnn.training.TrainConfig`); ``--train-shots`` and
    ``--average-from`` are options beyond it (off by default). :func:`recipe_options` turns the parsed
    values into ``TrainConfig`` keyword arguments, which ``TrainConfig`` validates.

    Example:
        >>> p = argparse.ArgumentParser()
        >>> add_recipe_options(p)
        >>> options = recipe_options(p.parse_args(["--train-shots", "4", "--average-from", "51"]))
        >>> sorted(options.items())[:4]
        [('average_from', 51), ('batch_size', 64), ('lr', 0.01), ('momentum', 0.9)]
        >>> options["schedule"], options["train_shots"], options["weight_decay"]
        (None, 4, 0.0)
    """
    defaults = TrainConfig()
    parser.add_argument("--lr", type=float, default=defaults.lr, help=f"SGD learning rate (default {defaults.lr})")
    parser.add_argument(
        "--momentum", type=float, default=defaults.momentum, help=f"SGD momentum (default {defaults.momentum})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help=f"mini-batch size (default {defaults.batch_size})"
    )
    parser.add_argument(
        "--weight-decay", type=float, default=defaults.weight_decay, help="L2 weight decay (default 0, the paper)"
    )
    parser.add_argument(
        "--schedule",
        choices=["none", *SCHEDULES],
        default="none",
        help="learning-rate schedule (default none, the paper; cosine is an option)",
    )
    parser.add_argument(
        "--train-shots",
        type=int,
        default=1,
        metavar="K",
        help="stochastic passes per training image and step, loss averaged (default 1, the paper)",
    )
    parser.add_argument(
        "--average-from",
        type=int,
        default=None,
        metavar="EPOCH",
        help="average the weights of every epoch from EPOCH on (stochastic weight averaging) and keep "
        "the average as the model; validations from then on use it (default: off, the paper)",
    )


def recipe_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~qiskit_natural_qnn.training.TrainConfig` keyword arguments of :func:`add_recipe_options`."""
    return {
        "lr": args.lr,
        "momentum": args.momentum,
        "batch_size": args.batch_size,
        "weight_decay": args.weight_decay,
        "schedule": None if args.schedule == "none" else args.schedule,
        "train_shots": args.train_shots,
        "average_from": args.average_from,
    }


def add_native_arguments(parser: OptionTarget) -> None:
    """Add ``--native``, ``--surrogate`` and ``--l1-margin`` (hardware-native training) to a parser or group.

    Example:
        >>> p = argparse.ArgumentParser()
        >>> add_native_arguments(p)
        >>> args = p.parse_args(["--native", "hardtanh-l1", "--surrogate", "expected"])
        >>> args.native, args.surrogate, args.l1_margin
        ('hardtanh-l1', 'expected', 0.0)
    """
    parser.add_argument(
        "--native",
        choices=NATIVE_KINDS,
        default=None,
        help="train a hardware-native network whose single dynamic circuit (linear construction) is exact "
        "at any width: 'linear' (stretch z/a, unclipped) or 'hardtanh-l1' (hardtanh, every row of hidden "
        "layers 2..L projected onto the L1 ball of radius a after each step); sets --stretch; needs --a > 0",
    )
    add_surrogate_option(parser)
    parser.add_argument(
        "--l1-margin",
        type=float,
        default=0.0,
        help="with --native hardtanh-l1: keep rows at L1 norm a (1 - margin) (default 0)",
    )


def native_setup_from_args(args: argparse.Namespace, *, layer_sizes: Sequence[int]) -> NativeSetup | None:
    """The :class:`~qiskit_natural_qnn.native.NativeSetup` that ``--native KIND`` asks for, or None without it.

    Reads ``native``, ``surrogate``, ``l1_margin``, ``a``, ``stretch``, ``g``, ``weak_update``,
    ``bias`` and ``seed`` from ``args`` and calls :func:`~qiskit_natural_qnn.native.native_config`.

    Raises:
        ConfigurationError: ``--l1-margin`` without ``--native hardtanh-l1``, every error of
            ``native_config``, and ``--stretch`` other than the default ``tanh`` or the kind's own
            stretch (``--native`` sets it).

    Example:
        >>> ns = argparse.Namespace(native="linear", surrogate="expected", l1_margin=0.0, a=1.0,
        ...                         stretch="tanh", g=math.pi / 2, weak_update="circuit", bias=False, seed=0)
        >>> native_setup_from_args(ns, layer_sizes=[784, 16, 16, 16, 10]).model.spec.stretch
        'linear'
    """
    kind = getattr(args, "native", None)
    margin = float(getattr(args, "l1_margin", 0.0) or 0.0)
    if kind is None:
        if margin != 0.0:
            raise ConfigurationError(
                f"--l1-margin applies to --native hardtanh-l1, got --l1-margin {margin} without --native"
            )
        return None
    setup = native_config(
        kind=kind,
        layer_sizes=layer_sizes,
        a=args.a,
        surrogate=getattr(args, "surrogate", "hardtanh"),
        margin=margin,
        g=getattr(args, "g", math.pi / 2),
        weak_update=getattr(args, "weak_update", "circuit"),
        bias=bool(getattr(args, "bias", False)),
        seed=getattr(args, "seed", None),
    )
    own = setup.model.spec.stretch  # the kind's stretch, as native_config set it
    stretch = getattr(args, "stretch", None)
    if stretch not in (None, "tanh", own):
        raise ConfigurationError(
            f"--native {kind} sets the stretch to {own!r}, got --stretch {stretch}; drop --stretch"
        )
    return setup


# ---------------------------------------------------------------------------------- shots and seeds
def add_shots_option(parser: OptionTarget, *, default: int, help: str) -> None:
    """Add ``--shots``: a positive number of passes (what they are for: the subcommand's ``help``)."""
    parser.add_argument("--shots", type=positive_int, default=default, help=help)


def add_seed_option(parser: OptionTarget, *, help: str) -> None:
    """Add ``--seed`` (default 0): every run is reproducible."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_a_values_option(parser: OptionTarget, *, default: list[float] | None, help: str) -> None:
    """Add ``--a-values LIST``: comma-separated stretches, read at once."""
    parser.add_argument("--a-values", type=float_list, default=default, metavar="LIST", help=help)


# ------------------------------------------------------------------------------- circuits on devices
def add_optimization_level_option(parser: OptionTarget) -> None:
    """Add ``--optimization-level`` (0-3, default 1): the Qiskit transpiler's."""
    parser.add_argument(
        "--optimization-level",
        type=int,
        choices=[0, 1, 2, 3],
        default=1,
        help="transpiler optimization level (default 1; IonQ: at most 1)",
    )


def add_copies_option(parser: OptionTarget, *, default: int | str) -> None:
    """Add ``--copies``: copies of a layer circuit side by side per circuit, or ``auto``."""
    parser.add_argument(
        "--copies",
        type=count_or_auto,
        default=default,
        help=f"layer-by-layer runs: copies of a layer circuit side by side per circuit, or auto (default {default})",
    )


def add_gate_option(parser: OptionTarget) -> None:
    """Add ``--gate``: the gate of the injected identity pairs."""
    parser.add_argument(
        "--gate",
        choices=["sx", "cz"],
        default="sx",
        help="identity-pair gate: sx (SX SXdg on each neuron) or cz (CZ CZ on neighbouring neurons) (default sx)",
    )
