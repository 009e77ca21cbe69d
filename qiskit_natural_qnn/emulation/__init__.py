"""Exact emulation of a device's noise in the fast path (``docs/device-noise.md``).

A layer circuit's neurons are never entangled with one another (Method 1), or only with their own
ancilla (Method 2) or a neighbour joined by ``CZ`` identity pairs. On a device whose noise is a
channel per instruction (the noise models Aer builds from a backend: depolarizing and
thermal-relaxation errors per gate and qubit, readout assignment errors), the outcome law of each
neuron is therefore a small exact computation, a trigonometric polynomial of its angle. This
subpackage computes it from the transpiled layer circuits and the noise model, and the fast path
samples it for every image and shot at once, on CPU or GPU.

* :mod:`.channels`: :class:`NoiseChannels` (what a noise model does to each instruction; refusals).
* :mod:`.laws`: :func:`circuit_laws` (the exact law of each cluster of a transpiled circuit).
* :mod:`.sampling`: :class:`LayerLaw` (a layer's laws as tensors; the fast path's draw).
* :mod:`.device`: :func:`emulate_device`, :class:`DeviceEmulation` (the ``noise=`` of ``predict``
  and ``fit``), :class:`LayoutTranspiler`.
* :mod:`.studies`: :func:`success_rates`, :func:`emulated_noise_sweep` (per-image success rates on the
  emulated device, noise sweeps on the fast path).
"""

from __future__ import annotations

from qiskit_natural_qnn.emulation.channels import NoiseChannels, noise_model_of
from qiskit_natural_qnn.emulation.device import DeviceEmulation, LayoutTranspiler, emulate_device
from qiskit_natural_qnn.emulation.laws import MAX_CLUSTER_QUBITS, ClusterLaw, circuit_laws
from qiskit_natural_qnn.emulation.sampling import LayerLaw
from qiskit_natural_qnn.emulation.studies import emulated_noise_sweep, success_rates

__all__ = [
    "MAX_CLUSTER_QUBITS",
    "ClusterLaw",
    "DeviceEmulation",
    "LayerLaw",
    "LayoutTranspiler",
    "NoiseChannels",
    "circuit_laws",
    "emulate_device",
    "emulated_noise_sweep",
    "noise_model_of",
    "success_rates",
]
