r"""IBM Quantum: Runtime samplers, local testing mode, sessions and batches, credentials.

* **Sampler.** ``qiskit_ibm_runtime.executor_sampler.Sampler`` (current; the older
  ``qiskit_ibm_runtime.SamplerV2`` is deprecated since 0.50 but still accepted everywhere).
  ``mode`` decides where it runs: a fake backend or an ``AerSimulator`` runs locally (local testing
  mode: the same code path offline, with the fake backend's noise model unless
  :func:`local_backend` strips it); a :class:`~qiskit_ibm_runtime.Session` (layer-by-layer runs:
  the jobs of one run follow each other), a :class:`~qiskit_ibm_runtime.Batch` (sweeps: independent
  jobs) or a real backend runs in the cloud.
* **Dynamic circuits** cannot be combined with dynamical decoupling or fractional gates:
  :func:`~qiskit_natural_qnn.transpile.ibm_dynamic.prepare_ibm_sampler` (core, applied by every run
  on a Runtime sampler) turns dynamical decoupling off for them, and :func:`ibm_backend` gets devices
  with ``use_fractional_gates=False``. The per-job budget of conditional operations
  (:func:`~qiskit_natural_qnn.transpile.ibm_dynamic.max_sets_per_job`) is pure circuit counting and
  lives in the core too.
* **Credentials** come only from the saved account (``QiskitRuntimeService.save_account``) or the
  environment (``QISKIT_IBM_TOKEN``, optional ``QISKIT_IBM_INSTANCE`` and ``QISKIT_IBM_CHANNEL``);
  they are never printed or written.

qiskit-ibm-runtime is the ``[ibm]`` extra (``pip install "qiskit-natural-qnn[ibm]"``); without it
every function here that needs it raises :class:`~qiskit_natural_qnn.optional.MissingExtraError`.

Example:
    >>> local_backend("fake_manila", noise=False).options.noise_model is None
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.optional import require
from qiskit_natural_qnn.transpile.devices import get_backend, parse_device

__all__ = [
    "EXECUTION_MODES",
    "IBM_TOKEN_ENV",
    "has_ibm_credentials",
    "ibm_backend",
    "ibm_service",
    "job_fetcher",
    "local_backend",
    "open_execution_mode",
    "runtime_sampler",
]

#: Environment variable holding an IBM Quantum API key (used when no account is saved).
IBM_TOKEN_ENV = "QISKIT_IBM_TOKEN"

#: How cloud jobs are grouped: ``"session"`` (layer-by-layer runs), ``"batch"`` (sweeps), ``"job"``.
EXECUTION_MODES: tuple[str, ...] = ("session", "batch", "job")


def _runtime() -> Any:
    """The ``qiskit_ibm_runtime`` package (the ``[ibm]`` extra)."""
    return require("qiskit_ibm_runtime", extra="ibm")


def has_ibm_credentials() -> bool:
    """True when an IBM account is saved or ``QISKIT_IBM_TOKEN`` is set (nothing is read aloud)."""
    if os.environ.get(IBM_TOKEN_ENV):
        return True
    try:
        return bool(_runtime().QiskitRuntimeService.saved_accounts())
    except Exception:  # noqa: BLE001 - no readable account file, or no qiskit-ibm-runtime
        return False


def ibm_service() -> Any:
    """A ``QiskitRuntimeService`` from the environment (``QISKIT_IBM_TOKEN``...) or the saved account.

    Raises:
        ConfigurationError: no credentials (the message says how to provide them; it never shows any).
        MissingExtraError: qiskit-ibm-runtime is not installed (the ``[ibm]`` extra).
    """
    service_class = _runtime().QiskitRuntimeService

    token = os.environ.get(IBM_TOKEN_ENV)
    try:
        if token:
            return service_class(
                channel=os.environ.get("QISKIT_IBM_CHANNEL", "ibm_quantum_platform"),
                token=token,
                instance=os.environ.get("QISKIT_IBM_INSTANCE") or None,
            )
        return service_class()
    except Exception as exc:  # noqa: BLE001 - the service's own errors may echo account details
        raise ConfigurationError(
            f"cannot connect to IBM Quantum ({type(exc).__name__}); save an account with "
            f"QiskitRuntimeService.save_account(...) or set {IBM_TOKEN_ENV}"
        ) from None


def ibm_backend(name: str, *, service: Any = None) -> Any:
    """The IBM device ``name`` without fractional gates (so dynamic circuits are allowed)."""
    service = service or ibm_service()
    return service.backend(name, use_fractional_gates=False)


def local_backend(name: str, *, noise: bool = True) -> Any:
    """A fake IBM backend for local testing mode, with its noise model or without (``noise=False``).

    Args:
        name: ``fake_NAME`` (:func:`~qiskit_natural_qnn.transpile.devices.parse_device`; ``FakeManilaV2``
            and ``fake_manila`` are the same), or the bare ``NAME``.
        noise: keep the device's noise model.

    Without noise the result is an ``AerSimulator`` with the fake device's target (gates, coupling
    map, qubit count) and no noise model, which Runtime samplers also accept as ``mode``.

    Raises:
        ConfigurationError: not a fake device name, or one the installed qiskit-ibm-runtime does not ship.
        MissingExtraError: qiskit-ibm-runtime is not installed (the ``[ibm]`` extra).

    Example:
        >>> local_backend("manila").name
        'fake_manila'
    """
    key = name if name.strip().lower().startswith("fake") else f"fake_{name.strip()}"
    device = parse_device(key)
    if device.kind != "fake":
        raise ConfigurationError(f"{name!r} is not an IBM fake device; pass fake_NAME, e.g. 'fake_manila'")
    backend = get_backend(device)
    if noise:
        return backend
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(backend, noise_model=None)


def runtime_sampler(mode: Any, *, default_shots: int = 1024) -> Any:
    """The current Runtime sampler, ``qiskit_ibm_runtime.executor_sampler.Sampler(mode=mode)`` (0.47 and later).

    Raises:
        MissingExtraError: qiskit-ibm-runtime is not installed, or older than 0.47 (the ``[ibm]`` extra).
    """
    sampler = require("qiskit_ibm_runtime.executor_sampler", extra="ibm").Sampler(mode=mode)
    sampler.options.default_shots = int(default_shots)
    return sampler


def open_execution_mode(backend: Any, execution: str = "session") -> Any:
    """A ``Session`` (``"session"``), ``Batch`` (``"batch"``) or the backend itself (``"job"``).

    Raises:
        ConfigurationError: an unknown execution mode.
    """
    if execution not in EXECUTION_MODES:
        raise ConfigurationError(f"execution must be one of {', '.join(EXECUTION_MODES)}, got {execution!r}")
    if execution == "job":
        return backend
    runtime = _runtime()
    return (runtime.Session if execution == "session" else runtime.Batch)(backend=backend)


def job_fetcher(service: Any) -> Callable[[str], Any]:
    """``job_id -> result`` through ``service.job(job_id).result()`` (for :class:`~.records.RunRecord`)."""

    def fetch(job_id: str) -> Any:
        return service.job(job_id).result()

    return fetch
