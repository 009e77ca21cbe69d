"""Errors raised by qiskit-natural-qnn.

Every error derives from :class:`NaturalQNNError` and from the matching builtin, so callers can catch
either the library's base class or the builtin they already expect::

    try:
        Stretch(a=-1.0)
    except ValueError:  # or NaturalQNNError, or ConfigurationError
        ...

Messages follow one pattern: what was received, what was expected, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "NaturalQNNError",
    "ConfigurationError",
    "InputError",
    "DataError",
    "DataNotFoundError",
    "ModelFileError",
    "CircuitNotExactError",
    "TargetCapabilityError",
    "ExecutionError",
]


class NaturalQNNError(Exception):
    """Base class of every error raised by this library."""


class ConfigurationError(NaturalQNNError, ValueError):
    """An invalid model or run setting (stretch ``a``, angle ``g``, layer sizes, shots...)."""


class InputError(NaturalQNNError, ValueError):
    """Input data of the wrong shape, dtype or values (non-finite, empty batch...)."""


class DataError(NaturalQNNError, ValueError):
    """A data file that exists but cannot be read as MNIST (bad magic number, truncated...)."""


class DataNotFoundError(NaturalQNNError, FileNotFoundError):
    """A data directory that lacks the MNIST files it must hold."""


class ModelFileError(NaturalQNNError, ValueError):
    """A model file that is corrupt, of an unsupported format version, or inconsistent."""


class CircuitNotExactError(NaturalQNNError, ValueError):
    """The requested single-circuit construction cannot express this network exactly."""


class TargetCapabilityError(NaturalQNNError, ValueError):
    """A circuit uses an operation that the chosen target (backend) does not support."""


class ExecutionError(NaturalQNNError, RuntimeError):
    """A sampler job failed or returned results that cannot be decoded."""
