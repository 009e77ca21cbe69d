"""``--emulate DEVICE`` (``qnqnn evaluate``) and ``--noise DEVICE`` (``qnqnn train``): device noise on the fast path.

::

    qnqnn evaluate MODEL --emulate fake_torino [--pairs N --gate sx|cz] [--copies N|auto] [--optimization-level 0-3]
    qnqnn train ... --noise fake_torino [--pairs N --gate sx|cz] [--copies N|auto]

The device's noise model (``NoiseModel.from_backend``, what Aer simulates it with) is emulated exactly
on the fast path by :func:`qiskit_natural_qnn.emulation.emulate_device`: no simulator runs. What is
emulated and what is refused: ``docs/device-noise.md``.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="qnqnn train")
    >>> add_emulation_arguments(parser, flag="--noise", copies=True)
    >>> args = parser.parse_args(["--noise", "fake_fez", "--pairs", "5", "--gate", "cz"])
    >>> args.noise, args.pairs, args.gate, args.copies
    ('fake_fez', 5, 'cz', 'auto')
"""

from __future__ import annotations

import argparse
from typing import Any

from qiskit_natural_qnn.cli.argtypes import non_negative_int
from qiskit_natural_qnn.cli.options import add_copies_option, add_gate_option, add_optimization_level_option

__all__ = ["add_emulation_arguments", "emulation_from_args"]


def add_emulation_arguments(parser: argparse.ArgumentParser, *, flag: str, copies: bool) -> None:
    """Add ``flag`` (``--emulate``/``--noise``), ``--pairs``, ``--gate`` (and ``--copies``, ``--optimization-level``).

    Args:
        parser: the subcommand's parser.
        flag: the option naming the device.
        copies: also add ``--copies`` and ``--optimization-level`` (``evaluate`` has them already).
    """
    group = parser.add_argument_group("an emulated device's noise on the fast path (exact, no simulator)")
    group.add_argument(
        flag,
        default=None,
        metavar="DEVICE",
        help="sample every pass with the exact noise of this device's noise model as layer-by-layer execution "
        "on it would (e.g. fake_torino, fake_fez; the [ibm] extra); see docs/device-noise.md",
    )
    group.add_argument(
        "--pairs",
        type=non_negative_int,
        default=0,
        help=f"with {flag}: identity pairs injected into every layer circuit (default 0)",
    )
    add_gate_option(group)
    if copies:
        add_copies_option(group, default="auto")
        add_optimization_level_option(group)


def emulation_from_args(args: argparse.Namespace, model: Any, *, flag: str) -> Any:
    """The :class:`~qiskit_natural_qnn.emulation.DeviceEmulation` the options name, or None without ``flag``.

    Raises:
        NaturalQNNError: an unknown device, a noise model or circuit the emulation refuses.
    """
    device = getattr(args, flag.lstrip("-").replace("-", "_"))
    if device is None:
        return None
    from qiskit_natural_qnn.emulation import emulate_device

    return emulate_device(
        model,
        device,
        copies=args.copies,
        pairs=args.pairs,
        gate=args.gate,
        optimization_level=args.optimization_level,
    )
