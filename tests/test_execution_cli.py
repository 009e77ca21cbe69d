"""``--backend`` options for ``qnqnn evaluate`` (cli/execution.py), and per-job seeding per sampler kind."""

from __future__ import annotations

import argparse
import importlib.abc
import json
import sys

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.primitives import BackendSamplerV2, StatevectorSampler
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qiskit_natural_qnn import ConfigurationError, NaturalQNN
from qiskit_natural_qnn.cli.execution import (
    add_backend_arguments,
    run_evaluate_on_backend,
)
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.execution import JobSubmitter, derive_seed, predict_on_sampler, resolve_run_seed
from qiskit_natural_qnn.inference import predict


def _parser() -> argparse.ArgumentParser:
    """What ``qnqnn evaluate`` has of its own (--shots, --seed, --json), plus the backend options."""
    parser = argparse.ArgumentParser(prog="qnqnn evaluate")
    parser.add_argument("--shots", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    add_backend_arguments(parser)
    return parser


def _model_and_data():
    net = NaturalQNN(layer_sizes=[6, 12, 12, 3], a=0.5, seed=0)
    rng = np.random.default_rng(0)
    data = Dataset(images=rng.uniform(size=(8, 6)).astype(np.float32), labels=rng.integers(0, 3, size=8), name="toy")
    return net, data


def test_defaults_leave_the_fast_path_alone():
    args = _parser().parse_args([])
    assert args.backend is None and args.mode == "auto" and args.copies == "auto" and args.record is None
    assert args.optimization_level == 1 and args.execution == "session" and args.noiseless is False
    with pytest.raises(SystemExit):
        _parser().parse_args(["--copies", "0"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["--mode", "fast"])


def test_evaluate_on_aer_prints_errors_mode_and_jobs_and_resumes_from_a_record(tmp_path, capsys):
    net, data = _model_and_data()
    record = tmp_path / "run.json"
    args = _parser().parse_args(["--backend", "aer-mps", "--shots", "5", "--seed", "3", "--record", str(record)])
    assert run_evaluate_on_backend(args, net, data) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("backend: aer-mps (aer_simulator")
    assert out[1] == (
        "execution: layerwise: no single dynamic circuit is exact: stretch 'tanh' is not affine in z: no "
        "sum of fixed per-bit rotations reproduces tanh(z/a); layer-by-layer execution is exact for "
        "every network"
    )
    assert out[2] == "jobs: 2 (0 reused from the record); seed 3"
    assert out[3] == f"record: {record}" and out[4] == "data: toy, 8 images"
    assert out[5].startswith("single-shot error: ") and out[6].startswith("majority-vote error (5 shots): ")
    run_evaluate_on_backend(args, net, data)
    assert capsys.readouterr().out.splitlines()[2] == "jobs: 2 (2 reused from the record); seed 3"


def test_evaluate_json_output(capsys):
    net, data = _model_and_data()
    args = _parser().parse_args(["--backend", "statevector", "--shots", "3", "--json", "--mode", "layerwise"])
    assert run_evaluate_on_backend(args, net, data) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["backend"] == "statevector" and doc["mode"] == "layerwise" and doc["shots"] == 3
    assert doc["n_images"] == 8 and doc["seed"] == 0 and len(doc["jobs"]) == 2
    assert set(doc["jobs"][0]) == {"key", "job_id", "seed", "n_sets", "shots", "reused"}
    assert 0.0 <= doc["single_shot_error"] <= 1.0 and 0.0 <= doc["vote_error"] <= 1.0


def test_unknown_backend_is_a_configuration_error():
    net, data = _model_and_data()
    args = _parser().parse_args(["--backend", "braket:sv1"])
    with pytest.raises(
        ConfigurationError,
        match=r"^unknown backend 'braket:sv1'; expected one of aer, aer-mps, statevector, fake_NAME, ibm:NAME, "
        r"ionq:NAME, ionq, ionq_aria, ionq_forte \(e\.g\. 'aer-mps', 'fake_torino', 'ibm:ibm_torino', "
        r"'ionq:simulator', 'ionq_forte'\)$",
    ):
        run_evaluate_on_backend(args, net, data)
    args = _parser().parse_args(["--backend", "ionq_forte"])
    with pytest.raises(
        ConfigurationError,
        match=r"^'ionq_forte' is an offline target for transpiling and checks, not a sampler; run on IonQ with "
        r"'ionq:NAME'",
    ):
        run_evaluate_on_backend(args, net, data)


def test_a_missing_provider_names_its_extra(monkeypatch):
    """Without qiskit-ibm-runtime / qiskit-ionq (hidden from the import system), the error names the extra."""
    from qiskit_natural_qnn.optional import MissingExtraError

    hidden = ("qiskit_ibm_runtime", "qiskit_ionq")

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in hidden:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    net, data = _model_and_data()
    for name in [m for m in sys.modules if m.split(".")[0] in hidden]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NotInstalled(), *sys.meta_path])
    monkeypatch.setenv("IONQ_API_KEY", "not-used")
    for spec, extra in (("fake_manila", "ibm"), ("ibm:ibm_torino", "ibm"), ("ionq:simulator", "ionq")):
        args = _parser().parse_args(["--backend", spec])
        with pytest.raises(
            MissingExtraError,
            match=rf'^qiskit_\w+ is not installed; it comes with the extra \'{extra}\': pip install "qiskit-natural-qnn\[{extra}\]"$',
        ):
            run_evaluate_on_backend(args, net, data)
    with pytest.raises(ImportError):  # a MissingExtraError is also the builtin ImportError
        run_evaluate_on_backend(_parser().parse_args(["--backend", "fake_manila"]), net, data)


# ---------------------------------------------------------------------------- per-job seeds by kind
def _coin() -> QuantumCircuit:
    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.measure(0, 0)
    return qc


@pytest.mark.parametrize(
    "make",
    [
        lambda: AerSampler(seed=7),
        lambda: AerSampler(),
        lambda: StatevectorSampler(seed=7),
        lambda: BackendSamplerV2(backend=GenericBackendV2(num_qubits=1, basis_gates=["h", "measure"], seed=1)),
    ],
    ids=["aer-fixed-seed", "aer", "statevector", "backend"],
)
def test_each_job_is_seeded_by_its_own_seed(make):
    submitter = JobSubmitter(make())

    def draw(seed):
        return submitter.submit([_coin()], shots=256, seed=seed).result()[0].data.c.get_bitstrings()

    assert submitter.seeded
    assert draw(1) == draw(1)
    assert draw(1) != draw(2)  # a fixed sampler seed does not make every job repeat the same stream


def test_aer_sampler_keeps_its_noise_model_per_job():
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    from qiskit_natural_qnn.providers import local_backend

    noisy = AerSampler.from_backend(local_backend("fake_manila"))
    net = NaturalQNN(layer_sizes=[3, 2, 2, 3], a=0.0, seed=0, dtype=torch.float64)
    images = np.random.default_rng(0).uniform(size=(20, 3))
    from qiskit.transpiler import generate_preset_pass_manager

    pm = generate_preset_pass_manager(optimization_level=1, backend=local_backend("fake_manila"))
    pred = predict_on_sampler(net, images, sampler=noisy, shots=10, mode="layerwise", pass_manager=pm, seed=1, copies=1)
    fast = predict(net, images, shots=10, seed=0, return_hidden=True).hidden
    assert 0 < sum(float((a != b).mean()) for a, b in zip(pred.hidden, fast)) < 0.5


def test_seed_derivation_and_resolution():
    seeds = {derive_seed(5, layer, chunk) for layer in range(1, 20) for chunk in range(50)}
    assert len(seeds) == 19 * 50 and all(0 <= s < 2**31 for s in seeds)
    assert resolve_run_seed(None, AerSampler(seed=12)) == 12
    assert resolve_run_seed(4, AerSampler(seed=12)) == 4
    with pytest.raises(ConfigurationError, match=r"^seed must be an int, a numpy.random.Generator or None, got str"):
        resolve_run_seed("1")


def test_ml_sampler_forward_delegates_and_reseeds_each_call():
    pytest.importorskip("qiskit_machine_learning", reason="the [ml] extra is not installed")
    from qiskit_natural_qnn.ml import NaturalQNNNetwork

    net = NaturalQNN(layer_sizes=[4, 3, 3, 3], a=0.6, seed=0, dtype=torch.float64)
    x = np.random.default_rng(1).uniform(size=(40, 4))
    first = NaturalQNNNetwork(net, sampler=AerSampler(seed=3))
    a, b = first.forward(x, None), first.forward(x, None)
    c = NaturalQNNNetwork(net, sampler=AerSampler(seed=3)).forward(x, None)
    assert not np.array_equal(a, b)  # successive calls draw new passes
    np.testing.assert_array_equal(a, c)  # ... reproducibly from the sampler's seed
    assert first.sampler_forward.executor.copies == 1
