"""Argument types of the ``qnqnn`` command line: text to values, without ``eval``.

Each ``argparse`` type here raises :class:`argparse.ArgumentTypeError`, so a bad value is a usage
error (``argument --g: cannot read 'pi/x' as an angle...``, exit status 2). :func:`parse_angle` and
:func:`parse_values` are the plain parsers behind them, for values read after parsing (a sweep's
``--values`` are angles or stretches depending on ``--param``).

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--g", type=angle)
    >>> _ = p.add_argument("--copies", type=count_or_auto)
    >>> _ = p.add_argument("--pairs", type=int_list)
    >>> args = p.parse_args(["--g", "pi/4", "--copies", "auto", "--pairs", "0,20,60"])
    >>> round(args.g, 4), args.copies, args.pairs
    (0.7854, 'auto', [0, 20, 60])
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = [
    "angle",
    "count_or_auto",
    "float_list",
    "int_argument",
    "int_list",
    "non_negative_int",
    "parse_angle",
    "parse_values",
    "positive_int",
]

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


def parse_values(text: str, *, angles: bool = False) -> list[float]:
    """Parse a comma-separated list of numbers (or of angles such as ``pi/8`` when ``angles``).

    Raises:
        ConfigurationError: an empty list or an unreadable value.

    Example:
        >>> parse_values("0, 0.1,0.316")
        [0.0, 0.1, 0.316]
        >>> [round(v, 4) for v in parse_values("pi/8,5*pi/19,pi/2", angles=True)]
        [0.3927, 0.8267, 1.5708]
        >>> parse_values("0,x")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: cannot read 'x' in '0,x' as a number; pass comma-separated ...
    """
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigurationError(f"no values in {text!r}; pass comma-separated values such as 0,0.1,0.316")
    out = []
    for item in items:
        try:
            out.append(parse_angle(item) if angles else float(item))
        except ValueError:
            example = "pi/8,pi/4,pi/2" if angles else "0,0.1,0.316"
            raise ConfigurationError(
                f"cannot read {item!r} in {text!r} as {'an angle' if angles else 'a number'}; "
                f"pass comma-separated values such as {example}"
            ) from None
        if not math.isfinite(out[-1]):
            raise ConfigurationError(f"{item!r} in {text!r} is not finite; pass finite values")
    return out


def angle(text: str) -> float:
    """An argparse ``type`` for angles: :func:`parse_angle`, its errors as usage errors.

    Example:
        >>> angle("pi/2") == math.pi / 2
        True
    """
    try:
        return parse_angle(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def int_argument(*, minimum: int = 1, auto: bool = False) -> Callable[[str], int | str]:
    """An argparse ``type`` for integers ``>= minimum`` (and the word ``auto`` when ``auto=True``).

    Example:
        >>> int_argument(minimum=0)("0"), int_argument(auto=True)("auto")
        (0, 'auto')
        >>> int_argument(minimum=1)("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a positive integer, got '0'
    """
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


#: An argparse ``type`` for integers ``>= 1``.
positive_int = int_argument(minimum=1)

#: An argparse ``type`` for integers ``>= 0``.
non_negative_int = int_argument(minimum=0)

#: An argparse ``type`` for a count ``>= 1`` or the word ``auto`` (``--copies``).
count_or_auto = int_argument(minimum=1, auto=True)


def int_list(text: str) -> list[int]:
    """An argparse ``type`` for comma-separated integers ``>= 0`` (``--pairs 0,20,60``, ``--images 3,17``).

    Example:
        >>> int_list("0, 20,60")
        [0, 20, 60]
    """
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,20,60, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0 such as 0,20,60, got {text!r}")
    return values


def float_list(text: str) -> list[float]:
    """An argparse ``type`` for comma-separated numbers (:func:`parse_values`, its errors as usage errors).

    Example:
        >>> float_list("0.2,0.5")
        [0.2, 0.5]
    """
    try:
        return parse_values(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
