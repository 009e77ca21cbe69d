"""A sampler and its pass manager from a backend string (``aer``, ``fake_manila``, ``ibm:NAME``, ``ionq:NAME``).

The string is read by the package's one device grammar,
:func:`~qiskit_natural_qnn.transpile.devices.parse_device`:

=========================  ==========================================================================
``aer``                    ``qiskit_aer.primitives.SamplerV2``, Aer's automatic method for small
                           single circuits; layer circuits and circuits wider than 20 qubits run
                           with ``matrix_product_state`` (never a wide statevector)
``aer-mps``                the same with ``matrix_product_state`` for everything
``statevector``            ``qiskit.primitives.StatevectorSampler`` (no control flow: layerwise or deferred)
``fake_NAME``              IBM Runtime local testing mode on a fake device (``fake_manila``,
                           ``fake_sherbrooke``...): an ``AerSimulator`` made from the device, with its
                           noise model (``noise=False``: none) and ``matrix_product_state``;
                           circuits transpiled for the device; IBM's rules
``ibm:NAME``               IBM Runtime in the cloud: ``executor_sampler.Sampler`` in a ``Session``
                           (``execution="batch"`` or ``"job"`` for sweeps), fractional gates off,
                           credentials from the saved account or ``QISKIT_IBM_TOKEN``
``ionq:NAME``              ``BackendSamplerV2`` around a qiskit-ionq backend (``ionq:simulator``,
                           ``ionq:qpu.aria-1``...), key from ``IONQ_API_KEY``, transpiled at level <= 1
=========================  ==========================================================================

Example:
    >>> setup = make_sampler("aer-mps", shots=100)
    >>> setup.name, type(setup.sampler).__name__, setup.pass_manager is None
    ('aer-mps', 'SamplerV2', True)
"""

from __future__ import annotations

import numpy as np
from qiskit.primitives import BaseSamplerV2, StatevectorSampler

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.execution.samplers import AER_DEFAULT_BACKEND_OPTIONS, SamplerSetup
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.transpile.devices import SAMPLER_FORMS, parse_device
from qiskit_natural_qnn.transpile.targets import check_optimization_level

__all__ = ["BACKEND_FORMS", "SamplerSetup", "make_sampler"]

#: The forms of a backend string that a sampler runs on (the device grammar's
#: :data:`~qiskit_natural_qnn.transpile.devices.SAMPLER_FORMS`).
BACKEND_FORMS: tuple[str, ...] = SAMPLER_FORMS


def _aer(shots: int, method: str | None) -> BaseSamplerV2:
    from qiskit_aer.primitives import SamplerV2

    backend_options = {"max_parallel_experiments": AER_DEFAULT_BACKEND_OPTIONS["max_parallel_experiments"]}
    if method:
        backend_options["method"] = method
    return SamplerV2(default_shots=int(shots), options={"backend_options": backend_options})


def make_sampler(
    spec: str,
    *,
    shots: int = 1024,
    optimization_level: int = 1,
    execution: str = "session",
    noise: bool = True,
    seed_transpiler: int | None = None,
) -> SamplerSetup:
    """A :class:`SamplerSetup` from a backend string (see the module docstring for the forms).

    Args:
        spec: ``"aer"``, ``"aer-mps"``, ``"statevector"``, ``"fake_NAME"``, ``"ibm:NAME"`` or ``"ionq:NAME"``,
            read by :func:`~qiskit_natural_qnn.transpile.devices.parse_device` (one grammar everywhere).
        shots: the sampler's default shots (an int ``>= 1``).
        optimization_level: of the pass manager, 0-3 (IonQ: at most 1).
        execution: IBM cloud only: ``"session"`` (layer-by-layer runs), ``"batch"`` (sweeps) or ``"job"``.
        noise: fake backends only: keep the device's noise model.
        seed_transpiler: seeds layout and routing (an int in ``[0, 2**64)`` or None).

    Raises:
        ConfigurationError: an unknown form (the message lists them), an offline-only target (``ionq``,
            ``ionq_forte``...), missing credentials, or a bad option (``shots``, ``optimization_level``
            outside 0-3, ``seed_transpiler``).
        MissingExtraError: ``fake_NAME`` or ``ibm:NAME`` without qiskit-ibm-runtime (the ``[ibm]`` extra),
            ``ionq:NAME`` without qiskit-ionq (the ``[ionq]`` extra).
    """
    from qiskit.transpiler import generate_preset_pass_manager

    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}; pass e.g. shots=1024")
    optimization_level = check_optimization_level(optimization_level)
    seed_transpiler = check_seed(seed_transpiler, name="seed_transpiler", none=True)
    device = parse_device(spec)
    if not device.form.sampler:
        raise ConfigurationError(
            f"{spec!r} is an offline target for transpiling and checks, not a sampler; run on IonQ with "
            f"'ionq:NAME' (e.g. 'ionq:simulator', 'ionq:qpu.forte-1'), or pass one of {', '.join(BACKEND_FORMS)}"
        )
    if device.kind == "aer":
        return SamplerSetup(_aer(shots, None), None, "aer", device.spec)
    if device.kind == "aer-mps":
        return SamplerSetup(_aer(shots, "matrix_product_state"), None, "aer", device.spec)
    if device.kind == "statevector":
        return SamplerSetup(StatevectorSampler(default_shots=int(shots)), None, "static", device.spec)
    if device.kind == "fake":
        from qiskit_aer import AerSimulator

        from qiskit_natural_qnn.providers.ibm import local_backend, runtime_sampler

        backend = local_backend(device.name, noise=True)
        # Local testing mode on an AerSimulator made from the device (its noise model unless noise=False),
        # with matrix_product_state: packed layer circuits and dynamic circuits span many of its qubits.
        mode = AerSimulator.from_backend(backend, **({} if noise else {"noise_model": None}))
        mode.set_options(**AER_DEFAULT_BACKEND_OPTIONS)
        pm = generate_preset_pass_manager(
            optimization_level=optimization_level, backend=backend, seed_transpiler=seed_transpiler
        )
        return SamplerSetup(runtime_sampler(mode, default_shots=shots), pm, backend, device.spec)
    if device.kind == "ibm":
        from qiskit_natural_qnn.providers.ibm import (
            ibm_backend,
            ibm_service,
            job_fetcher,
            open_execution_mode,
            runtime_sampler,
        )

        service = ibm_service()
        backend = ibm_backend(device.name, service=service)
        mode = open_execution_mode(backend, execution)
        pm = generate_preset_pass_manager(
            optimization_level=optimization_level, backend=backend, seed_transpiler=seed_transpiler
        )
        return SamplerSetup(
            runtime_sampler(mode, default_shots=shots),
            pm,
            backend,
            device.spec,
            job_fetcher(service),
            None if mode is backend else mode,
        )
    from qiskit_natural_qnn.providers.ionq import IonQShotsBackend, ionq_backend, ionq_sampler

    wrapped = IonQShotsBackend(ionq_backend(device.name))
    pm = wrapped.natural_qnn_pass_manager(optimization_level=min(int(optimization_level), 1))
    return SamplerSetup(ionq_sampler(wrapped, default_shots=shots), pm, wrapped.natural_qnn_profile(), device.spec)
