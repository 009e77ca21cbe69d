"""What an Aer noise model does to one instruction: Kraus operators per gate and qubits, readout matrices.

:class:`NoiseChannels` reads a ``qiskit_aer.noise.NoiseModel`` once and answers, for an instruction of a
transpiled circuit, the channel Aer applies with it: the quantum error of ``(name, qubits)`` (a local
error for those qubits, else the model's all-qubit error for ``name``), as Kraus operators, and for a
measurement the readout assignment matrix of its qubit. Aer applies a gate's error after the gate and
a measurement's error before it (checked against ``AerSimulator``); the emulation does the same.

Refused (:class:`~qiskit_natural_qnn.exceptions.ConfigurationError`), because the emulation would
otherwise approximate them silently:

* correlated readout errors (a readout error on more than one qubit);
* non-local quantum errors (an error that acts on qubits other than its instruction's);
* custom noise passes other than Aer's ``RelaxationNoisePass`` on delays (which ``NoiseModel.from_backend``
  adds; circuits with delays are refused by :mod:`.laws`, so it never acts).

Crosstalk and drifts are not refused here: no Aer noise model carries them, so an emulation of a
noise model is exact for that model and says nothing about them (``docs/device-noise.md``).

Example:
    >>> from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error
    >>> model = NoiseModel()
    >>> model.add_quantum_error(depolarizing_error(0.01, 1), "sx", [3])
    >>> model.add_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]), [3])
    >>> channels = NoiseChannels(model)
    >>> len(channels.gate_kraus("sx", (3,))), channels.gate_kraus("sx", (4,)) is None
    (4, True)
    >>> channels.readout(3).tolist(), channels.readout(4) is None
    ([[0.9, 0.1], [0.2, 0.8]], True)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = ["NoiseChannels", "noise_model_of"]


def noise_model_of(backend: Any, *, readout_error: bool = True, gate_error: bool = True) -> Any:
    """The noise model Aer simulates a device with: ``NoiseModel.from_backend``, as ``AerSimulator.from_backend``.

    Args:
        backend: a ``BackendV2`` (an IBM fake or real backend) or a name for
            :func:`~qiskit_natural_qnn.transpile.devices.get_backend` (``"fake_torino"``).
        readout_error: keep the readout assignment errors.
        gate_error: keep the gates' depolarizing and thermal-relaxation errors.

    Returns:
        The ``NoiseModel``; for a name, the one read at the first call (shared: copy it before changing it).

    Raises:
        ConfigurationError: an unknown device name, or a backend Aer cannot read a noise model from.
        MissingExtraError: ``fake_NAME`` without qiskit-ibm-runtime (the ``[ibm]`` extra).
    """
    if isinstance(backend, str):  # a named (fake) device never changes: read its model once
        return _named_noise_model(backend.strip().lower(), readout_error, gate_error)
    return _noise_model(backend, readout_error, gate_error)


@functools.lru_cache(maxsize=8)
def _named_noise_model(name: str, readout_error: bool, gate_error: bool) -> Any:
    from qiskit_natural_qnn.transpile.devices import get_backend

    return _noise_model(get_backend(name), readout_error, gate_error)


def _noise_model(backend: Any, readout_error: bool, gate_error: bool) -> Any:
    from qiskit_aer.noise import NoiseModel

    try:
        return NoiseModel.from_backend(
            backend, readout_error=readout_error, gate_error=gate_error, thermal_relaxation=gate_error
        )
    except Exception as exc:  # noqa: BLE001 - Aer raises NoiseError or AttributeError for non-backends
        raise ConfigurationError(
            f"cannot read a noise model from {type(backend).__name__} ({exc}); pass a BackendV2 with a Target "
            "(e.g. an IBM fake backend, 'fake_torino') or an Aer NoiseModel as noise_model="
        ) from None


def _private(model: Any, name: str) -> Any:
    """An attribute of the Aer noise model that holds its errors (Aer keeps them in these fields)."""
    if not hasattr(model, name):
        raise ConfigurationError(
            f"this qiskit-aer NoiseModel has no {name!r}; the emulation reads the errors of qiskit-aer 0.17-0.18 "
            "noise models: install a qiskit-aer of that series"
        )
    return getattr(model, name)


class NoiseChannels:
    """The channels an Aer ``NoiseModel`` attaches to instructions, as NumPy matrices (read once, cached).

    Args:
        noise_model: a ``qiskit_aer.noise.NoiseModel``, or None for no noise at all.

    Raises:
        ConfigurationError: a model the emulation cannot reproduce exactly (see the module docstring).
    """

    def __init__(self, noise_model: Any = None) -> None:
        self.noise_model = noise_model
        self._kraus: dict[tuple[str, tuple[int, ...]], list[np.ndarray] | None] = {}
        self._readout: dict[int, np.ndarray | None] = {}
        if noise_model is None:
            self._local: dict[str, dict[tuple[int, ...], Any]] = {}
            self._default: dict[str, Any] = {}
            self._local_readout: dict[tuple[int, ...], Any] = {}
            self._default_readout: Any = None
            return
        from qiskit_aer.noise import NoiseModel

        if not isinstance(noise_model, NoiseModel):
            raise ConfigurationError(
                f"noise_model must be a qiskit_aer.noise.NoiseModel, got {type(noise_model).__name__}; build one "
                "with NoiseModel.from_backend(backend) or pass backend= instead"
            )
        self._local = dict(_private(noise_model, "_local_quantum_errors"))
        self._default = dict(_private(noise_model, "_default_quantum_errors"))
        self._local_readout = dict(_private(noise_model, "_local_readout_errors"))
        self._default_readout = _private(noise_model, "_default_readout_error")
        self._check(noise_model)

    def _check(self, noise_model: Any) -> None:
        nonlocal_errors = getattr(noise_model, "_nonlocal_quantum_errors", None)
        if nonlocal_errors:
            raise ConfigurationError(
                "the noise model has non-local quantum errors (errors on qubits other than their instruction's), "
                "which the emulation does not model; remove them or simulate the circuits on Aer"
            )
        correlated = sorted(q for q in self._local_readout if len(q) != 1)
        if correlated or (self._default_readout is not None and self._default_readout.number_of_qubits != 1):
            raise ConfigurationError(
                f"the noise model has correlated readout errors (on qubits {correlated or 'all'}), which the "
                "emulation does not model (it reads each qubit independently); use single-qubit readout errors "
                "or simulate the circuits on Aer"
            )
        from qiskit.circuit import Delay
        from qiskit_aer.noise.passes import RelaxationNoisePass

        for noise_pass in _private(noise_model, "_custom_noise_passes"):
            ops = tuple(getattr(noise_pass, "_ops", ()))
            if not (isinstance(noise_pass, RelaxationNoisePass) and ops and all(op is Delay for op in ops)):
                raise ConfigurationError(
                    f"the noise model has a custom noise pass {type(noise_pass).__name__} (on {ops or 'every'} "
                    "instruction), which the emulation does not model; only the relaxation of delays that "
                    "NoiseModel.from_backend adds is accepted (and circuits with delays are refused)"
                )

    @property
    def is_ideal(self) -> bool:
        """True when the model attaches no error to any instruction and no readout error."""
        return not (self._local or self._default or self._local_readout or self._default_readout is not None)

    def gate_kraus(self, name: str, qubits: tuple[int, ...]) -> list[np.ndarray] | None:
        """The Kraus operators of the error Aer applies with instruction ``name`` on ``qubits``, or None.

        The operators act on ``qubits`` in their order (Qiskit's little-endian convention: the first
        qubit is the least significant bit of the matrix index). A local error for ``(name, qubits)``
        wins over the model's all-qubit error for ``name``, as in Aer.
        """
        key = (str(name), tuple(int(q) for q in qubits))
        if key not in self._kraus:
            error = self._local.get(key[0], {}).get(key[1])
            if error is None:
                error = self._default.get(key[0])
            self._kraus[key] = None if error is None else _kraus_of(error, key)
        return self._kraus[key]

    def on_qubits(self, qubits: Any) -> Any:
        """The noise model cut down to the instructions on ``qubits``: what Aer applies to circuits that use no other.

        Aer simulates a circuit that acts only on ``qubits`` identically (bit for bit, for a given
        ``seed_simulator``) with this model and with the whole one, but faster: it no longer walks the
        errors of the device's other qubits for every circuit (about half of the time per circuit for
        a 96-qubit layer circuit on a 133-qubit device's model). Kept: the local errors and readout
        errors whose qubits all lie in ``qubits``, and every all-qubit error. Dropped: the rest, and the
        relaxation of delays (circuits with delays are refused by :mod:`.laws`).

        Returns:
            A new ``NoiseModel``, or None when this reads no noise model.
        """
        if self.noise_model is None:
            return None
        from qiskit_aer.noise import NoiseModel

        keep = {int(q) for q in qubits}
        model = NoiseModel(basis_gates=list(self.noise_model.basis_gates))
        for name, errors in self._local.items():
            for on, error in errors.items():
                if set(on) <= keep:
                    model.add_quantum_error(error, name, list(on))
        for name, error in self._default.items():
            model.add_all_qubit_quantum_error(error, name)
        for on, error in self._local_readout.items():
            if set(on) <= keep:
                model.add_readout_error(error, list(on))
        if self._default_readout is not None:
            model.add_all_qubit_readout_error(self._default_readout)
        return model

    def readout(self, qubit: int) -> np.ndarray | None:
        """The readout matrix ``R[true bit, recorded bit]`` of ``qubit``, or None when it is read perfectly."""
        q = int(qubit)
        if q not in self._readout:
            error = self._local_readout.get((q,), self._default_readout)
            self._readout[q] = None if error is None else np.asarray(error.probabilities, dtype=np.float64)
        return self._readout[q]


def _kraus_of(error: Any, key: tuple[str, tuple[int, ...]]) -> list[np.ndarray]:
    from qiskit.quantum_info import Kraus

    if error.num_qubits != len(key[1]):
        raise ConfigurationError(
            f"the noise model's error on {key[0]!r} acts on {error.num_qubits} qubits, the instruction on "
            f"{len(key[1])} ({list(key[1])}); the emulation models errors on their instruction's qubits only"
        )
    return [np.asarray(k, dtype=np.complex128) for k in Kraus(error.to_quantumchannel()).data]
