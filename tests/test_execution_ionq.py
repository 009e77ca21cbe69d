"""IonQ, offline: capability checks, job payloads, and a mocked HTTP transport end to end.

Nothing here touches the network: qiskit-ionq's qubit-count lookup is patched to its offline fallback
(4 qubits), and ``IonQClient.submit_job`` / ``retrieve_job`` / ``get_results`` are replaced by a fake
IonQ service that builds the real JSON payload (``qiskit_to_ionq``), computes each submitted circuit's
exact distribution with a statevector, and answers like the v0.4 API: probabilities for the ideal
simulator, per-shot outcomes for a QPU. Payloads for wide circuits are built without transpiling on
the 4-qubit offline backends.

Statistics: 1,000 passes of one image (100 copies x 10 shots), joint hidden-register counts against
:func:`qiskit_natural_qnn.exact.exact_distribution`, Pearson chi-square, pass at ``p >= 1e-4``.

The real submission test runs only with ``IONQ_API_KEY`` set.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from unittest import mock

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.primitives import BackendSamplerV2
from qiskit.quantum_info import Operator, Statevector

pytest.importorskip("qiskit_ionq", reason="the [ionq] extra (qiskit-ionq) is not installed")

from qiskit_natural_qnn import ConfigurationError, NaturalQNN  # noqa: E402
from qiskit_natural_qnn.circuits import bind_layer, layer_circuit  # noqa: E402
from qiskit_natural_qnn.exact import exact_distribution  # noqa: E402
from qiskit_natural_qnn.exceptions import TargetCapabilityError  # noqa: E402
from qiskit_natural_qnn.execution import choose_mode, packed_layer_circuit, predict_on_sampler, sampler_profile  # noqa: E402
from qiskit_natural_qnn.inference import predict  # noqa: E402
from qiskit_natural_qnn.providers import check_ionq_job, ionq_capabilities, ionq_payload, ionq_sampler  # noqa: E402
from qiskit_natural_qnn.providers.ionq import (  # noqa: E402
    IONQ_KEY_ENV,
    has_ionq_key,
    ionq_pass_manager,
)

from .stats import chi2_pvalue  # noqa: E402

ALPHA = 1e-4

# qiskit-ionq warns at every backend construction that its default optimization level is 2; this
# package transpiles for IonQ at level 0 or 1 itself.
pytestmark = pytest.mark.filterwarnings("ignore::qiskit_ionq.exceptions.IonQTranspileLevelWarning")


class FakeIonQService:
    """The IonQ v0.4 API as far as qiskit-ionq uses it: submit, job status, results (probabilities, shots)."""

    def __init__(self, seed: int = 0) -> None:
        self.jobs: dict[str, dict] = {}
        self.payloads: list[dict] = []
        self.rng = np.random.default_rng(seed)

    def submit_job(self, client, job):
        from qiskit_ionq.helpers import qiskit_to_ionq

        payload = json.loads(
            qiskit_to_ionq(job.circuit, job.backend(), job._passed_args, job.extra_query_params, job.extra_metadata)
        )
        self.payloads.append(payload)
        circuits = job.circuit if isinstance(job.circuit, (list, tuple)) else [job.circuit]
        dists = [Statevector(qc.remove_final_measurements(inplace=False)).probabilities() for qc in circuits]
        job_id = f"ionq-{len(self.jobs) + 1}"
        self.jobs[job_id] = {"payload": payload, "dists": dists, "shots": int(payload["shots"])}
        return {"id": job_id, "status": "submitted"}

    def retrieve_job(self, client, job_id):
        if job_id.startswith("child:"):
            _, parent, i = job_id.split(":")
            return {"id": job_id, "status": "completed", "results": {"shots": {"url": f"/shots/{parent}/{i}"}}}
        job = self.jobs[job_id]
        n = len(job["dists"])
        response = {
            "id": job_id,
            "status": "completed",
            "stats": {"qubits": job["payload"]["input"]["qubits"], "circuits": n},
            "metadata": job["payload"]["metadata"],
            "results": {"probabilities": {"url": f"/prob/{job_id}"}, "shots": {"url": f"/shots/{job_id}/0"}},
        }
        if n > 1:
            response["child_job_ids"] = [f"child:{job_id}:{i}" for i in range(n)]
        return response

    def get_results(self, client, results_url, sharpen=None, extra_query_params=None):
        kind, job_id, *rest = results_url.strip("/").split("/")
        job = self.jobs[job_id]
        if kind == "prob":
            per = {
                f"c{i}": {str(k): float(p) for k, p in enumerate(d) if p > 1e-12} for i, d in enumerate(job["dists"])
            }
            return per if len(per) > 1 else per["c0"]
        d = job["dists"][int(rest[0])]
        return [int(v) for v in self.rng.choice(len(d), size=job["shots"], p=d / d.sum())]


def _no_network(*args, **kwargs):
    raise AssertionError("the offline IonQ tests must not reach the network")


@pytest.fixture()
def ionq():
    """Offline qiskit-ionq backends (4 qubits) talking to a FakeIonQService."""
    from qiskit_ionq import IonQProvider
    from qiskit_ionq.ionq_client import IonQClient

    service = FakeIonQService()
    with (
        mock.patch("qiskit_ionq.ionq_backend.get_n_qubits", lambda name, fallback=4: fallback),
        mock.patch("qiskit_ionq.ionq_client.requests.get", _no_network),
        mock.patch("qiskit_ionq.ionq_client.requests.post", _no_network),
        mock.patch.object(IonQClient, "submit_job", lambda self, job: service.submit_job(self, job)),
        mock.patch.object(IonQClient, "retrieve_job", lambda self, job_id: service.retrieve_job(self, job_id)),
        mock.patch.object(
            IonQClient,
            "get_results",
            lambda self, results_url, sharpen=None, extra_query_params=None: service.get_results(self, results_url),
        ),
    ):
        provider = IonQProvider(token="offline-test-key")
        yield {
            "service": service,
            "simulator": provider.get_backend("simulator"),
            "qpu": provider.get_backend("qpu.aria-1"),
        }


def _net(sizes, **kw) -> NaturalQNN:
    net = NaturalQNN(layer_sizes=sizes, seed=5, dtype=torch.float64, **kw)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(1.5)
    return net


# ----------------------------------------------------------------------------------- capabilities
def test_capabilities_of_offline_backends(ionq):
    sim, qpu = ionq["simulator"], ionq["qpu"]
    caps = ionq_capabilities(sim)
    assert (caps.name, caps.num_qubits, caps.simulator, caps.ideal) == ("ionq_simulator", 4, True, True)
    assert caps.control_flow is False and caps.multi_circuit_mid_circuit_measurement is False
    assert ionq_capabilities(qpu).simulator is False and ionq_capabilities(qpu).ideal is False
    profile = sampler_profile(ionq_sampler(sim))
    assert profile.name == "ionq:ionq_simulator" and profile.num_qubits == 4 and not profile.dynamic


def test_capability_checks_refuse_what_ionq_cannot_run(ionq):
    dynamic = QuantumCircuit(1, 1, name="dyn")
    dynamic.measure(0, 0)
    with dynamic.if_test((dynamic.clbits[0], 1)):
        dynamic.x(0)
    with pytest.raises(
        TargetCapabilityError,
        match=r"^IonQ runs no server-side control flow: circuit 'dyn' has "
        r"conditional operations; run the network layer by layer",
    ):
        check_ionq_job([dynamic])
    mcm = QuantumCircuit(1, 2, name="mcm")
    mcm.measure(0, 0)
    mcm.h(0)
    mcm.measure(0, 1)
    check_ionq_job([mcm])  # alone, a mid-circuit measurement is fine
    with pytest.raises(
        TargetCapabilityError,
        match=r"^IonQ runs a circuit with mid-circuit measurement or reset only "
        r"as a single-circuit job, and circuit 'mcm' has some; submit one "
        r"circuit per job$",
    ):
        check_ionq_job([mcm, mcm])
    wide = QuantumCircuit(6, name="wide")
    with pytest.raises(TargetCapabilityError, match=r"^circuit 'wide' needs 6 qubits, ionq_simulator has 4"):
        check_ionq_job([wide], ionq_capabilities(ionq["simulator"]))
    # auto chooses layerwise on IonQ; an explicit dynamic request is refused before anything is sent
    net = _net([3, 2, 2, 2], a=0.5)
    sampler = ionq_sampler(ionq["simulator"])
    assert choose_mode(net, sampler_profile(sampler)).mode == "layerwise"
    with pytest.raises(TargetCapabilityError, match=r"ionq:ionq_simulator runs no control flow"):
        predict_on_sampler(net, np.zeros((1, 3)), sampler=sampler, shots=2, mode="dynamic")
    assert ionq["service"].payloads == []
    with pytest.raises(ConfigurationError, match=r"^transpile for IonQ at optimization_level 0 or 1, got 2"):
        ionq_pass_manager(ionq["simulator"], optimization_level=2)


def test_core_native_gates_equal_qiskit_ionqs():
    """The offline IonQ target (core, no qiskit-ionq) uses the same gates: names, parameters, matrices."""
    import qiskit_ionq

    from qiskit_natural_qnn.transpile import ionq_native

    rng = np.random.default_rng(7)
    for _ in range(5):
        p = [float(v) for v in rng.uniform(-1, 1, size=3)]
        pairs = [
            (ionq_native.GPIGate(p[0]), qiskit_ionq.GPIGate(p[0])),
            (ionq_native.GPI2Gate(p[0]), qiskit_ionq.GPI2Gate(p[0])),
            (ionq_native.MSGate(*p), qiskit_ionq.MSGate(*p)),
            (ionq_native.ZZGate(p[2]), qiskit_ionq.ZZGate(p[2])),
        ]
        for ours, theirs in pairs:
            assert (ours.name, ours.num_qubits, ours.params) == (theirs.name, theirs.num_qubits, theirs.params)
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-12)
            assert Operator(ours.definition).equiv(Operator(ours))


# ---------------------------------------------------------------------------------------- payloads
def test_payload_of_a_wide_packed_layer_circuit_without_transpiling(ionq):
    net = NaturalQNN(layer_sizes=[10, 16, 16, 10], a=0.5, seed=0)
    packed = packed_layer_circuit(layer_circuit(net, layer=2), 2)  # 32 qubits on a 4-qubit offline backend
    angles = np.linspace(0.1, 3.0, 32)
    (bound,) = bind_layer(packed, angles)
    payload = ionq_payload(bound, ionq["simulator"], shots=1, seed=17)
    assert payload["type"] == "ionq.circuit.v1" and payload["backend"] == "simulator" and payload["shots"] == 1
    assert payload["input"]["qubits"] == 32 and payload["input"]["gateset"] == "qis"
    gates = payload["input"]["circuit"]
    assert [g["gate"] for g in gates] == ["ry"] * 32
    assert sorted(g["targets"][0] for g in gates) == list(range(32))
    np.testing.assert_allclose(sorted(g["rotation"] for g in gates), angles)
    assert payload["metadata"]["sampler_seed"] == "17" and payload["metadata"]["shots"] == "1"
    many = ionq_payload(bind_layer(packed, np.stack([angles, angles[::-1]])), ionq["qpu"], shots=3)
    assert many["type"] == "ionq.multi-circuit.v1" and len(many["input"]["circuits"]) == 2
    assert many["backend"] == "qpu.aria-1"


# --------------------------------------------------------------------------- mocked transport: runs
@pytest.mark.parametrize("device", ["simulator", "qpu"])
def test_layerwise_run_through_mocked_transport_matches_exact(ionq, device):
    backend = ionq[device]
    net = _net([3, 2, 2, 2], a=0.5)
    x = np.random.default_rng(0).uniform(size=3)
    pred = predict_on_sampler(net, np.repeat(x[None], 100, axis=0), sampler=ionq_sampler(backend), shots=10, seed=8)
    assert pred.mode == "layerwise"
    service = ionq["service"]
    assert len(service.payloads) == 2 == len(pred.jobs)  # one IonQ job per hidden layer
    assert [p["type"] for p in service.payloads] == ["ionq.multi-circuit.v1"] * 2
    assert len(service.payloads[0]["input"]["circuits"]) == 50  # 100 images, 2 copies per 4-qubit circuit
    assert len(service.payloads[1]["input"]["circuits"]) == 500  # 1,000 passes, 2 copies per circuit
    assert service.payloads[0]["shots"] == 10 and service.payloads[1]["shots"] == 1
    bits = [((1 - h) // 2).reshape(-1, 2) for h in pred.hidden]
    counts = Counter(tuple(tuple(int(v) for v in layer[i]) for layer in bits) for i in range(1000))
    p = chi2_pvalue(counts, exact_distribution(net, x))
    assert p >= ALPHA, f"IonQ {device} (mocked): chi-square p = {p:.3g}"


def test_classical_network_on_mocked_qpu_equals_fast_path(ionq):
    net = _net([3, 2, 2, 3], a=0.0)
    images = np.random.default_rng(1).uniform(size=(6, 3))
    pred = predict_on_sampler(net, images, sampler=ionq_sampler(ionq["qpu"]), shots=3, seed=1)
    fast = predict(net, images, shots=3, seed=0, return_hidden=True)
    np.testing.assert_array_equal(pred.shot_classes, fast.shot_classes)
    for ours, theirs in zip(pred.hidden, fast.hidden):
        np.testing.assert_array_equal(ours, theirs)


def test_plain_backend_sampler_misreads_ionq_results_and_the_adapter_does_not(ionq):
    """Why IonQShotsBackend exists: qiskit-ionq memory is binary (or absent) where BackendSamplerV2 wants hex."""
    qc = QuantumCircuit(2, 2)
    qc.x(1)
    qc.measure([0, 1], [0, 1])
    for device in ("simulator", "qpu"):
        backend = ionq[device]
        raw = BackendSamplerV2(backend=backend).run([qc], shots=4).result()[0].data.c.get_counts()
        ours = ionq_sampler(backend).run([qc], shots=4).result()[0].data.c.get_counts()
        assert ours == {"10": 4}
        assert raw != {"10": 4}


@pytest.mark.skipif(
    not has_ionq_key(),
    reason=f"{IONQ_KEY_ENV} is not set: the real IonQ submission test needs an IonQ API key in the environment",
)
def test_real_ionq_simulator_submission():  # pragma: no cover - needs the network and a key
    from qiskit_natural_qnn.providers import make_sampler

    net = _net([3, 2, 2, 2], a=0.5)
    pred = predict_on_sampler(
        net, np.full((2, 3), 0.5), sampler=make_sampler("ionq:simulator", shots=5), shots=5, seed=1
    )
    assert pred.mode == "layerwise" and pred.shot_classes.shape == (2, 5) and len(pred.jobs) == 2
    assert math.isfinite(float(pred.vote_counts.sum()))
