"""Hardware providers, at the edge of the library: samplers for named devices and provider specifics.

The core (:mod:`qiskit_natural_qnn.execution`) runs on any ``BaseSamplerV2`` plus an optional pass
manager; this package makes them for named devices and holds what is specific to one provider.

* :mod:`.samplers`: :func:`make_sampler` from a device name (``aer``, ``fake_NAME``, ``ibm:NAME``, ``ionq:NAME``).
* :mod:`.ibm`: IBM Runtime (credentials, fake backends, Session/Batch, options, conditional budgets).
* :mod:`.ionq`: IonQ through qiskit-ionq (capabilities, pass manager, offline payloads, per-shot memory).
"""

from __future__ import annotations

from qiskit_natural_qnn.providers.ibm import conditional_cost, local_backend, max_sets_per_job, prepare_ibm_sampler
from qiskit_natural_qnn.providers.ionq import (
    IonQCapabilities,
    IonQShotsBackend,
    check_ionq_job,
    ionq_capabilities,
    ionq_payload,
    ionq_sampler,
)
from qiskit_natural_qnn.providers.samplers import BACKEND_FORMS, make_sampler

__all__ = [
    "BACKEND_FORMS",
    "IonQCapabilities",
    "IonQShotsBackend",
    "check_ionq_job",
    "conditional_cost",
    "ionq_capabilities",
    "ionq_payload",
    "ionq_sampler",
    "local_backend",
    "make_sampler",
    "max_sets_per_job",
    "prepare_ibm_sampler",
]
