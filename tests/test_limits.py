"""Bounded work: a request too large is refused with its figure and the limit, before anything is allocated
or submitted; what was submitted before a failure is cancelled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives import BaseSamplerV2

from qiskit_natural_qnn import ConfigurationError, NaturalQNN, predict
from qiskit_natural_qnn.execution import predict_on_sampler
from qiskit_natural_qnn.execution.jobs import cancel_jobs, run_sweep
from qiskit_natural_qnn.execution.layerwise import sampler_run_bytes
from qiskit_natural_qnn.execution.samplers import JobSubmitter
from qiskit_natural_qnn.inference import predict_bytes
from qiskit_natural_qnn.limits import (
    MAX_BYTES,
    MAX_INSTRUCTIONS,
    check_bytes,
    check_instructions,
    check_limit,
    format_bytes,
)
from qiskit_natural_qnn.network import parameter_bytes, sampling_bytes

_OVER = r"over the limit of"


class _Job:
    """A job that records whether it was cancelled; ``result`` returns or raises what it was given."""

    def __init__(self, outcome: object = None, *, done: bool = False) -> None:
        self.outcome, self.finished, self.cancelled = outcome, done, False

    def job_id(self) -> str:
        return f"job-{id(self)}"

    def done(self) -> bool:
        return self.finished

    def cancel(self) -> None:
        self.cancelled = True

    def result(self) -> object:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class _Recorder(BaseSamplerV2):
    """A sampler that records every submission and hands out the jobs it was given (or refuses to run)."""

    def __init__(self, jobs: list[_Job] | None = None) -> None:
        self.jobs = list(jobs or [])
        self.submitted: list[object] = []

    def run(self, pubs, *, shots=None):  # noqa: ANN001, ANN201 - the BaseSamplerV2 signature
        if not self.jobs:
            raise AssertionError("nothing may be submitted here")
        job = self.jobs.pop(0)
        self.submitted.append(job)
        return job


def test_check_functions_give_the_figure_and_the_limit() -> None:
    assert check_bytes(MAX_BYTES, what="x") == MAX_BYTES
    with pytest.raises(
        ConfigurationError,
        match=r"^predict would hold about 16\.0 GiB of arrays \(17179869185 bytes\), over the limit of 16\.0 GiB "
        r"\(17179869184 bytes\); lower shots, or pass max_bytes= to change the limit$",
    ):
        check_bytes(MAX_BYTES + 1, what="predict", fix="lower shots")
    assert check_bytes(2**40, what="x", max_bytes=2**41) == 2**40
    assert check_instructions(MAX_INSTRUCTIONS, what="c") == MAX_INSTRUCTIONS
    with pytest.raises(ConfigurationError, match=r"^c would hold 11 instructions, over the limit of 10; pass max_"):
        check_instructions(11, what="c", max_instructions=10)
    for bad in (0, -1, 1.5, "10", True):
        with pytest.raises(ConfigurationError, match=r"^max_bytes must be an int >= 1 or None"):
            check_limit(bad, name="max_bytes", default=1)
    assert (format_bytes(1023), format_bytes(1536), format_bytes(2**60)) == ("1023 B", "1.5 KiB", "1024.0 PiB")


def test_networks_wider_than_the_limit_are_refused_before_allocating() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^a network of layer sizes \[784, 1000000000000, 10\] in torch\.float32 would hold about 2\.8 PiB "
        r"of arrays \(3176000000000000 bytes\), over the limit of 16\.0 GiB",
    ):
        NaturalQNN(layer_sizes=[784, 10**12, 10], seed=0)
    need = parameter_bytes([4, 8, 3], dtype=torch.float64)
    assert need == (4 * 8 + 8 * 3) * 8
    with pytest.raises(ConfigurationError, match=_OVER):
        NaturalQNN(layer_sizes=[4, 8, 3], dtype=torch.float64, seed=0, max_bytes=need - 1)
    NaturalQNN(layer_sizes=[4, 8, 3], dtype=torch.float64, seed=0, max_bytes=need)


def test_fast_path_shots_are_bounded_before_drawing() -> None:
    net = NaturalQNN(layer_sizes=[4, 8, 3], a=0.5, seed=0)
    x = np.ones((3, 4))
    with pytest.raises(ConfigurationError, match=r"^predict of 3 images with shots=1000000000000 would hold about "):
        predict(net, x, shots=10**12, seed=0)
    need = predict_bytes(net, n_images=3, shots=5, batch_size=2, return_hidden=True)
    with pytest.raises(ConfigurationError, match=_OVER):
        predict(net, x, shots=5, seed=0, batch_size=2, return_hidden=True, max_bytes=need - 1)
    assert predict(net, x, shots=5, seed=0, batch_size=2, return_hidden=True, max_bytes=need).majority.shape == (3,)
    with pytest.raises(ConfigurationError, match=r"^sample of 3 inputs with shots=1000000000000 would hold"):
        net.sample(x, shots=10**12, seed=0)
    assert sampling_bytes(net, rows=3, shots=7) == 3 * 7 * (2 * 4 * 8 + (2 * 4 + 32) * 8 + 4 * 3)


def test_sampler_shots_are_bounded_before_any_job_is_submitted() -> None:
    net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, seed=0)
    sampler = _Recorder()
    for mode in ("layerwise", "dynamic"):
        with pytest.raises(ConfigurationError, match=r"^a sampler run of 2 images with shots=1000000000000 would"):
            predict_on_sampler(net, np.ones((2, 4)), sampler=sampler, shots=10**12, mode=mode, target="aer")
    assert sampler.submitted == []
    assert sampler_run_bytes(net, n_images=2, shots=10) == 2 * 10 * (3 * 6 + 32 * 3 + 16)


def _sweep_circuit() -> tuple[QuantumCircuit, Parameter]:
    t = Parameter("t")
    qc = QuantumCircuit(QuantumRegister(1), ClassicalRegister(1, "h1"))
    qc.ry(t, 0)
    qc.measure(0, 0)
    return qc, t


@pytest.mark.parametrize("failure", [RuntimeError("the device went away"), KeyboardInterrupt()])
def test_a_failure_after_submission_cancels_what_was_submitted(failure) -> None:
    """Three jobs submitted; the first fails (or the user interrupts): the two still running are cancelled."""
    jobs = [_Job(failure), _Job(), _Job(done=True)]
    sampler = _Recorder(jobs)
    qc, t = _sweep_circuit()
    with pytest.raises(type(failure)):
        run_sweep(
            JobSubmitter(sampler),
            qc,
            (t,),
            np.zeros((3, 1)),
            shots=2,
            registers=["h1"],
            key=(1,),
            run_seed=0,
            what="hidden layer 1",
            max_sets_per_job=1,
        )
    assert len(sampler.submitted) == 3
    assert [job.cancelled for job in jobs] == [True, True, False]  # a finished job is left alone


def test_cancel_jobs_is_best_effort() -> None:
    class Refuses(_Job):
        def cancel(self) -> None:
            raise RuntimeError("already finished")

    plain, refusing = _Job(), Refuses()
    assert cancel_jobs([plain, refusing, object(), _Job(done=True)]) == 1
    assert plain.cancelled


def test_identity_pairs_are_counted_and_bounded_before_they_are_built() -> None:
    from qiskit_natural_qnn.circuits import layer_circuit
    from qiskit_natural_qnn.execution import packed_layer_circuit
    from qiskit_natural_qnn.experiments.noise import identity_pair_instructions, insert_identity_pairs

    net = NaturalQNN(layer_sizes=[4, 5, 5, 2], a=0.5, g=0.6, seed=0)
    for k in (1, 2):
        packed = packed_layer_circuit(layer_circuit(net, layer=k), 3).circuit
        for gate in ("sx", "cz"):
            built = insert_identity_pairs(packed, pairs=3, gate=gate)
            assert identity_pair_instructions(packed, pairs=3, gate=gate) == len(built.data)
    with pytest.raises(ConfigurationError, match=r"with 1000000000 sx identity pairs would hold 20000000025 "):
        insert_identity_pairs(layer_circuit(net, layer=1).circuit, pairs=10**9)
    limit = identity_pair_instructions(layer_circuit(net, layer=1).circuit, pairs=2)
    with pytest.raises(ConfigurationError, match=_OVER):
        insert_identity_pairs(layer_circuit(net, layer=1).circuit, pairs=3, max_instructions=limit)
    insert_identity_pairs(layer_circuit(net, layer=1).circuit, pairs=2, max_instructions=limit)


def test_noise_sweep_and_estimate_refuse_huge_pairs_before_running() -> None:
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    from qiskit_natural_qnn.experiments.cost import estimate_cost
    from qiskit_natural_qnn.experiments.noise import noise_sweep

    net = NaturalQNN(layer_sizes=[4, 2, 2, 2], a=0.5, seed=0)
    sampler = _Recorder()
    with pytest.raises(ConfigurationError, match=r"identity pairs would hold \d+ instructions, over the limit"):
        noise_sweep(net, np.full(4, 0.5), 0, sampler=sampler, backend="fake_perth", pairs=[0, 10**9], shots=5)
    with pytest.raises(ConfigurationError, match=r"^a noise-sweep point of 1 images with shots=1000000000000 "):
        noise_sweep(net, np.full(4, 0.5), 0, sampler=sampler, backend="fake_perth", pairs=[0], shots=10**12)
    assert sampler.submitted == []
    with pytest.raises(ConfigurationError, match=r"identity pairs would hold \d+ instructions, over the limit"):
        estimate_cost(net, backend="fake_perth", n_images=1, shots=1, pairs=10**9)


def test_cli_refuses_huge_requests_with_exit_status_2(tmp_path, capsys) -> None:
    from qiskit_natural_qnn.cli import main
    from qiskit_natural_qnn.io.model_files import save_model

    model = tmp_path / "m.safetensors"
    save_model(NaturalQNN(layer_sizes=[784, 3, 3, 10], a=0.5, seed=0), model)
    args = ["evaluate", str(model), "--limit", "2", "--shots", "1000000000000"]
    assert main([*args, "--backend", "aer"]) == 2
    assert "a sampler run of 2 images with shots=1000000000000 would hold" in capsys.readouterr().err
    assert main(args) == 2
    assert "predict of 2 images with shots=1000000000000 would hold" in capsys.readouterr().err
    assert main(["train", "--hidden", "1000000000000", "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    assert "a network of layer sizes [784, 1000000000000, 10]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"train_shots": 10**12}, "a training step of batch_size=64 x train_shots=1000000000000"),
        ({"eval_shots": 10**13}, "a validation of 16 images with eval_shots=10000000000000"),
    ],
)
def test_fit_refuses_steps_and_validations_too_large_before_training(tmp_path, changes, what) -> None:
    from qiskit_natural_qnn import NaturalQNN, TrainConfig, fit
    from qiskit_natural_qnn.data import Dataset

    net = NaturalQNN(layer_sizes=[4, 8, 2], a=0.5, seed=0)
    before = [p.detach().clone() for p in net.parameters()]
    data = Dataset(np.random.default_rng(0).random((16, 4), dtype=np.float32), np.zeros(16, dtype=np.int64), "t")
    with pytest.raises(ConfigurationError, match=rf"{what} would hold about .* over the limit of 16\.0 GiB"):
        fit(net, data, data, config=TrainConfig(epochs=1, **changes), progress=False, out_dir=tmp_path / "run")
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters()))  # nothing trained
    assert not (tmp_path / "run").exists()  # nothing written
