"""Optional packages: each belongs to one extra, and a missing one raises :class:`MissingExtraError` naming it.

The core (models, training, circuits, transpilation, Aer execution) needs no extra. The hardware
providers, qiskit-machine-learning, the figures and parallel sweeps do:

==========  ===========================  ==========================================================
extra       package (import name)        what needs it
==========  ===========================  ==========================================================
``ibm``     ``qiskit-ibm-runtime``       IBM Runtime samplers, sessions, credentials, and the fake
            (``qiskit_ibm_runtime``)     IBM devices (``fake_NAME``) used offline
``ionq``    ``qiskit-ionq``              IonQ backends, samplers and job payloads
            (``qiskit_ionq``)
``ml``      ``qiskit-machine-learning``  :mod:`qiskit_natural_qnn.ml` (``NeuralNetwork``, ``TorchConnector``)
            (``qiskit_machine_learning``)
``plot``    ``matplotlib``               figures (:mod:`qiskit_natural_qnn.experiments.plots`, ``--format png``)
``dask``    ``dask[distributed]``        parallel sweeps (:mod:`qiskit_natural_qnn.experiments.distributed`,
            (``dask``, ``distributed``)  ``qnqnn sweep --workers N`` or ``--scheduler``)
==========  ===========================  ==========================================================

``pip install "qiskit-natural-qnn[all]"`` installs every extra.

Example:
    >>> require("math", extra="ibm").pi > 3
    True
    >>> require("no_such_package_xyz", extra="ibm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qiskit_natural_qnn.optional.MissingExtraError: no_such_package_xyz is not installed; it comes with the extra ...
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from qiskit_natural_qnn.exceptions import NaturalQNNError

__all__ = ["EXTRAS", "MissingExtraError", "has_extra", "require"]

#: The extras and the top-level modules each one installs.
EXTRAS: dict[str, tuple[str, ...]] = {
    "ibm": ("qiskit_ibm_runtime",),
    "ionq": ("qiskit_ionq",),
    "ml": ("qiskit_machine_learning",),
    "plot": ("matplotlib", "pylatexenc"),
    "dask": ("dask", "distributed"),
}


class MissingExtraError(NaturalQNNError, ImportError):
    """An optional package is not installed; the message names the extra that installs it."""


def has_extra(extra: str) -> bool:
    """True when every package of ``extra`` can be imported (nothing is imported to find out).

    Raises:
        KeyError: an unknown extra.

    Example:
        >>> isinstance(has_extra("ibm"), bool)
        True
    """
    return all(importlib.util.find_spec(name) is not None for name in EXTRAS[extra])


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` (e.g. ``"qiskit_ibm_runtime.fake_provider"``), which the extra ``extra`` installs.

    Args:
        module: the dotted module name.
        extra: the extra that installs it (a key of :data:`EXTRAS`).

    Returns:
        The module.

    Raises:
        MissingExtraError: its top-level package is not installed (the message says what to install).
    """
    top = module.split(".", 1)[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        install = f'pip install "qiskit-natural-qnn[{extra}]"'
        if missing == top:
            raise MissingExtraError(f"{top} is not installed; it comes with the extra {extra!r}: {install}") from None
        if module == missing or module.startswith(missing + "."):
            raise MissingExtraError(
                f"{module} is not in the installed {top}, which is too old; the extra {extra!r} pins the version "
                f'needed: pip install --upgrade "qiskit-natural-qnn[{extra}]"'
            ) from None
        raise  # the package is there but one of its own dependencies is not: report that as it is
