"""Register naming: hidden layer ``k`` (1-based) writes classical register ``h{k}``.

Every circuit of this package names its classical registers after the hidden layers (``h1``,
``h2``, ...), one bit per neuron, neuron ``i`` in clbit ``i``, bit 0 meaning activation ``+1``.
Results are decoded by register name in :mod:`qiskit_natural_qnn.decode` (the one decoder; its
:func:`layer_bits` and :func:`outcome_counts` are also importable from here), so transpilation, QASM
round trips and samplers that reorder bits do not matter.

Example:
    >>> layer_register_name(2)
    'h2'
"""

from __future__ import annotations

from qiskit_natural_qnn.decode import layer_bits, outcome_counts

__all__ = ["layer_bits", "layer_register_name", "outcome_counts"]


def layer_register_name(layer: int) -> str:
    """The classical register name of hidden layer ``layer`` (1-based): ``"h{layer}"``."""
    return f"h{int(layer)}"
