"""Hardware providers, at the edge of the library: samplers for named devices and provider specifics.

The core (:mod:`qiskit_natural_qnn.execution`) runs on any ``BaseSamplerV2`` plus an optional pass
manager, and never imports this package; this package makes them for named devices and holds what is
specific to one provider. The provider SDKs are extras, imported only when used
(:func:`qiskit_natural_qnn.optional.require` names the extra to install when one is missing):

* :mod:`.samplers`: :func:`make_sampler` from a device name (``aer``, ``fake_NAME``, ``ibm:NAME``,
  ``ionq:NAME``; the grammar is :func:`qiskit_natural_qnn.transpile.devices.parse_device`).
* :mod:`.ibm`: IBM Runtime (credentials, fake backends, Session/Batch): the ``[ibm]`` extra.
* :mod:`.ionq`: IonQ through qiskit-ionq (capabilities, pass manager, offline payloads, per-shot
  memory): the ``[ionq]`` extra.
* :mod:`.aer_noise`: samplers that simulate a device with its noise model (:func:`noisy_sampler`,
  :func:`noisy_setup`), for noise sweeps.
"""

from __future__ import annotations

from qiskit_natural_qnn.providers.aer_noise import noisy_sampler, noisy_setup
from qiskit_natural_qnn.providers.ibm import local_backend
from qiskit_natural_qnn.providers.ionq import (
    IonQCapabilities,
    IonQShotsBackend,
    check_ionq_job,
    ionq_capabilities,
    ionq_noise_payload,
    ionq_payload,
    ionq_sampler,
)
from qiskit_natural_qnn.providers.samplers import BACKEND_FORMS, make_sampler

__all__ = [
    "BACKEND_FORMS",
    "IonQCapabilities",
    "IonQShotsBackend",
    "check_ionq_job",
    "ionq_capabilities",
    "ionq_noise_payload",
    "ionq_payload",
    "ionq_sampler",
    "local_backend",
    "make_sampler",
    "noisy_sampler",
    "noisy_setup",
]
