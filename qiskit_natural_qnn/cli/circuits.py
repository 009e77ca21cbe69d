"""The ``qnqnn circuit`` subcommand: draw or export a trained network's circuits for one image.

::

    qnqnn circuit MODEL --image N [--mode layers|dynamic|deferred] [--construction linear|lookup|auto]
                        [--format text|png|qasm3] [--backend NAME] [--output PATH] [--reuse-qubits]

``MODEL`` is a file written by :func:`qiskit_natural_qnn.io.save_model`; image ``N`` comes from the
default validation set (:func:`qiskit_natural_qnn.data.load_default`). The first layer's angles are
bound for that image; in ``layers`` mode the later layer circuits keep their parameters (the host
computes them from the measured bits at run time). With ``--backend`` the circuits are checked
against the target's rules and, for a device (``aer``, ``ionq``, ``ionq_forte``,
``fake_sherbrooke``...), transpiled for it; ``ibm`` and ``static`` check the rules only. The
exactness report goes to stderr, the drawing or program to stdout or ``--output``. In ``layers``
mode with ``--output``, one file per layer is written (``PATH`` with ``_h1``, ``_h2``... before
the suffix).

Wire it into the main parser with ``add_circuit_parser(subparsers)``; it sets
``handler=run_circuit_command``.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from qiskit_natural_qnn.circuits.angles import input_angles
from qiskit_natural_qnn.circuits.deferred import deferred_circuit
from qiskit_natural_qnn.circuits.dynamic import bind_inputs, dynamic_circuit
from qiskit_natural_qnn.circuits.exactness import check_exact
from qiskit_natural_qnn.circuits.layers import bind_layer, layer_circuits
from qiskit_natural_qnn.circuits.qasm import to_qasm3
from qiskit_natural_qnn.cli.argtypes import non_negative_int
from qiskit_natural_qnn.cli.options import add_model_argument
from qiskit_natural_qnn.data import load_default
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.io import load_model
from qiskit_natural_qnn.io.files import write_atomic
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.transpile.targets import transpile_for_target, validate_for_target

__all__ = ["add_circuit_parser", "run_circuit_command"]

_MODES = ("layers", "dynamic", "deferred")
_FORMATS = ("text", "png", "qasm3")


def add_circuit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``circuit`` subcommand to ``subparsers`` (sets ``handler=run_circuit_command``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="qnqnn")
        >>> _ = add_circuit_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["circuit", "model.safetensors", "--image", "3", "--mode", "deferred"])
        >>> args.image, args.mode, args.construction, args.format
        (3, 'deferred', 'auto', 'text')
    """
    p = subparsers.add_parser(
        "circuit",
        help="draw or export a trained network's circuits for one validation image",
        description=(
            "Build the Qiskit circuits of a saved network for one image of the default validation set: "
            "one circuit per hidden layer (layers), one dynamic circuit (dynamic), or the static "
            "deferred-measurement circuit (deferred). Single circuits are built only when exact."
        ),
    )
    add_model_argument(p)
    p.add_argument("--image", type=non_negative_int, required=True, metavar="N", help="validation image index")
    p.add_argument("--mode", choices=_MODES, default="dynamic", help="which circuits (default: dynamic)")
    p.add_argument(
        "--construction",
        choices=("linear", "lookup", "auto"),
        default="auto",
        help="feedforward of the dynamic circuit (default: auto = linear when exact, else lookup)",
    )
    p.add_argument("--format", choices=_FORMATS, default="text", help="output format (default: text)")
    p.add_argument(
        "--backend",
        metavar="NAME",
        help="check (ibm, static) or check and transpile (aer, ionq, ionq_forte, fake_sherbrooke, ...) for a target",
    )
    p.add_argument("--output", metavar="PATH", help="write here instead of stdout (required for png)")
    p.add_argument("--reuse-qubits", action="store_true", help="dynamic mode: reset and reuse qubits between layers")
    p.set_defaults(handler=run_circuit_command)
    return p


def _circuits(model: NaturalQNN, x: Any, args: argparse.Namespace) -> tuple[list[Any], str]:
    """The circuits of ``--mode`` for image ``x``, first-layer angles bound, and the exactness report."""
    if args.mode != "dynamic" and args.reuse_qubits:
        raise ConfigurationError(f"--reuse-qubits applies to --mode dynamic only, got --mode {args.mode}")
    if args.mode == "layers":
        if args.construction != "auto":
            raise ConfigurationError(
                f"--construction {args.construction} applies to --mode dynamic; layer circuits feed forward on the host"
            )
        layers = layer_circuits(model)
        first = bind_layer(layers[0], input_angles(model, x))[0]
        return [first, *(lc.circuit for lc in layers[1:])], check_exact(model, "layers").explain()
    if args.mode == "deferred":
        if args.construction == "lookup":
            raise ConfigurationError("the deferred circuit uses the linear construction; drop --construction lookup")
        nc = deferred_circuit(model)
    else:
        nc = dynamic_circuit(model, construction=args.construction, reuse_qubits=args.reuse_qubits)
    return bind_inputs(nc, model=model, x=x), nc.exactness.explain()


def _paths(output: str, count: int) -> list[Path]:
    path = Path(output)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}_h{k}{path.suffix}") for k in range(1, count + 1)]


def _check_target(circuits: list[Any], backend: str) -> list[Any]:
    """Check ``circuits`` against ``--backend``'s rules (``ibm``, ``static``) or transpile them for the device."""
    if backend.lower() in ("ibm", "static"):
        for qc in circuits:
            validate_for_target(qc, backend)
        return circuits
    return transpile_for_target(circuits, backend, optimization_level=1, seed_transpiler=0)


def _write_png(circuits: list[Any], output: str) -> None:
    import matplotlib  # only here: selecting the Agg backend is a global switch

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    for qc, path in zip(circuits, _paths(output, len(circuits))):
        fig = qc.draw("mpl", fold=40)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        write_atomic(path, png.getvalue())
        print(f"wrote {path}", file=sys.stderr)


def _write_text(circuits: list[Any], fmt: str, output: str | None) -> None:
    texts = [to_qasm3(qc) if fmt == "qasm3" else str(qc.draw("text", fold=120)) for qc in circuits]
    if output:
        for text, path in zip(texts, _paths(output, len(texts))):
            write_atomic(path, (text + "\n").encode("utf-8"))
            print(f"wrote {path}", file=sys.stderr)
        return
    for k, text in enumerate(texts, start=1):
        if len(texts) > 1:
            print(f"{'//' if fmt == 'qasm3' else '#'} hidden layer {k}")
        print(text)


def run_circuit_command(args: argparse.Namespace) -> int:
    """Run ``qnqnn circuit`` with parsed arguments; return the exit status (0 on success).

    Raises:
        NaturalQNNError: any library error (bad model file, image index, non-exact construction,
            target rule violation); ``qnqnn``'s ``main`` prints it and exits with status 2.
    """
    if args.format == "png" and not args.output:
        raise ConfigurationError("--format png needs --output PATH (a .png file)")
    model = load_model(args.model)
    images = load_default().validation.images
    if args.image >= len(images):
        raise ConfigurationError(
            f"--image must be in [0, {len(images) - 1}] (the default validation set), got {args.image}"
        )
    circuits, explanation = _circuits(model, images[args.image], args)
    if args.backend:
        circuits = _check_target(circuits, args.backend)
    print(explanation, file=sys.stderr)
    if args.format == "png":
        _write_png(circuits, args.output)
    else:
        _write_text(circuits, args.format, args.output)
    return 0
