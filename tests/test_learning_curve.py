"""``qnqnn train`` writes learning_curve.png beside history.json (experiments/plots.py: plot_learning_curve)."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("matplotlib", reason="the [plot] extra is not installed")

from qiskit_natural_qnn.cli import main  # noqa: E402
from qiskit_natural_qnn.exceptions import InputError  # noqa: E402
from qiskit_natural_qnn.experiments.plots import plot_learning_curve, save_figure  # noqa: E402
from qiskit_natural_qnn.optional import MissingExtraError  # noqa: E402
from qiskit_natural_qnn.training import EpochRecord, History  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY_TRAIN = ["train", "--hidden", "4", "--epochs", "2", "--limit", "20", "--shots", "3", "--no-progress"]


def _assert_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, data[:16]
    assert 5_000 < len(data) < 2_000_000, len(data)


def test_train_writes_a_png_learning_curve_beside_history_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY_TRAIN, "--device", "cpu", "--out", str(out)]) == 0
    assert (out / "history.json").is_file()
    _assert_png(out / "learning_curve.png")
    assert f"and {out / 'learning_curve.png'}" in capsys.readouterr().out
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # written atomically, no temporaries left


def test_a_history_missing_a_series_still_plots(tmp_path):
    never_validated = History(
        records=[EpochRecord(1, 2.2, 0.8, None, None, 1.0), EpochRecord(2, 1.9, 0.7, None, None, 1.0)]
    )
    fig = plot_learning_curve(never_validated)
    loss_ax, error_ax = fig.axes[:2]
    assert [len(line.get_xdata()) for line in loss_ax.get_lines()] == [2]
    assert [line.get_label() for line in error_ax.get_lines()] == ["training, single pass"]
    _assert_png(save_figure(fig, tmp_path / "never_validated.png"))

    # history.json of a run validated every other epoch, with the training error left out
    records = [
        {"epoch": 1, "loss": 2.0, "val_single_shot_error": None, "val_vote_error": None, "seconds": 1.0},
        {"epoch": 2, "loss": 1.5, "val_single_shot_error": 0.4, "val_vote_error": 0.3, "seconds": 1.0},
    ]
    fig = plot_learning_curve(json.loads(json.dumps({"layer_sizes": [784, 4, 10], "records": records})))
    lines = {line.get_label(): line.get_xdata().tolist() for line in fig.axes[1].get_lines()}
    assert lines == {"validation, single shot": [2.0], "validation, majority vote": [2.0]}
    assert fig._suptitle.get_text() == "learning curve: 784-4-10"
    _assert_png(save_figure(fig, tmp_path / "no_train_error.png"))


def test_an_empty_history_is_an_input_error():
    with pytest.raises(InputError, match=r"^the history has no epochs to plot; train for at least one epoch$"):
        plot_learning_curve(History())
    with pytest.raises(InputError, match=r"^the history has no list of 'records', got keys \['epochs'\]"):
        plot_learning_curve({"epochs": []})


def test_without_matplotlib_train_succeeds_and_says_how_to_get_the_curve(tmp_path, monkeypatch, caplog):
    import qiskit_natural_qnn.cli.train as train

    def missing(module, *, extra):
        raise MissingExtraError(
            f'{module} is not installed; it comes with the extra {extra!r}: pip install "x[{extra}]"'
        )

    monkeypatch.setattr(train, "require", missing)
    caplog.set_level(logging.WARNING, logger="qiskit_natural_qnn")
    out = tmp_path / "run"
    assert main([*TINY_TRAIN, "--device", "cpu", "--out", str(out)]) == 0
    assert (out / "history.json").is_file() and not (out / "learning_curve.png").exists()
    [warning] = [r.getMessage() for r in caplog.records if r.name == "qiskit_natural_qnn.cli.train"]
    assert warning.startswith(f"{out / 'learning_curve.png'} not written (matplotlib is not installed; it comes with")
    assert "plot_learning_curve" in warning
