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
    "DamagedFileError",
    "DataNotFoundError",
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


class DataNotFoundError(NaturalQNNError, FileNotFoundError):
    """A data directory that lacks the MNIST files it must hold."""


class DamagedFileError(NaturalQNNError, ValueError):
    """A file on disk that cannot be read as what it should be, named with the problem in the message.

    One type for every file the library reads: model files, training checkpoints, ``history.json``,
    run records, sweep records and MNIST IDX files that are truncated, corrupt, of an unsupported
    format version, or inconsistent with themselves. (A file that does not exist raises the builtin
    ``FileNotFoundError``, or :class:`DataNotFoundError` for an MNIST directory.)
    """


class CircuitNotExactError(NaturalQNNError, ValueError):
    """The requested single-circuit construction cannot express this network exactly."""


class TargetCapabilityError(NaturalQNNError, ValueError):
    """A circuit uses an operation that the chosen target (backend) does not support."""


class ExecutionError(NaturalQNNError, RuntimeError):
    """A sampler job failed or returned results that cannot be decoded."""
