"""The ``qnqnn`` command line (also ``python -m qiskit_natural_qnn``).

Subcommands:

* ``qnqnn train`` trains a network on MNIST and writes ``model.safetensors`` and ``history.json``
  into ``--out``, with a checkpoint in ``--out/checkpoint`` after every epoch (and every
  ``--checkpoint-every`` steps); ``--resume`` continues an interrupted run from it, bit for bit.
  The defaults are the paper's first network and recipe: 784-512-512-10 for 10
  epochs, SGD (lr 0.01, momentum 0.9, batch 64), on the embedded default split (train = MNIST test
  images 0-4999, validation = 5000-9999); ``--data-dir`` takes the full MNIST for the paper's split.
  The quantization defaults are the library's: ``--a 0`` and ``--g pi/2``, the classical network.
  ``--limit N`` keeps only the first N training and validation images (and ``evaluate`` images), for
  smoke tests.
* ``qnqnn evaluate MODEL`` prints the single-shot and majority-vote error of a saved model.
* ``qnqnn circuit MODEL --image N`` draws or exports a network's circuits
  (:mod:`qiskit_natural_qnn.cli.circuits`).

Angles (``--g``) accept plain numbers and simple multiples of pi: ``pi/4``, ``5*pi/19``, ``0.25pi``.

Every error of the library prints ``error: <message>`` on stderr and exits with status 2.

Adding a subcommand: write ``_add_<name>_parser(subparsers)`` that builds its parser and sets
``handler=<function taking the parsed arguments, returning an exit status>`` through ``set_defaults``,
and append it to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qiskit_natural_qnn.exceptions import ConfigurationError, NaturalQNNError
from qiskit_natural_qnn.neurons import STRETCH_KINDS, WEAK_UPDATES

__all__ = ["main", "build_parser", "parse_angle", "SUBCOMMANDS"]

_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_PI_EXPR = re.compile(
    rf"^\s*(?P<sign>[+-])?\s*(?:(?P<num>{_UNSIGNED})\s*(?P<op>[*/])?\s*)?(?:pi|π)"
    rf"(?:\s*/\s*(?P<den>{_UNSIGNED}))?\s*$",
    re.IGNORECASE,
)
_PLAIN = re.compile(rf"^\s*[+-]?{_UNSIGNED}\s*$")


def parse_angle(text: str) -> float:
    """Parse a real number or a simple multiple of pi, without ``eval``.

    Accepted forms: a number (``0.785``, ``1e-3``), and ``[number][*|/]pi[/number]``:
    ``pi``, ``pi/4``, ``5*pi/19``, ``5pi/19``, ``0.5*pi``, ``2/pi``, ``-pi/8``; ``π`` works like ``pi``.

    Raises:
        ValueError: anything else, a division by zero, or a result that is not finite.

    Example:
        >>> parse_angle("5*pi/19") == 5 * math.pi / 19, parse_angle("0.25")
        (True, 0.25)
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a string, got {type(text).__name__}")
    if _PLAIN.match(text):
        value = float(text)
    else:
        match = _PI_EXPR.match(text)
        if match is None:
            raise ValueError(
                f"cannot read {text!r} as an angle; write a number or a multiple of pi such as pi/4 or 5*pi/19"
            )
        sign, num, op, den = match.group("sign"), match.group("num"), match.group("op"), match.group("den")
        if num is None:
            value = math.pi
        elif op == "/":
            if float(num) == 0:
                raise ValueError(f"cannot read {text!r}: division by pi needs a number before it")
            value = float(num) / math.pi
        else:
            value = float(num) * math.pi
        if den is not None:
            if float(den) == 0:
                raise ValueError(f"cannot read {text!r}: division by zero")
            value /= float(den)
        if sign == "-":
            value = -value
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _angle(text: str) -> float:
    try:
        return parse_angle(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def int_argument(*, minimum: int = 1, auto: bool = False) -> Callable[[str], int | str]:
    """An argparse ``type`` for integers ``>= minimum`` (and the word ``auto`` when ``auto=True``)."""
    kinds = {0: "a non-negative integer", 1: "a positive integer"}
    kind = kinds.get(minimum, f"an integer >= {minimum}")
    expected = f"{kind} or 'auto'" if auto else kind

    def parse(text: str) -> int | str:
        if auto and text == "auto":
            return text
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = int_argument(minimum=1)


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_device(name: str) -> str:
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigurationError(f"invalid device {name!r} ({exc}); pass cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device {name!r} requested but CUDA is not available here; pass --device cpu")
    return str(device)


def _load_split(data_dir: str | None, train_size: int | None, limit: int | None) -> Any:
    """The train/validation split for ``train``/``evaluate``, cut to ``train_size`` and ``limit``."""
    from qiskit_natural_qnn.data import MNISTSplit, load_default, load_mnist, take

    if data_dir is not None:
        split = load_mnist(data_dir, train_size=train_size if train_size is not None else 5000)
    else:
        split = load_default()
        if train_size is not None:
            source = split.source + f"; first {train_size} training images"
            split = MNISTSplit(take(split.train, train_size), split.validation, source)
    if limit is not None:
        train = take(split.train, min(limit, len(split.train.labels)))
        validation = take(split.validation, min(limit, len(split.validation.labels)))
        split = MNISTSplit(train, validation, split.source + f"; limited to the first {limit} images of each set")
    return split


# --------------------------------------------------------------------------------------------- train
def _add_train_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a network on MNIST",
        description="Train a naturally quantized network and write model.safetensors and history.json into --out. "
        "Defaults: the paper's 784-512-512-10 network, 10 epochs, SGD lr 0.01 momentum 0.9 batch 64, "
        "classical neurons (a=0, g=pi/2), on the embedded default split.",
    )
    model = p.add_argument_group("model")
    model.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        default=[512, 512],
        metavar="N",
        help="hidden widths (default: 512 512, the paper's first network; 512 512 512 is its second)",
    )
    model.add_argument("--a", type=float, default=0.0, help="stretch a >= 0 (default 0: classical sign neurons)")
    model.add_argument("--stretch", choices=STRETCH_KINDS, default="tanh", help="stretch function (default tanh)")
    model.add_argument(
        "--g",
        type=_angle,
        default=math.pi / 2,
        help="entanglement angle in [0, pi/2], e.g. pi/4 or 5*pi/19 (default pi/2: projective)",
    )
    model.add_argument(
        "--weak-update",
        choices=WEAK_UPDATES,
        default="circuit",
        help="post-measurement state rule for g < pi/2 (default circuit)",
    )
    model.add_argument("--bias", action="store_true", help="add biases (off in the paper)")
    from qiskit_natural_qnn.native import add_native_arguments

    add_native_arguments(p.add_argument_group("hardware-native training (one exact dynamic circuit at any width)"))
    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    train.add_argument(
        "--shots", type=int, default=15, help="validation shots per image for the majority vote (default 15)"
    )
    train.add_argument("--eval-every", type=int, default=1, help="validate every this many epochs (default 1)")
    train.add_argument(
        "--seed", type=int, default=0, help="seed of the initialisation, shuffling and sampling (default 0)"
    )
    from qiskit_natural_qnn.training import add_recipe_options

    add_recipe_options(train)
    data = p.add_argument_group("data and output")
    data.add_argument(
        "--data-dir",
        default=None,
        help="folder with the full MNIST IDX files (paper split); default: the embedded subset",
    )
    data.add_argument(
        "--train-size", type=_positive_int, default=None, help="train on the first N training images (default: 5000)"
    )
    data.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="use only the first N training and validation images (smoke tests)",
    )
    data.add_argument("--out", default=None, help="output folder (default runs/<timestamp>)")
    data.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its checkpoint (same settings and data)",
    )
    data.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=None,
        metavar="STEPS",
        help="also checkpoint every STEPS optimizer steps (default: at the end of every epoch only)",
    )
    data.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    data.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available, else cpu)")
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from qiskit_natural_qnn.data import N_PIXELS
    from qiskit_natural_qnn.network import NaturalQNN
    from qiskit_natural_qnn.training import TrainConfig, fit, recipe_options

    if args.resume and not args.out:
        raise ConfigurationError("--resume continues the run in --out; pass the --out folder of the interrupted run")
    device = _check_device(args.device or _default_device())
    config = TrainConfig(
        epochs=args.epochs,
        eval_shots=args.shots,
        eval_every=args.eval_every,
        seed=args.seed,
        **recipe_options(args),
    )
    from qiskit_natural_qnn.native import native_setup_from_args

    sizes = [N_PIXELS, *args.hidden, 10]
    native = native_setup_from_args(args, layer_sizes=sizes)
    if native is None:
        model = NaturalQNN(
            layer_sizes=sizes,
            a=args.a,
            stretch=args.stretch,
            g=args.g,
            weak_update=args.weak_update,
            bias=args.bias,
            surrogate=args.surrogate,
            seed=args.seed,
        )
        step_hooks = []
    else:
        model, step_hooks = native.model, native.step_hooks
    model = model.to(device)
    split = _load_split(args.data_dir, args.train_size, args.limit)
    out = Path(args.out) if args.out else Path("runs") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    print(f"data: {split.source}")
    print(f"      train {len(split.train.labels)} images, validation {len(split.validation.labels)} images")
    print(f"model: NaturalQNN({model.extra_repr()})")
    print(f"device: {device}; output: {out}")
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
    )
    last = history.last_validated
    if last is not None:
        print(
            f"validation after epoch {last.epoch}: single-shot error {last.val_single_shot_error:.4f}, "
            f"majority-vote error ({config.eval_shots} shots) {last.val_vote_error:.4f}"
        )
    if native is not None:
        from qiskit_natural_qnn.circuits.exactness import check_exact

        print(f"hardware-native ({native.kind}, surrogate {model.surrogate}): single dynamic circuit")
        print(check_exact(model, "linear").explain())
    print(f"wrote {out / 'model.safetensors'} and {out / 'history.json'}")
    return 0


# ------------------------------------------------------------------------------------------ evaluate
def _add_evaluate_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="single-shot and majority-vote error of a saved model",
        description="Evaluate a model file on MNIST: the average single-shot error and the majority-vote "
        "error over --shots passes per image (ties -> smallest class index).",
    )
    p.add_argument("model", help="a model.safetensors file written by qnqnn train or save_model")
    p.add_argument("--shots", type=int, default=15, help="passes per image (default 15)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shots (default 0)")
    p.add_argument(
        "--data-dir", default=None, help="folder with the full MNIST IDX files; default: the embedded subset"
    )
    p.add_argument(
        "--split", choices=["validation", "train"], default="validation", help="which set (default validation)"
    )
    p.add_argument("--batch-size", type=_positive_int, default=1024, help="images per batch (default 1024)")
    p.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="use only the first N images of each set (quick runs, hardware budgets)",
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available, else cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    from qiskit_natural_qnn.cli.execution import add_backend_arguments  # light: samplers load only when used

    add_backend_arguments(p)
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from qiskit_natural_qnn.inference import evaluate
    from qiskit_natural_qnn.io import load_model

    device = _check_device(args.device or _default_device())
    model = load_model(args.model, device=device)
    split = _load_split(args.data_dir, None, args.limit)
    data = split.train if args.split == "train" else split.validation
    if args.backend is not None:
        from qiskit_natural_qnn.cli.execution import run_evaluate_on_backend

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


# ------------------------------------------------------------------------------------------- circuit
def _add_circuit_parser(subparsers: Any) -> None:
    from qiskit_natural_qnn.cli.circuits import add_circuit_parser  # imports Qiskit; kept out of module import

    add_circuit_parser(subparsers)


# ----------------------------------------------------------------------------------------------- main
#: One parser builder per subcommand; each sets ``handler`` through ``set_defaults``.
# ---------------------------------------------------------------------------- paper experiments
def _add_sweep_parser(subparsers: Any) -> None:
    from qiskit_natural_qnn.cli.experiments import add_sweep_parser

    add_sweep_parser(subparsers)


def _add_noise_sweep_parser(subparsers: Any) -> None:
    from qiskit_natural_qnn.cli.hardware import add_noise_sweep_parser

    add_noise_sweep_parser(subparsers)


def _add_borderline_parser(subparsers: Any) -> None:
    from qiskit_natural_qnn.cli.hardware import add_borderline_parser

    add_borderline_parser(subparsers)


def _add_estimate_parser(subparsers: Any) -> None:
    from qiskit_natural_qnn.cli.hardware import add_estimate_parser

    add_estimate_parser(subparsers)


SUBCOMMANDS: list[Callable[[Any], Any]] = [
    _add_train_parser,
    _add_evaluate_parser,
    _add_circuit_parser,
    _add_sweep_parser,
    _add_noise_sweep_parser,
    _add_borderline_parser,
    _add_estimate_parser,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``qnqnn`` argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="qnqnn",
        description="Naturally quantized neural networks (Barney, Lakhdar-Hamina, Galitski 2025).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``qnqnn`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Returns:
        0 on success, 2 for a library error (printed as ``error: <message>`` on stderr), 130 when
        interrupted. Usage errors exit through :mod:`argparse` with status 2.
    """
    return run_handler(build_parser().parse_args(argv))


def run_handler(args: argparse.Namespace) -> int:
    """Run a parsed subcommand: library errors print ``error: <message>`` and give 2, Ctrl-C gives 130."""
    try:
        return int(args.handler(args))
    except NaturalQNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
