"""Naming a device: one grammar for every place that takes a backend string, and the offline devices.

Every backend string of this package -- ``qnqnn evaluate --backend``, ``qnqnn estimate``,
``qnqnn noise-sweep``, ``qnqnn circuit``, :func:`get_backend`, :func:`~.targets.target_profile`,
:func:`~.targets.transpile_for_target` and ``qiskit_natural_qnn.providers.make_sampler`` -- is read by
:func:`parse_device`, in one of the forms of :data:`DEVICES` (case-insensitive):

=================  ======================================================  =======  =======
form               device                                                  offline  sampler
=================  ======================================================  =======  =======
``aer``            Aer's simulator (automatic method)                      yes      yes
``aer-mps``        Aer's simulator with ``matrix_product_state``           yes      yes
``statevector``    Qiskit's ``StatevectorSampler`` (no control flow)       rules    yes
``fake_NAME``      an IBM fake device that qiskit-ibm-runtime ships         yes      yes
                   (``fake_torino``, ``fake_manila``...; ``FakeTorino``
                   and ``FakeManilaV2`` spell the same), its Target and
                   noise model; needs the ``[ibm]`` extra
``ibm:NAME``       an IBM Quantum device in the cloud (credentials)        no       yes
``ionq:NAME``      an IonQ backend in the cloud (``ionq:simulator``,      no       yes
                   ``ionq:qpu.forte-1``; ``IONQ_API_KEY``)
``ionq``,          IonQ's native gates as an offline Target                 yes      no
``ionq_aria``,     (:func:`~.ionq_native.ionq_native_target`: Aria 25
``ionq_forte``     qubits with ``ms``, Forte 36 with ``zz``)
=================  ======================================================  =======  =======

*offline*: :func:`get_backend` builds it here, without credentials or network ("rules": it has no
device, only the ``"static"`` rules). *sampler*: ``make_sampler`` runs on it. Cloud devices are made
by ``qiskit_natural_qnn.providers`` (the ``[ibm]`` and ``[ionq]`` extras), never by the core.

Example:
    >>> parse_device("FakeManilaV2")
    DeviceName(kind='fake', name='fake_manila')
    >>> parse_device("ionq:qpu.forte-1").spec
    'ionq:qpu.forte-1'
    >>> sorted(get_backend("ionq_forte").operation_names)
    ['gpi', 'gpi2', 'measure', 'reset', 'zz']
    >>> parse_device("braket:sv1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qiskit_natural_qnn.exceptions.ConfigurationError: unknown backend 'braket:sv1'; expected one of aer, aer-mps, ...
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from qiskit.transpiler import Target

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.optional import require
from qiskit_natural_qnn.transpile.ionq_native import ionq_native_target

__all__ = [
    "DEVICES",
    "DEVICE_FORMS",
    "IONQ_OFFLINE_TARGETS",
    "SAMPLER_FORMS",
    "DeviceForm",
    "DeviceName",
    "device_name",
    "fake_backend_names",
    "get_backend",
    "ionq_native_target",
    "parse_device",
    "target_of",
]


class DeviceForm(NamedTuple):
    """One form of device name.

    Attributes:
        form: how it is written (``"fake_NAME"``).
        kind: what :func:`parse_device` returns as :attr:`DeviceName.kind`.
        offline: :func:`get_backend` builds it without credentials or network.
        sampler: ``qiskit_natural_qnn.providers.make_sampler`` runs on it.
        rules: the named target rules (:data:`~.targets.PROFILES`) of a device that has no backend
            object, or None.
        example: a name of this form.
    """

    form: str
    kind: str
    offline: bool
    sampler: bool
    rules: str | None
    example: str


#: Every form of device name, in the order error messages list them.
DEVICES: tuple[DeviceForm, ...] = (
    DeviceForm("aer", "aer", True, True, None, "aer"),
    DeviceForm("aer-mps", "aer-mps", True, True, None, "aer-mps"),
    DeviceForm("statevector", "statevector", False, True, "static", "statevector"),
    DeviceForm("fake_NAME", "fake", True, True, None, "fake_torino"),
    DeviceForm("ibm:NAME", "ibm", False, True, None, "ibm:ibm_torino"),
    DeviceForm("ionq:NAME", "ionq", False, True, None, "ionq:simulator"),
    DeviceForm("ionq", "ionq-native", True, False, None, "ionq"),
    DeviceForm("ionq_aria", "ionq-native", True, False, None, "ionq_aria"),
    DeviceForm("ionq_forte", "ionq-native", True, False, None, "ionq_forte"),
)

#: The forms, as error messages and help texts list them.
DEVICE_FORMS: tuple[str, ...] = tuple(f.form for f in DEVICES)

#: The forms a sampler runs on (``make_sampler``).
SAMPLER_FORMS: tuple[str, ...] = tuple(f.form for f in DEVICES if f.sampler)

#: The offline IonQ targets: name -> (qubits, two-qubit gate).
IONQ_OFFLINE_TARGETS: dict[str, tuple[int, str]] = {
    "ionq": (25, "ms"),
    "ionq_aria": (25, "ms"),
    "ionq_forte": (36, "zz"),
}

_KINDS = {f.kind: f for f in DEVICES}
_ALIASES = {"aer_simulator": "aer", "aer_mps": "aer-mps"}
_EXAMPLES = ", ".join(repr(e) for e in ("aer-mps", "fake_torino", "ibm:ibm_torino", "ionq:simulator", "ionq_forte"))


class DeviceName(NamedTuple):
    """A parsed device name (:func:`parse_device`).

    Attributes:
        kind: ``"aer"``, ``"aer-mps"``, ``"statevector"``, ``"fake"``, ``"ibm"``, ``"ionq"`` (the
            cloud) or ``"ionq-native"`` (the offline target).
        name: the device within its kind: ``""`` for simulators, ``"fake_manila"``, ``"ibm_torino"``,
            ``"simulator"``, ``"ionq_forte"``.
    """

    kind: str
    name: str

    @property
    def form(self) -> DeviceForm:
        """The :class:`DeviceForm` of this name."""
        return _KINDS[self.kind] if self.kind != "ionq-native" else next(f for f in DEVICES if f.form == self.name)

    @property
    def spec(self) -> str:
        """The canonical spelling (``"fake_manila"``, ``"ibm:ibm_torino"``, ``"aer-mps"``)."""
        if self.kind in ("ibm", "ionq"):
            return f"{self.kind}:{self.name}"
        return self.name or self.kind


def _unknown(text: Any) -> ConfigurationError:
    return ConfigurationError(f"unknown backend {text!r}; expected one of {', '.join(DEVICE_FORMS)} (e.g. {_EXAMPLES})")


def _fake_stem(rest: str) -> str:
    """``"Manila"``, ``"_manila"``, ``"ManilaV2"``, ``"_manila_v2"`` -> ``"manila"``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", rest.strip("_")).lower()
    return re.sub(r"_?v2$", "", snake)


def parse_device(name: str | DeviceName) -> DeviceName:
    """Read a device name in one of the forms of :data:`DEVICES` (the module docstring lists them).

    Only the spelling is checked: whether ``fake_NAME`` exists is known when :func:`get_backend`
    loads it, and a cloud device when the provider connects.

    Raises:
        ConfigurationError: not one of the forms (the message lists them), or a form without its ``NAME``.

    Example:
        >>> parse_device("aer_mps"), parse_device("ionq:").spec
        (DeviceName(kind='aer-mps', name=''), 'ionq:simulator')
    """
    if isinstance(name, DeviceName):
        return name
    if not isinstance(name, str):
        raise ConfigurationError(
            f"a backend name must be a str, got {type(name).__name__}; pass one of {', '.join(DEVICE_FORMS)}"
        )
    text = name.strip()
    lower = _ALIASES.get(text.lower(), text.lower())
    if lower in ("aer", "aer-mps", "statevector"):
        return DeviceName(lower, "")
    if lower in IONQ_OFFLINE_TARGETS:
        return DeviceName("ionq-native", lower)
    if lower.startswith("ibm:"):
        device = text[4:].strip()
        if not device:
            raise ConfigurationError(f"backend {name!r} names no IBM device; pass e.g. 'ibm:ibm_torino'")
        return DeviceName("ibm", device)
    if lower.startswith("ionq:"):
        return DeviceName("ionq", text[5:].strip() or "simulator")
    if lower.startswith("fake") and _fake_stem(text[4:]):
        return DeviceName("fake", "fake_" + _fake_stem(text[4:]))
    raise _unknown(name)


def _fake_classes() -> dict[str, type]:
    """``{"fake_manila": FakeManilaV2, ...}``: every fake device qiskit-ibm-runtime ships (the ``[ibm]`` extra)."""
    from qiskit.providers import BackendV2

    provider = require("qiskit_ibm_runtime.fake_provider", extra="ibm")
    out: dict[str, type] = {}
    for attr in dir(provider):
        cls = getattr(provider, attr)
        if attr.startswith("Fake") and isinstance(cls, type) and issubclass(cls, BackendV2):
            out.setdefault("fake_" + _fake_stem(attr[4:]), cls)
    return out


def fake_backend_names() -> list[str]:
    """The ``fake_NAME`` devices the installed qiskit-ibm-runtime ships, sorted.

    Raises:
        MissingExtraError: qiskit-ibm-runtime is not installed (``pip install "qiskit-natural-qnn[ibm]"``).

    Example:
        >>> {"fake_manila", "fake_torino", "fake_sherbrooke"} <= set(fake_backend_names())
        True
    """
    return sorted(_fake_classes())


def get_backend(name: str | DeviceName) -> Any:
    """The offline device of a name (:func:`parse_device`): a backend, or a Target for IonQ's native gates.

    ``aer``: an ``AerSimulator``; ``aer-mps``: one with ``matrix_product_state``; ``fake_NAME``: the
    IBM fake backend (its Target, noise model and durations); ``ionq``, ``ionq_aria``, ``ionq_forte``:
    :func:`~.ionq_native.ionq_native_target`.

    Raises:
        ConfigurationError: an unknown name or fake device (the message lists what exists), or a name
            with no offline device (``statevector``; ``ibm:NAME`` and ``ionq:NAME`` are made by
            ``qiskit_natural_qnn.providers.make_sampler``).
        MissingExtraError: ``fake_NAME`` without qiskit-ibm-runtime (the ``[ibm]`` extra).

    Example:
        >>> get_backend("fake_sherbrooke").name, get_backend("fake_manila").name
        ('fake_sherbrooke', 'fake_manila')
        >>> get_backend("aer-mps").options.method
        'matrix_product_state'
    """
    device = parse_device(name)
    if device.kind in ("aer", "aer-mps"):
        from qiskit_aer import AerSimulator

        return AerSimulator(method="matrix_product_state") if device.kind == "aer-mps" else AerSimulator()
    if device.kind == "ionq-native":
        qubits, gate = IONQ_OFFLINE_TARGETS[device.name]
        return ionq_native_target(num_qubits=qubits, two_qubit_gate=gate)
    if device.kind == "fake":
        classes = _fake_classes()
        cls = classes.get(device.name)
        if cls is None:
            raise ConfigurationError(
                f"unknown fake backend {name!r}; the installed qiskit-ibm-runtime ships {', '.join(sorted(classes))}"
            )
        return cls()
    if device.kind == "statevector":
        raise ConfigurationError(
            "'statevector' is a sampler without a device: its rules are the 'static' profile; pass 'static' "
            "for its rules, or a device name such as 'aer' or 'fake_torino'"
        )
    raise ConfigurationError(
        f"{device.spec!r} is a cloud device, made with credentials by "
        f"qiskit_natural_qnn.providers.make_sampler({device.spec!r}) (its .target is the backend); offline, "
        f"pass an offline device such as 'fake_torino' or 'ionq_forte'"
    )


def target_of(device: Any) -> Target | None:
    """The :class:`~qiskit.transpiler.Target` of a device: a Target, a backend, or a name (:func:`get_backend`).

    Returns:
        The Target, or None for an object that has none.

    Example:
        >>> target_of("ionq").num_qubits
        25
    """
    if isinstance(device, (str, DeviceName)):
        device = get_backend(device)
    if isinstance(device, Target):
        return device
    target = getattr(device, "target", None)
    return target if isinstance(target, Target) else None


def device_name(device: Any) -> str:
    """A readable name of a device: a backend's ``name``, a Target's description, or a name's spelling.

    Example:
        >>> device_name("FakeTorino"), device_name(get_backend("ionq"))
        ('fake_torino', 'ionq_native_ms')
    """
    if isinstance(device, (str, DeviceName)):
        return parse_device(device).spec
    name = getattr(device, "name", None)
    name = name() if callable(name) else name
    return str(name or getattr(device, "description", None) or type(device).__name__)
