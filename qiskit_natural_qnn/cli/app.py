"""The ``qnqnn`` command line (also ``python -m qiskit_natural_qnn``): the main parser and :func:`main`.

Subcommands, one module each:

* ``qnqnn train`` trains a network on MNIST (:mod:`qiskit_natural_qnn.cli.train`);
* ``qnqnn evaluate MODEL`` prints the single-shot and majority-vote error of a saved model, on the
  fast path or, with ``--backend``, on a sampler (:mod:`qiskit_natural_qnn.cli.evaluate`);
* ``qnqnn circuit MODEL --image N`` draws or exports a network's circuits
  (:mod:`qiskit_natural_qnn.cli.circuits`);
* ``qnqnn sweep`` trains over a grid of ``a`` and/or ``g`` (:mod:`qiskit_natural_qnn.cli.experiments`);
* ``qnqnn noise-sweep``, ``qnqnn borderline`` and ``qnqnn estimate`` run the hardware experiments
  (:mod:`qiskit_natural_qnn.cli.hardware`).

Options that several subcommands share are defined once in :mod:`qiskit_natural_qnn.cli.options`;
angles (``--g``) accept plain numbers and simple multiples of pi: ``pi/4``, ``5*pi/19``, ``0.25pi``
(:func:`~qiskit_natural_qnn.cli.argtypes.parse_angle`). The library's log goes to standard error
(warnings by default; ``-v``, ``-vv`` or ``--log-level`` where a subcommand offers them:
:func:`~qiskit_natural_qnn.cli.options.configure_logging`). Every error of the library prints
``error: <message>`` on stderr and exits with status 2 (:func:`~qiskit_natural_qnn.cli.runtime.run_handler`).

Adding a subcommand: write ``add_<name>_parser(subparsers)`` that builds its parser and sets
``handler=<function taking the parsed arguments, returning an exit status>`` through ``set_defaults``,
and append it to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from qiskit_natural_qnn.cli.circuits import add_circuit_parser
from qiskit_natural_qnn.cli.evaluate import add_evaluate_parser
from qiskit_natural_qnn.cli.experiments import add_sweep_parser
from qiskit_natural_qnn.cli.hardware import add_borderline_parser, add_estimate_parser, add_noise_sweep_parser
from qiskit_natural_qnn.cli.options import configure_logging
from qiskit_natural_qnn.cli.runtime import run_handler
from qiskit_natural_qnn.cli.train import add_train_parser
from qiskit_natural_qnn.version import __version__

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: One parser builder per subcommand, in the order ``qnqnn --help`` lists them; each sets ``handler``.
SUBCOMMANDS: list[Callable[[Any], argparse.ArgumentParser]] = [
    add_train_parser,
    add_evaluate_parser,
    add_circuit_parser,
    add_sweep_parser,
    add_noise_sweep_parser,
    add_borderline_parser,
    add_estimate_parser,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``qnqnn`` argument parser with ``--version`` and every subcommand of :data:`SUBCOMMANDS`.

    Example:
        >>> build_parser().parse_args(["evaluate", "model.safetensors", "--shots", "3"]).shots
        3
    """
    parser = argparse.ArgumentParser(
        prog="qnqnn",
        description="Naturally quantized neural networks (Barney, Lakhdar-Hamina, Galitski 2025).",
    )
    parser.add_argument(
        "--version", action="version", version=f"qnqnn {__version__}", help="print the version and exit"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, help="the subcommand; qnqnn COMMAND --help describes it"
    )
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``qnqnn`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Returns:
        0 on success, 2 for a library error (printed as ``error: <message>`` on stderr), 130 when
        interrupted. Usage errors, ``--help`` and ``--version`` exit through :mod:`argparse`
        (:class:`SystemExit` with status 2, 0 and 0).
    """
    args = build_parser().parse_args(argv)
    configure_logging(args)
    return run_handler(args)
