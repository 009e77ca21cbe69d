"""Progress bars over jobs and layers (execution/progress.py), job ids as submitted, logging, and ``--no-progress``."""

from __future__ import annotations

import argparse
import io
import logging
import re

import numpy as np
import pytest
import torch
from qiskit.primitives import StatevectorSampler
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.cli import main
from qiskit_natural_qnn.cli.options import configure_logging, log_level
from qiskit_natural_qnn.execution import RunProgress, predict_on_sampler, run_layerwise, run_single
from qiskit_natural_qnn.io import save_model

BAR = re.compile(r"\d+%\|")  # a tqdm bar: "100%|##########| 2/2 ..."


def _net() -> NaturalQNN:
    return NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.5, seed=0, dtype=torch.float64)


def _final(err: str, desc: str) -> str:
    """The last state that the bar ``desc`` printed."""
    states = [s for s in re.split(r"[\r\n]", err) if s.lstrip("\x1b[A").startswith(desc + ":")]
    assert states, f"no bar {desc!r} in {err!r}"
    return states[-1]


def test_layerwise_bars_reach_their_totals_and_every_job_id_is_printed(capsys):
    run = run_layerwise(
        _net(),
        np.full((3, 3), 0.5),
        sampler=StatevectorSampler(),
        shots=5,
        seed=1,
        copies=1,
        max_sets_per_job=4,
        progress=True,
    )
    err = capsys.readouterr().err
    assert len(run.jobs) == 5  # layer 1: 3 sets in one job; layer 2: 15 sets in 4 jobs
    assert re.search(r"\b5/5\b", _final(err, "layer-by-layer jobs")), err
    assert re.search(r"\b2/2\b", _final(err, "hidden layers")), err
    for job in run.jobs:
        assert job.job_id and f"submitted job {job.job_id} ({job.key}: " in err


def test_a_single_circuit_run_shows_its_jobs(capsys):
    net = NaturalQNN(layer_sizes=[3, 2, 2, 2], a=2.0, stretch="linear", seed=0)
    run = run_single(
        net, np.full((3, 3), 0.5), sampler=AerSampler(), shots=4, seed=1, max_sets_per_job=2, progress=True
    )
    err = capsys.readouterr().err
    assert re.search(r"\b2/2\b", _final(err, "single-circuit jobs")), err
    assert all(f"submitted job {job.job_id}" in err for job in run.jobs)


def test_no_bar_and_no_output_by_default(capsys):
    run_layerwise(_net(), np.full((2, 3), 0.5), sampler=StatevectorSampler(), shots=3, seed=1)
    assert capsys.readouterr().err == ""


def test_the_total_grows_as_sweeps_plan_jobs_and_a_reused_job_counts_as_done():
    out = io.StringIO()
    with RunProgress(enabled=True, file=out) as progress:
        progress.add_jobs(2)
        progress.reused("h1/0", "old-job")
        progress.add_jobs(1)
        progress.submitted("h2/0", None, n_sets=3, shots=1)
        progress.finished("h2/0")
        assert (progress.jobs_done, progress.jobs_total) == (2, 3)
    text = out.getvalue()
    assert "reused job old-job (h1/0) from the run record" in text
    assert "submitted job (no id) (h2/0: 3 parameter set(s) x 1 shot(s))" in text


def test_submissions_and_results_are_logged_under_the_package(caplog):
    caplog.set_level(logging.DEBUG, logger="qiskit_natural_qnn")
    pred = predict_on_sampler(_net(), np.full((2, 3), 0.5), sampler=AerSampler(), shots=3, mode="layerwise", seed=1)
    records = [r for r in caplog.records if r.name.startswith("qiskit_natural_qnn.")]
    assert {r.name for r in records} >= {
        "qiskit_natural_qnn.execution.jobs",
        "qiskit_natural_qnn.execution.layerwise",
        "qiskit_natural_qnn.execution.predict",
    }
    info = [r.getMessage() for r in records if r.levelno == logging.INFO and r.name.endswith(".jobs")]
    for job_id in pred.job_ids:
        assert any(f"submitted job {job_id}" in m and "shot(s)" in m for m in info), info
        assert any(f"job {job_id}" in m and m.endswith("finished") for m in info), info
    assert any(r.levelno == logging.DEBUG for r in records)


def test_log_levels_from_the_command_line(capsys):
    assert log_level(argparse.Namespace(verbose=0, log_level=None)) == logging.WARNING
    assert log_level(argparse.Namespace(verbose=2, log_level=None)) == logging.DEBUG
    logger = logging.getLogger("qiskit_natural_qnn")
    before = logger.level
    try:
        configure_logging(argparse.Namespace(verbose=1, log_level=None))
        configure_logging(argparse.Namespace(verbose=1, log_level=None))  # replaces its handler, no duplicate
        logging.getLogger("qiskit_natural_qnn.execution.jobs").info("hello %s", "world")
        logging.getLogger("qiskit_natural_qnn.execution.jobs").debug("not shown")
        err = capsys.readouterr().err
        assert err.count("INFO qiskit_natural_qnn.execution.jobs: hello world") == 1 and "not shown" not in err
    finally:
        configure_logging(argparse.Namespace())
        logger.setLevel(before)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(NaturalQNN(layer_sizes=[784, 3, 3, 10], a=0.5, seed=0), path)
    return str(path)


def test_evaluate_on_a_backend_shows_progress_unless_no_progress(model_file, capfd):
    args = ["evaluate", model_file, "--backend", "aer", "--mode", "layerwise", "--limit", "3", "--shots", "2"]
    assert main(args) == 0
    err = capfd.readouterr().err
    assert BAR.search(err) and re.search(r"\b2/2\b", _final(err, "layer-by-layer jobs")), err
    assert err.count("submitted job ") == 2
    assert main([*args, "--no-progress"]) == 0
    captured = capfd.readouterr()
    assert captured.err == "" and "single-shot error" in captured.out


def test_evaluate_verbose_logs_the_jobs(model_file, capfd):
    args = ["evaluate", model_file, "--backend", "aer", "--mode", "layerwise", "--limit", "2", "--shots", "2"]
    try:
        assert main([*args, "--no-progress", "-v"]) == 0
        err = capfd.readouterr().err
        assert not BAR.search(err)
        assert len(re.findall(r"INFO qiskit_natural_qnn\.execution\.jobs: hidden layer \d: submitted job ", err)) == 2
    finally:
        configure_logging(argparse.Namespace())


def test_borderline_bar_over_a_unless_no_progress(model_file, capfd):
    args = ["borderline", model_file, "--a-values", "0.2,0.5", "--shots", "5", "--max-images", "20", "--limit", "1"]
    assert main(args) == 0
    assert re.search(r"\b2/2\b", _final(capfd.readouterr().err, "values of a"))
    assert main([*args, "--no-progress"]) == 0
    assert not BAR.search(capfd.readouterr().err)
