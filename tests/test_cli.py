"""Tests of the qnqnn command line (qiskit_natural_qnn.cli): parser, train, evaluate, shared options."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qiskit_natural_qnn.cli import app as cli_app
from qiskit_natural_qnn.cli.app import build_parser, main
from qiskit_natural_qnn.cli.argtypes import parse_angle
from qiskit_natural_qnn.training import History
from qiskit_natural_qnn.version import __version__

REPO = Path(__file__).resolve().parents[1]
CLI_SOURCES = Path(cli_app.__file__).parent


# ------------------------------------------------------------------------------------- parse_angle
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.785", 0.785),
        ("1e-3", 1e-3),
        (".5", 0.5),
        ("-2", -2.0),
        ("pi", math.pi),
        ("PI", math.pi),
        ("π/2", math.pi / 2),
        ("pi/4", math.pi / 4),
        (" pi / 8 ", math.pi / 8),
        ("5*pi/19", 5 * math.pi / 19),
        ("5pi/19", 5 * math.pi / 19),
        ("0.25*pi", 0.25 * math.pi),
        ("2/pi", 2 / math.pi),
        ("-pi/8", -math.pi / 8),
        ("3 * pi / 2.5", 3 * math.pi / 2.5),
    ],
)
def test_parse_angle_accepts_numbers_and_multiples_of_pi(text, expected) -> None:
    assert parse_angle(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"cannot read '' as an angle"),
        ("pie", r"cannot read 'pie' as an angle"),
        ("pi/4/2", r"cannot read 'pi/4/2' as an angle"),
        ("pi*2", r"cannot read 'pi\*2' as an angle"),
        ("2**pi", r"cannot read '2\*\*pi' as an angle"),
        ("__import__('os')", r"cannot read"),
        ("1+pi", r"cannot read '1\+pi' as an angle"),
        ("pi/0", r"division by zero"),
        ("0/pi", r"division by pi needs a number"),
        ("1e999", r"not a finite number"),
        ("nan", r"cannot read 'nan' as an angle"),
    ],
)
def test_parse_angle_rejects_anything_else(text, match) -> None:
    with pytest.raises(ValueError, match=match):
        parse_angle(text)


def test_g_option_goes_through_the_angle_parser(capsys) -> None:
    args = build_parser().parse_args(["train", "--g", "5*pi/19", "--hidden", "8", "8"])
    assert args.g == 5 * math.pi / 19 and args.hidden == [8, 8]
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", "--g", "pi/x"])
    assert exc.value.code == 2
    assert "argument --g: cannot read 'pi/x' as an angle" in capsys.readouterr().err


def test_train_defaults_are_the_papers_first_network() -> None:
    args = build_parser().parse_args(["train"])
    assert args.hidden == [512, 512] and args.epochs == 10 and args.lr == 0.01 and args.momentum == 0.9
    assert args.batch_size == 64 and args.shots == 15 and args.seed == 0 and args.g == math.pi / 2
    assert args.a == 0.0 and args.stretch == "tanh" and args.limit is None and args.data_dir is None


# ------------------------------------------------------------------------------------ train/evaluate
def test_train_then_evaluate(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--hidden",
            "16",
            "--a",
            "0.5",
            "--epochs",
            "2",
            "--limit",
            "300",
            "--shots",
            "5",
            "--out",
            str(out),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "data: embedded MNIST subset" in text and "limited to the first 300 images" in text
    assert "layer_sizes=[784, 16, 10], a=0.5" in text
    assert "validation after epoch 2: single-shot error" in text and "majority-vote error (5 shots)" in text
    assert (out / "model.safetensors").is_file()
    history = History.from_json(out / "history.json")
    assert len(history.records) == 2 and history.config.seed == 0 and history.layer_sizes == [784, 16, 10]
    assert history.train_data == "default-train[:300]"

    rc = main(["evaluate", str(out / "model.safetensors"), "--shots", "3", "--limit", "200", "--device", "cpu"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "data: default-validation[:200], 200 images" in text
    assert "single-shot error: " in text and "majority-vote error (3 shots): " in text

    rc = main(
        [
            "evaluate",
            str(out / "model.safetensors"),
            "--shots",
            "3",
            "--limit",
            "200",
            "--json",
            "--split",
            "train",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_images"] == 200 and result["shots"] == 3 and result["data"] == "default-train[:200]"
    assert 0 <= result["single_shot_error"] <= 1 and 0 <= result["vote_error"] <= 1
    # the same seed gives the same numbers
    main(
        [
            "evaluate",
            str(out / "model.safetensors"),
            "--shots",
            "3",
            "--limit",
            "200",
            "--json",
            "--split",
            "train",
            "--device",
            "cpu",
        ]
    )
    assert json.loads(capsys.readouterr().out) == result


def test_train_size_cuts_the_training_set(tmp_path, capsys) -> None:
    rc = main(
        [
            "train",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--train-size",
            "100",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--device",
            "cpu",
            "--shots",
            "1",
            "--limit",
            "1000",
        ]
    )
    assert rc == 0
    assert "train 100 images, validation 1000 images" in capsys.readouterr().out


def test_library_errors_print_one_line_and_exit_2(tmp_path, capsys) -> None:
    rc = main(["evaluate", str(tmp_path / "missing.safetensors")])
    assert rc == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "Traceback" not in captured.err
    rc = main(["train", "--a", "-1", "--hidden", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert rc == 2
    assert "error: a must be finite and >= 0, got -1.0" in capsys.readouterr().err
    rc = main(["train", "--epochs", "0", "--hidden", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert rc == 2
    assert "error: epochs must be an int >= 1, got 0" in capsys.readouterr().err
    rc = main(
        ["train", "--data-dir", str(tmp_path / "nowhere"), "--hidden", "4", "--device", "cpu", "--out", str(tmp_path)]
    )
    assert rc == 2
    assert "error: MNIST directory" in capsys.readouterr().err


# ------------------------------------------------------------------------- train into an existing run
TINY_TRAIN = ["train", "--hidden", "4", "--epochs", "1", "--limit", "20", "--shots", "1", "--no-progress"]


def _no_training(*args, **kwargs):
    raise AssertionError("training started")


@pytest.mark.parametrize("existing", ["model.safetensors", "history.json", "checkpoint/checkpoint.safetensors"])
def test_train_into_an_existing_run_is_refused_and_offers_resume_or_overwrite(
    tmp_path, monkeypatch, capsys, existing
) -> None:
    monkeypatch.setattr("qiskit_natural_qnn.cli.train.fit", _no_training)
    (tmp_path / existing).parent.mkdir(exist_ok=True)
    (tmp_path / existing).write_bytes(b"the earlier run")
    assert main([*TINY_TRAIN, "--device", "cpu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: --out {str(tmp_path)!r} already holds a run ({existing}); pass --resume to continue it, "
        "--overwrite to replace it, or another --out\n"
    )
    assert (tmp_path / existing).read_bytes() == b"the earlier run"
    assert main([*TINY_TRAIN, "--out", str(tmp_path), "--resume", "--overwrite"]) == 2
    assert (
        "--resume continues the run in --out and --overwrite replaces it; pass one of them" in capsys.readouterr().err
    )


def test_train_overwrite_replaces_the_run_and_cleans_killed_writes(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main([*TINY_TRAIN, "--device", "cpu", "--out", str(out), "--seed", "1"]) == 0
    first = (out / "model.safetensors").read_bytes()
    (out / ".model.safetensors.k2j4x_9q.tmp").write_bytes(b"half a model")  # a write killed mid-way
    capsys.readouterr()
    assert main([*TINY_TRAIN, "--device", "cpu", "--out", str(out), "--seed", "2", "--overwrite"]) == 0
    assert "--overwrite: deleted model.safetensors, history.json, checkpoint/checkpoint.safetensors" in (
        capsys.readouterr().out
    )
    assert (out / "model.safetensors").read_bytes() != first
    assert History.from_json(out / "history.json").seed == 2
    curve = ["learning_curve.png"] if importlib.util.find_spec("matplotlib") else []  # the [plot] extra draws it
    assert sorted(p.name for p in out.iterdir()) == sorted(["checkpoint", "history.json", "model.safetensors", *curve])


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_clear_error(capsys) -> None:
    assert main(["evaluate", "model.safetensors", "--device", "cuda"]) == 2
    assert "CUDA is not available here; pass --device cpu" in capsys.readouterr().err


def test_python_dash_m_help() -> None:
    path = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "qiskit_natural_qnn", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: qnqnn" in proc.stdout
    assert all(name in proc.stdout for name in ("train", "evaluate", "circuit"))
    proc = subprocess.run(
        [sys.executable, "-m", "qiskit_natural_qnn", "train", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0 and "--weak-update" in proc.stdout and "--limit" in proc.stdout


# ------------------------------------------------------------------------------------ the parser itself
def _all_parsers() -> dict[str, argparse.ArgumentParser]:
    """The main parser and every subcommand's parser, by name."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"qnqnn": parser, **{f"qnqnn {name}": p for name, p in sub.choices.items()}}


def test_version_prints_the_library_version_and_exits_0(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"qnqnn {__version__}\n"


def test_every_subcommand_is_wired_in() -> None:
    names = set(_all_parsers()) - {"qnqnn"}
    assert names == {
        f"qnqnn {n}" for n in ("train", "evaluate", "circuit", "sweep", "noise-sweep", "borderline", "estimate")
    }


def test_every_option_has_help_and_no_help_shows_a_literal_double_percent() -> None:
    """argparse needs %% in an option's help to print %, but prints a description's %% as it is."""
    missing, doubled = [], []
    for name, parser in _all_parsers().items():
        for action in parser._actions:
            if not action.help or not action.help.strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name}: {'/'.join(action.option_strings) or action.dest}")
        text = parser.format_help()
        if "%%" in text:
            doubled.append(name)
    assert not missing, f"options without help: {missing}"
    assert not doubled, f"help shows a literal %%: {doubled}"
    helps = _all_parsers()
    for name in ("qnqnn borderline", "qnqnn noise-sweep"):
        assert re.search(r"95%\s+Wilson", helps[name].format_help()), name


#: Options that several subcommands take: each is defined once, in qiskit_natural_qnn/cli/options.py.
SHARED_OPTIONS = [
    "--device",
    "--data-dir",
    "--limit",
    "--hidden",
    "--shots",
    "--seed",
    "--train-size",
    "--split",
    "--json",
    "--no-progress",
    "--a",
    "--g",
    "--stretch",
    "--weak-update",
    "--surrogate",
    "--epochs",
    "--eval-every",
    "--lr",
    "--momentum",
    "--weight-decay",
    "--schedule",
    "--train-shots",
    "--average-from",
    "--native",
    "--l1-margin",
    "--optimization-level",
    "--copies",
    "--gate",
]


def _option_definitions() -> dict[str, list[str]]:
    """Every ``add_argument("--X", ...)`` call in the cli package's code (docstrings aside): X -> file:line."""
    found: dict[str, list[str]] = {}
    for path in sorted(CLI_SOURCES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, []).append(f"{path.name}:{node.lineno}")
    return found


@pytest.mark.parametrize("option", SHARED_OPTIONS)
def test_a_shared_option_is_defined_once_in_the_cli_sources(option: str) -> None:
    hits = _option_definitions().get(option, [])
    assert len(hits) == 1, f"{option} is defined at {hits}; define it once in cli/options.py"


@pytest.mark.parametrize("option", ["--device", "--data-dir", "--limit", "--hidden", "--shots", "--seed"])
def test_the_shared_options_are_shared(option: str) -> None:
    """Each of these options reaches several subcommands through its one definition."""
    users = [name for name, p in _all_parsers().items() if option in p._option_string_actions]
    assert len(users) >= 2, users
