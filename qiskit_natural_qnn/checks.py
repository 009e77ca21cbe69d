"""Type checks of numbers at the API edge, written once: an int or a real that is not a bool.

Example:
    >>> is_int(3), is_int(True), is_int(3.0), is_real(2.5), is_real(False)
    (True, False, False, True, False)
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np

__all__ = ["is_int", "is_real"]


def is_int(value: Any) -> TypeGuard[int | np.integer[Any]]:
    """True for a Python or NumPy integer that is not a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def is_real(value: Any) -> TypeGuard[int | float | np.integer[Any] | np.floating[Any]]:
    """True for a Python or NumPy real number (int or float) that is not a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
