"""Samplers that simulate a device locally with its noise model (or ideally, on the same device).

The noise sweeps of :mod:`qiskit_natural_qnn.experiments.noise` run on any sampler; these make the
ones that stand in for a device offline:

* :func:`noisy_sampler`: ``qiskit_aer.primitives.SamplerV2.from_backend`` on an ``AerSimulator`` made
  from the device (its noise model: gate and readout errors, T1/T2 relaxation), or IBM Runtime's
  sampler in local testing mode on the same simulator (``via="runtime"``, the ``[ibm]`` extra);
* :func:`noisy_setup`: the same as a :class:`~qiskit_natural_qnn.execution.samplers.SamplerSetup`
  named ``"fake_perth (noisy)"`` or ``"fake_perth (ideal)"``, with the device as its target and a
  pass manager for it.

Example:
    >>> noisy_sampler("fake_torino", noise=False).__class__.__module__
    'qiskit_aer.primitives.sampler_v2'
    >>> setup = noisy_setup("fake_perth", noise=False, seed=3)
    >>> setup.name, setup.target.name
    ('fake_perth (ideal)', 'fake_perth')
"""

from __future__ import annotations

from typing import Any

from qiskit.primitives import BaseSamplerV2

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.execution.samplers import AER_DEFAULT_BACKEND_OPTIONS, SamplerSetup
from qiskit_natural_qnn.providers.ibm import runtime_sampler
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.transpile.devices import device_name, get_backend
from qiskit_natural_qnn.transpile.targets import check_optimization_level

__all__ = ["NOISY_VIA", "noisy_sampler", "noisy_setup"]

#: How a noisy device simulation is run: ``"aer"`` (Aer's sampler) or ``"runtime"`` (IBM Runtime local mode).
NOISY_VIA: tuple[str, ...] = ("aer", "runtime")


def _simulator(backend: Any, noise: bool) -> Any:
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(backend) if noise else AerSimulator.from_backend(backend, noise_model=None)


def noisy_sampler(backend: Any, *, noise: bool = True, via: str = "aer", seed: int | None = None) -> BaseSamplerV2:
    """A SamplerV2 that simulates a device locally, with or without its noise model.

    Args:
        backend: an IBM fake backend or its name (``"fake_torino"``, any name
            :func:`~qiskit_natural_qnn.transpile.devices.get_backend` reads), or any backend Aer can
            copy with ``AerSimulator.from_backend``.
        noise: True for the backend's noise model (gate and readout errors, T1/T2 relaxation),
            False for an ideal simulator of the same device (same target, no noise).
        via: ``"aer"`` (``qiskit_aer.primitives.SamplerV2.from_backend``) or ``"runtime"`` (IBM
            Runtime's sampler in local testing mode on the same ``AerSimulator``, made once, as
            ``make_sampler`` does for ``fake_NAME``; the ``[ibm]`` extra).
        seed: the simulator seed, an int in ``[0, 2**64)`` or None (run functions of this package
            derive one seed per job from their own seed anyway).

    Raises:
        ConfigurationError: an unknown ``via`` or device name, or a bad ``seed``.
        MissingExtraError: ``via="runtime"`` or a ``fake_NAME`` without qiskit-ibm-runtime.
    """
    if via not in NOISY_VIA:
        raise ConfigurationError(f"via must be 'aer' or 'runtime', got {via!r}")
    seed = check_seed(seed, none=True)
    if isinstance(backend, str):
        backend = get_backend(backend)
    # The simulator is made once: a fake backend as mode would rebuild its noise model for every job.
    sim = _simulator(backend, noise)
    if via == "aer":
        from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

        return AerSamplerV2.from_backend(sim, seed=seed)
    sim.set_options(**AER_DEFAULT_BACKEND_OPTIONS)
    sampler = runtime_sampler(sim)
    if seed is not None:
        sampler.options.simulator.seed_simulator = int(seed)
    return sampler


def noisy_setup(
    backend: Any,
    *,
    noise: bool = True,
    via: str = "aer",
    seed: int | None = None,
    optimization_level: int = 1,
    seed_transpiler: int | None = None,
) -> SamplerSetup:
    """:func:`noisy_sampler` as a :class:`~qiskit_natural_qnn.execution.samplers.SamplerSetup` for the device.

    Its ``target`` is the device (circuits are checked and transpiled for it), its pass manager a
    preset one for the device, and its ``name`` says whether the noise model is on:
    ``"fake_perth (noisy)"`` or ``"fake_perth (ideal)"``.

    Args:
        backend: as for :func:`noisy_sampler`.
        noise: keep the device's noise model.
        via: ``"aer"`` or ``"runtime"``.
        seed: the simulator seed.
        optimization_level: of the pass manager, 0-3.
        seed_transpiler: seeds layout and routing.

    Raises:
        ConfigurationError: an unknown ``via`` or device name, a bad ``seed``, ``seed_transpiler`` or
            ``optimization_level``.
        MissingExtraError: ``via="runtime"`` or a ``fake_NAME`` without qiskit-ibm-runtime.
    """
    from qiskit.transpiler import generate_preset_pass_manager

    optimization_level = check_optimization_level(optimization_level)
    seed_transpiler = check_seed(seed_transpiler, name="seed_transpiler", none=True)
    device = get_backend(backend) if isinstance(backend, str) else backend
    sampler = noisy_sampler(device, noise=noise, via=via, seed=seed)
    pm = generate_preset_pass_manager(
        optimization_level=optimization_level, backend=device, seed_transpiler=seed_transpiler
    )
    name = f"{device_name(device)} ({'noisy' if noise else 'ideal'})"
    return SamplerSetup(sampler, pm, device, name)
