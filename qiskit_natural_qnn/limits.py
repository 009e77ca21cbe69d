"""Bounded work: how much memory and how many circuit instructions one call may take, checked first.

A call that would hold more than a machine has (a billion shots, a hidden layer of a trillion
neurons, a billion identity pairs) must say so before it allocates anything or submits a job, with
the figure and the limit, instead of failing in the allocator or after a paid job was submitted.
Each such call estimates its work with a small function (the bytes of the arrays it will hold, or the
instructions of the circuits it will build) and asks :func:`check_bytes` or :func:`check_instructions`.

The limits are the module constants :data:`MAX_BYTES` and :data:`MAX_INSTRUCTIONS`; every function
that checks one takes a keyword (``max_bytes=`` or ``max_instructions=``) to raise or lower it for
one call.

Example:
    >>> check_bytes(2**20, what="this run")
    1048576
    >>> check_bytes(3 * 2**40, what="predict with shots=10**12")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qiskit_natural_qnn.exceptions.ConfigurationError: predict with shots=10**12 would hold about 3.0 TiB ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = ["MAX_BYTES", "MAX_INSTRUCTIONS", "check_bytes", "check_instructions", "check_limit", "format_bytes"]

#: The most memory (bytes) the arrays of one call may hold: 16 GiB. Calls that estimate more are
#: refused before they allocate or submit anything; pass ``max_bytes=`` to the call to change it.
MAX_BYTES = 16 * 2**30

#: The most instructions one circuit built by the library may hold: 4 million (about 1 GB of Qiskit
#: objects). Pass ``max_instructions=`` to the call to change it.
MAX_INSTRUCTIONS = 4_000_000


def format_bytes(n: int | float) -> str:
    """``n`` bytes as a short human-readable figure (binary units).

    Example:
        >>> format_bytes(512), format_bytes(3 * 2**30), format_bytes(1.5 * 2**50)
        ('512 B', '3.0 GiB', '1.5 PiB')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_limit(limit: Any, *, name: str, default: int) -> int:
    """``limit`` as an int ``>= 1``, or ``default`` when it is None.

    Raises:
        ConfigurationError: ``limit`` is not None and not an int ``>= 1``.
    """
    if limit is None:
        return default
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ConfigurationError(f"{name} must be an int >= 1 or None (the default {default}), got {limit!r}")
    return int(limit)


def check_bytes(nbytes: int | float, *, what: str, max_bytes: int | None = None, fix: str = "") -> int:
    """Refuse a call whose arrays would hold more than ``max_bytes`` (default :data:`MAX_BYTES`).

    Args:
        nbytes: the call's estimate of the bytes its arrays will hold.
        what: the call, as the message names it (``"predict with shots=1000000"``).
        max_bytes: the limit for this call; None for :data:`MAX_BYTES`.
        fix: how to do with less (appended to the message), e.g. ``"lower shots or batch_size"``.

    Returns:
        ``nbytes`` as an int.

    Raises:
        ConfigurationError: ``nbytes`` exceeds the limit (the message gives both figures).
    """
    limit = check_limit(max_bytes, name="max_bytes", default=MAX_BYTES)
    need = int(nbytes)
    if need > limit:
        how = f"{fix}, or " if fix else ""
        raise ConfigurationError(
            f"{what} would hold about {format_bytes(need)} of arrays ({need} bytes), over the limit of "
            f"{format_bytes(limit)} ({limit} bytes); {how}pass max_bytes= to change the limit"
        )
    return need


def check_instructions(count: int, *, what: str, max_instructions: int | None = None, fix: str = "") -> int:
    """Refuse a circuit of more than ``max_instructions`` instructions (default :data:`MAX_INSTRUCTIONS`).

    Args:
        count: the number of instructions the circuit will hold.
        what: the circuit, as the message names it.
        max_instructions: the limit for this call; None for :data:`MAX_INSTRUCTIONS`.
        fix: how to do with less (appended to the message).

    Returns:
        ``count`` as an int.

    Raises:
        ConfigurationError: ``count`` exceeds the limit.

    Example:
        >>> check_instructions(10**9, what="a layer circuit with 10**9 identity pairs")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: a layer circuit with 10**9 identity pairs would hold ...
    """
    limit = check_limit(max_instructions, name="max_instructions", default=MAX_INSTRUCTIONS)
    need = int(count)
    if need > limit:
        how = f"{fix}, or " if fix else ""
        raise ConfigurationError(
            f"{what} would hold {need} instructions, over the limit of {limit}; {how}pass max_instructions= "
            "to change the limit"
        )
    return need
