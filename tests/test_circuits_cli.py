"""The ``qnqnn circuit`` subcommand (qiskit_natural_qnn.cli.circuits), driven through its own parser."""

from __future__ import annotations

import argparse

import pytest
import torch

from qiskit_natural_qnn import ConfigurationError, NaturalQNN
from qiskit_natural_qnn.circuits import from_qasm3
from qiskit_natural_qnn.cli.circuits import add_circuit_parser, run_circuit_command
from qiskit_natural_qnn.exceptions import CircuitNotExactError, TargetCapabilityError
from qiskit_natural_qnn.io import save_model


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qnqnn")
    add_circuit_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["circuit", *argv])


@pytest.fixture(scope="module")
def model_paths(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("models")
    paths = {}
    for name, kw in {
        "tanh": dict(a=0.5, stretch="tanh"),
        "linear_weak": dict(a=4.0, stretch="linear", g=0.6),
    }.items():
        net = NaturalQNN(layer_sizes=[784, 3, 3, 10], seed=1, dtype=torch.float32, **kw)
        paths[name] = str(save_model(net, root / f"{name}.safetensors"))
    return paths


def _run(argv, capsys):
    args = _parse(argv)
    assert args.handler is run_circuit_command
    status = args.handler(args)
    out, err = capsys.readouterr()
    return status, out, err


def test_text_dynamic_auto(model_paths, capsys) -> None:
    status, out, err = _run([model_paths["tanh"], "--image", "0"], capsys)
    assert status == 0
    assert "construction 'lookup': exact" in err
    assert "h1: 3/" in out and "If-0" in out and "neuron1_0" in out


def test_qasm3_deferred_reads_back(model_paths, capsys, tmp_path) -> None:
    path = tmp_path / "net.qasm"
    status, _, err = _run(
        [model_paths["linear_weak"], "--image", "5", "--mode", "deferred", "--format", "qasm3", "--output", str(path)],
        capsys,
    )
    assert status == 0 and f"wrote {path}" in err
    loaded = from_qasm3(path.read_text())
    assert [r.name for r in loaded.cregs] == ["h1", "h2"] and loaded.num_parameters == 0


def test_layers_mode_writes_one_file_per_layer(model_paths, capsys, tmp_path) -> None:
    status, _, err = _run(
        [
            model_paths["tanh"],
            "--image",
            "1",
            "--mode",
            "layers",
            "--format",
            "qasm3",
            "--output",
            str(tmp_path / "l.qasm"),
        ],
        capsys,
    )
    assert status == 0 and "construction 'layers': exact" in err
    first, second = (tmp_path / "l_h1.qasm").read_text(), (tmp_path / "l_h2.qasm").read_text()
    assert "input float" not in first  # bound for the image
    assert "input float" in second  # computed from measured bits at run time


def test_png(model_paths, capsys, tmp_path) -> None:
    pytest.importorskip("pylatexenc", reason="qiskit's mpl drawer needs pylatexenc")
    path = tmp_path / "c.png"
    status, _, _ = _run(
        [
            model_paths["linear_weak"],
            "--image",
            "2",
            "--construction",
            "linear",
            "--format",
            "png",
            "--output",
            str(path),
        ],
        capsys,
    )
    assert status == 0 and path.read_bytes()[:4] == b"\x89PNG"


def test_backend_transpiles_and_validates(model_paths, capsys) -> None:
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    status, out, _ = _run(
        [model_paths["tanh"], "--image", "0", "--backend", "fake_torino", "--format", "qasm3"], capsys
    )
    assert status == 0 and "sx $" in out and "if (" in out and "ry(" not in out
    status, _, _ = _run([model_paths["tanh"], "--image", "0", "--backend", "ibm"], capsys)
    assert status == 0


def test_errors(model_paths, capsys) -> None:
    with pytest.raises(
        CircuitNotExactError, match=r"the 'linear' single circuit cannot express this network exactly: stretch 'tanh'"
    ):
        _run([model_paths["tanh"], "--image", "0", "--construction", "linear"], capsys)
    with pytest.raises(TargetCapabilityError, match=r"if_else is not supported by ionq:ionq_native_ms"):
        _run([model_paths["tanh"], "--image", "0", "--backend", "ionq"], capsys)
    with pytest.raises(ConfigurationError, match=r"--format png needs --output PATH"):
        _run([model_paths["tanh"], "--image", "0", "--format", "png"], capsys)
    with pytest.raises(
        ConfigurationError, match=r"--image must be in \[0, 4999\] \(the default validation set\), got 5000"
    ):
        _run([model_paths["tanh"], "--image", "5000"], capsys)
    with pytest.raises(ConfigurationError, match=r"--construction lookup applies to --mode dynamic"):
        _run([model_paths["tanh"], "--image", "0", "--mode", "layers", "--construction", "lookup"], capsys)
    with pytest.raises(SystemExit):
        _parse(["m", "--image", "-1"])
