"""From circuits to a device: target rules, validation, transpilation, named devices, resource reports.

* :mod:`.targets`: :class:`TargetProfile` (what a target accepts), :func:`validate_for_target`,
  :func:`transpile_for_target` (IBM, Aer, IonQ).
* :mod:`.devices`: named devices offline (IBM fake backends, Aer, IonQ's native-gate Target).
* :mod:`.resources`: per-layer resource reports.
"""

from __future__ import annotations

from qiskit_natural_qnn.transpile.devices import get_backend, ionq_native_target
from qiskit_natural_qnn.transpile.resources import (
    LayerResources,
    ResourceReport,
    circuit_resources,
    resource_report,
)
from qiskit_natural_qnn.transpile.targets import (
    PROFILES,
    TargetProfile,
    find_violations,
    target_profile,
    transpile_for_target,
    validate_for_target,
)

__all__ = [
    "PROFILES",
    "LayerResources",
    "ResourceReport",
    "TargetProfile",
    "circuit_resources",
    "find_violations",
    "get_backend",
    "ionq_native_target",
    "resource_report",
    "target_profile",
    "transpile_for_target",
    "validate_for_target",
]
