"""Tests of the sweeps, g_c and figures (qiskit_natural_qnn.experiments) and of ``qnqnn sweep``."""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the [plot] extra (matplotlib) is not installed")

from qiskit_natural_qnn.cli.argtypes import parse_values  # noqa: E402
from qiskit_natural_qnn.cli.experiments import add_sweep_parser, main  # noqa: E402
from qiskit_natural_qnn.data import MNISTSplit, load_default, take  # noqa: E402
from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError, InputError  # noqa: E402
from qiskit_natural_qnn.experiments import (  # noqa: E402
    PointRecord,
    SweepPoint,
    SweepSettings,
    aggregate,
    grid_points,
    import_run,
    load_records,
    locate_gc,
    locate_gc_from_records,
    plot_error_vs_a,
    plot_error_vs_g,
    plot_heatmap,
    run_point,
    run_sweep,
    save_figure,
)
from qiskit_natural_qnn.experiments.sweep import scan_records  # noqa: E402
from qiskit_natural_qnn.network import NaturalQNN  # noqa: E402
from qiskit_natural_qnn.training import TrainConfig, fit  # noqa: E402
from tests.records import comparable, fake_record  # noqa: E402

HALF_PI = math.pi / 2


@pytest.fixture(scope="module")
def tiny_split() -> MNISTSplit:
    full = load_default()
    return MNISTSplit(take(full.train, 200), take(full.validation, 100), "tiny test split")


TINY = SweepSettings(hidden=(16,), config=TrainConfig(epochs=2, eval_shots=3, eval_every=1))


# ------------------------------------------------------------------------------------- points, grid
def test_point_key_and_normalisation() -> None:
    p = SweepPoint(a=np.float32(0.5), g=HALF_PI, seed=np.int64(3))
    assert (p.a, p.g, p.seed, p.key) == (0.5, HALF_PI, 3, "a0.5_g1.5707963267948966_s3")
    assert p.legacy_key == "a0.5_g1.5708_s3"
    assert isinstance(p.seed, int)
    assert SweepPoint(a=0.0, g=math.pi / 8, seed=0).key == "a0_g0.39269908169872414_s0"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"a": -0.1}, r"a must be a finite number >= 0, got -0\.1; pass e\.g\. a=0\.316"),
        ({"a": math.inf}, r"a must be a finite number >= 0, got inf"),
        ({"a": 0.0, "g": 2.0}, r"g must be a number in \[0, pi/2\], got 2\.0; pass e\.g\. g=math\.pi/4"),
        ({"a": 0.0, "seed": -1}, r"seed must be an int >= 0, got -1; pass e\.g\. seed=0"),
        ({"a": 0.0, "seed": 1.5}, r"seed must be an int >= 0, got 1\.5"),
        ({"a": 0.0, "seed": True}, r"seed must be an int >= 0, got True"),
    ],
)
def test_point_rejects_bad_values(kwargs, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        SweepPoint(**kwargs)


def test_grid_points_is_seed_major_and_rejects_duplicates() -> None:
    pts = grid_points(a=[0, 1], g=[HALF_PI, 0.5], seeds=[0, 1])
    assert [(p.seed, p.g, p.a) for p in pts[:4]] == [(0, HALF_PI, 0), (0, HALF_PI, 1), (0, 0.5, 0), (0, 0.5, 1)]
    assert len(pts) == 8
    with pytest.raises(ConfigurationError, match=r"the grid holds point a0\.5_g1\.5707963267948966_s0 twice"):
        grid_points(a=[0.5, 0.5], seeds=[0])
    with pytest.raises(ConfigurationError, match=r"seeds must hold at least one value, got \[\]"):
        grid_points(a=[0.5], seeds=[])


def test_settings_drop_the_config_seed_and_check_hidden() -> None:
    s = SweepSettings(hidden=[8, 8], config=TrainConfig(epochs=1, seed=7))
    assert s.hidden == (8, 8) and s.config.seed is None
    with pytest.raises(ConfigurationError, match=r"hidden must be a non-empty sequence of positive ints, got \(\)"):
        SweepSettings(hidden=())
    with pytest.raises(ConfigurationError, match=r"config must be a TrainConfig, got dict"):
        SweepSettings(config={"epochs": 1})


# ---------------------------------------------------------------------------------------- run_sweep
def test_run_point_is_reproducible_and_records_its_seed(tiny_split) -> None:
    p = SweepPoint(a=0.3, seed=4)
    r1 = run_point(p, settings=TINY, data=tiny_split)
    r2 = run_point(p, settings=TINY, data=tiny_split)
    assert r1.seed == 4 and r1.history["seed"] == 4
    assert r1.history["config"]["seed"] == 4
    for name in ("val_vote_error", "val_single_shot_error", "train_error", "train_vote_error"):
        assert r1.metric(name) == r2.metric(name)
    assert r1.layer_sizes == [784, 16, 10]
    assert r1.data["n_train"] == 200 and r1.data["n_validation"] == 100
    assert r1.data["source"] == "tiny test split"
    assert len(r1.history["records"]) == 2
    assert r1.history["records"][-1]["val_vote_error"] == r1.val_vote_error
    r3 = run_point(SweepPoint(a=0.3, seed=5), settings=TINY, data=tiny_split)
    assert r3.history["records"][0]["loss"] != r1.history["records"][0]["loss"]


def test_run_sweep_writes_records_and_resumes(tiny_split, tmp_path) -> None:
    pts = grid_points(a=[0.0, 0.5], seeds=[0])
    recs = run_sweep(pts, settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False)
    files = sorted(p.name for p in (tmp_path / "points").iterdir())
    assert files == ["a0.5_g1.5707963267948966_s0.json", "a0_g1.5707963267948966_s0.json"]
    raw = json.loads((tmp_path / "points" / "a0_g1.5707963267948966_s0.json").read_text())
    assert raw["format"] == "qnqnn-sweep-point" and raw["format_version"] == 1
    for key in (
        "settings",
        "seed",
        "version",
        "history",
        "val_vote_error",
        "val_single_shot_error",
        "train_error",
        "train_vote_error",
        "seconds",
        "device",
        "host",
    ):
        assert key in raw
    assert PointRecord.from_json(tmp_path / "points" / "a0_g1.5707963267948966_s0.json") == recs[0]
    mtime = os.path.getmtime(tmp_path / "points" / "a0_g1.5707963267948966_s0.json")
    # resume: one new point; the finished ones are read back, not retrained
    more = run_sweep(
        grid_points(a=[0.0, 0.5, 1.0], seeds=[0]), settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False
    )
    assert [r.a for r in more] == [0.0, 0.5, 1.0]
    assert more[:2] == recs
    assert os.path.getmtime(tmp_path / "points" / "a0_g1.5707963267948966_s0.json") == mtime
    assert len(load_records(tmp_path)) == 3


def test_an_ensemble_sweep_gives_the_records_of_a_serial_sweep(tiny_split, tmp_path, monkeypatch) -> None:
    """--ensemble K: tasks of up to K points, trained together, each record bit for bit its serial one (1 thread)."""
    import qiskit_natural_qnn.training as training

    sizes: list[int] = []
    real = training.fit_ensemble

    def counted(models, *args, **kwargs):
        sizes.append(len(models))
        return real(models, *args, **kwargs)

    monkeypatch.setattr(training, "fit_ensemble", counted)
    points = grid_points(a=[0.0, 0.5], g=[HALF_PI / 2, HALF_PI], seeds=[0, 1])  # Method 1 and 2 mixed
    common = {"settings": TINY, "data": tiny_split, "progress": False, "threads_per_worker": 1}
    serial = run_sweep(points, results_dir=tmp_path / "serial", **common)
    assert sizes == []  # ensemble=1: fit, point by point
    together = run_sweep(points, results_dir=tmp_path / "ensemble", ensemble=3, save_models=True, **common)
    assert sizes == [3, 3, 2]
    assert [r.point for r in together] == points
    for one, many in zip(serial, together):
        assert one.weights_sha256 == many.weights_sha256
        assert comparable(one) == comparable(many)  # every error, the whole history
        assert (tmp_path / "ensemble" / "models" / many.point.key / "model.safetensors").is_file()
    # a resumed ensemble sweep trains only the points without a record, still in groups of up to K
    sizes.clear()
    for path in sorted((tmp_path / "ensemble" / "points").iterdir())[:3]:
        path.unlink()
    again = run_sweep(points, results_dir=tmp_path / "ensemble", ensemble=2, **common)
    assert sizes == [2]  # 3 points: an ensemble of 2, then 1 alone (trained by fit)
    assert [comparable(r) for r in again] == [comparable(r) for r in serial]
    with pytest.raises(ConfigurationError, match=r"ensemble must be an int >= 1, got 0; pass e\.g\. ensemble=8"):
        run_sweep(points, results_dir=tmp_path / "bad", ensemble=0, **common)


def test_run_sweep_refuses_records_of_other_settings_or_data(tiny_split, tmp_path) -> None:
    run_sweep([SweepPoint(a=0.0)], settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False)
    other = SweepSettings(hidden=(16,), config=TrainConfig(epochs=3, eval_shots=3, eval_every=1))
    with pytest.raises(
        ConfigurationError,
        match=r"was recorded with config=.*'epochs': 2.*but this sweep has config=.*'epochs': 3.*use another results directory",
    ):
        run_sweep([SweepPoint(a=0.0)], settings=other, results_dir=tmp_path, data=tiny_split, progress=False)
    smaller = MNISTSplit(take(tiny_split.train, 100), tiny_split.validation, "smaller")
    with pytest.raises(
        ConfigurationError,
        match=r"was recorded on train='default-train\[:200\]', but this sweep uses train='default-train\[:200\]\[:100\]'",
    ):
        run_sweep([SweepPoint(a=0.0)], settings=TINY, results_dir=tmp_path, data=smaller, progress=False)


def test_run_sweep_rejects_bad_point_lists(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match=r"no points to run"):
        run_sweep([], settings=TINY, results_dir=tmp_path)
    with pytest.raises(ConfigurationError, match=r"point a0_g1\.5707963267948966_s0 is listed twice"):
        run_sweep([SweepPoint(a=0.0), SweepPoint(a=0.0)], settings=TINY, results_dir=tmp_path)


def test_method2_needs_equal_widths(tiny_split, tmp_path) -> None:
    s = SweepSettings(hidden=(16, 8), config=TrainConfig(epochs=1))
    with pytest.raises(ConfigurationError, match=r"all hidden widths must be equal, got \[16, 8\]"):
        run_sweep([SweepPoint(a=0.0, g=0.5)], settings=s, results_dir=tmp_path, data=tiny_split, progress=False)


def test_import_run_matches_a_sweep_point(tiny_split, tmp_path) -> None:
    """A seeded ``qnqnn train``-style run imported as a record equals the sweep's own run of that point."""
    seed = 2
    model = NaturalQNN(layer_sizes=[784, 16, 10], a=0.5, seed=seed)
    fit(
        model,
        tiny_split.train,
        tiny_split.validation,
        config=TINY.config.replace(seed=seed),
        progress=False,
        out_dir=tmp_path / "run",
    )
    imported = import_run(tmp_path / "run", results_dir=tmp_path / "sweep", data=tiny_split)
    assert imported.imported_from == str(tmp_path / "run")
    assert (tmp_path / "sweep" / "points" / "a0.5_g1.5707963267948966_s2.json").is_file()
    native = run_point(SweepPoint(a=0.5, seed=seed), settings=TINY, data=tiny_split)
    for name in (
        "val_vote_error",
        "val_single_shot_error",
        "train_error",
        "train_vote_error",
        "train_single_shot_error",
    ):
        assert imported.metric(name) == native.metric(name)
    assert imported.settings == native.settings
    # the imported record now resumes a sweep of those settings without retraining
    again = run_sweep(
        [SweepPoint(a=0.5, seed=seed)], settings=TINY, results_dir=tmp_path / "sweep", data=tiny_split, progress=False
    )
    assert again[0].imported_from == str(tmp_path / "run")
    with pytest.raises(InputError, match=r"lacks history\.json or model\.safetensors"):
        import_run(tmp_path / "nothing", results_dir=tmp_path / "sweep")


def test_load_records_errors(tmp_path) -> None:
    with pytest.raises(InputError, match=r"no sweep records in '.*points'; run qnqnn sweep"):
        load_records(tmp_path)
    (tmp_path / "points").mkdir()
    (tmp_path / "points" / "x.json").write_text("{}")
    with pytest.raises(
        DamagedFileError, match=r"not a sweep point record: format is None, expected 'qnqnn-sweep-point'"
    ):
        load_records(tmp_path)
    (tmp_path / "points" / "x.json").write_text("{")
    with pytest.raises(DamagedFileError, match=r"is not valid JSON"):
        load_records(tmp_path)


# ---------------------------------------------------------------------------------------- aggregate
def test_aggregate_mean_std_sem_per_point() -> None:
    recs = [
        fake_record(a=a, seed=s, val_vote_error=e)
        for a, s, e in [(0.0, 0, 0.08), (0.0, 1, 0.10), (0.0, 2, 0.09), (0.5, 1, 0.05), (0.5, 0, 0.07)]
    ]
    agg = aggregate(recs)
    assert [(p.a, p.seeds) for p in agg] == [(0.0, (0, 1, 2)), (0.5, (0, 1))]
    assert agg[0].mean == pytest.approx(0.09) and agg[0].std == pytest.approx(0.01)
    assert agg[0].sem == pytest.approx(0.01 / math.sqrt(3))
    assert agg[1].values == (0.07, 0.05)
    with pytest.raises(ConfigurationError, match=r"unknown metric 'accuracy'; expected one of val_vote_error"):
        aggregate(recs, "accuracy")


# ------------------------------------------------------------------------------------------------ g_c
@pytest.mark.parametrize("g_step", [0.23, 0.41, 0.77, 1.12])
def test_locate_gc_finds_a_known_step_within_the_grid_resolution(g_step) -> None:
    """A noisy step (high error below g_step) on a uniform grid: g_c is within half a grid step."""
    rng = np.random.default_rng(1)
    g = np.linspace(0.05, HALF_PI, 25)
    step = g[1] - g[0]
    clean = np.where(g < g_step, 0.88, 0.07) + 0.02 * (HALF_PI - g)  # a slow drift, as in the sweeps
    errors = clean[:, None] + rng.normal(0, 0.01, (g.size, 3))
    gc = locate_gc(g, errors, seed=0)
    assert abs(gc.g_c - g_step) <= step / 2 + 1e-12
    assert gc.resolution == pytest.approx(step / 2)
    assert gc.bootstrap_std < step / 4
    assert gc.uncertainty <= math.pi / 40
    assert gc.interval[0] < g_step <= gc.interval[1]
    assert gc.slope < 0 and gc.rise > 0.7


def test_locate_gc_picks_the_collapse_not_the_minimum_or_a_mild_rise() -> None:
    """A U-shaped curve: steep collapse at small g, mild rise towards pi/2 (Method 2's shape)."""
    g = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.8, 1.1, 1.3, HALF_PI])
    mean = np.array([0.90, 0.89, 0.70, 0.08, 0.06, 0.05, 0.06, 0.07, 0.08])
    gc = locate_gc(g[::-1], mean[::-1], seed=0)  # any order
    assert gc.interval == (0.3, 0.4) and gc.g_c == pytest.approx(0.35)
    assert gc.bootstrap_std == 0.0  # one seed: nothing to resample


def test_locate_gc_bootstrap_reflects_seed_scatter() -> None:
    """When the seeds disagree on where learning collapses, the bootstrap spread says so."""
    g = np.linspace(0.1, 1.0, 10)
    seeds = [np.where(g < s, 0.9, 0.05) for s in (0.25, 0.45, 0.65)]
    gc = locate_gc(g, np.stack(seeds, axis=1), seed=0, n_bootstrap=500)
    assert gc.bootstrap_std > 0.05
    assert gc.uncertainty > gc.resolution


@pytest.mark.parametrize(
    ("g", "errors", "kwargs", "exc", "match"),
    [
        ([0.1, 0.2], [0.9, 0.1], {}, InputError, r"locate_gc needs at least 3 distinct angles, got 2"),
        ([0.1, 0.1, 0.2], [0.9, 0.9, 0.1], {}, InputError, r"the angles must be distinct"),
        (
            [0.1, 0.2, 0.3],
            [[0.9], [0.1]],
            {},
            InputError,
            r"errors must have shape \(len\(g\), n_seeds\) = \(3, n_seeds\), got \(2, 1\)",
        ),
        ([0.1, 0.2, 0.3], [0.9, np.nan, 0.1], {}, InputError, r"no finite error at g = 0\.2"),
        (
            [0.1, 0.2, 0.3],
            [0.9, 0.5, 0.1],
            {"n_bootstrap": 0},
            ConfigurationError,
            r"n_bootstrap must be an int >= 1, got 0",
        ),
    ],
)
def test_locate_gc_errors(g, errors, kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        locate_gc(g, errors, **kwargs)


def test_locate_gc_from_records_tabulates_seeds() -> None:
    g = [0.2, 0.4, 0.6, 0.8]
    recs = [fake_record(a=0.0, g=gv, seed=s, val_vote_error=0.9 if gv < 0.5 else 0.06) for gv in g for s in (0, 1)]
    gc = locate_gc_from_records(recs)
    assert gc.interval == (0.4, 0.6)
    recs.append(fake_record(a=0.3, g=0.2, seed=0))
    with pytest.raises(InputError, match=r"the records hold several stretches \[0\.0, 0\.3\]; pass a="):
        locate_gc_from_records(recs)
    assert locate_gc_from_records(recs, a=0.0).interval == (0.4, 0.6)


# ------------------------------------------------------------------------------------------- figures
def test_figures_are_written(tmp_path) -> None:
    a_recs = [
        fake_record(a=a, seed=s, val_vote_error=0.08 - 0.2 * a + 0.3 * a * a + 0.002 * s)
        for a in (0.0, 0.1, 0.316, 1.0)
        for s in (0, 1, 2)
    ]
    fig = plot_error_vs_a(a_recs, paper=(0.316, 0.0472))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("best: ") for t in labels) and any(t.startswith("paper: 4.72%") for t in labels)
    assert save_figure(fig, tmp_path / "a.png").stat().st_size > 5000
    g_recs = [
        fake_record(a=0.0, g=gv, seed=s, val_vote_error=0.9 if gv < 0.4 else 0.06)
        for gv in np.linspace(0.1, HALF_PI, 8)
        for s in (0, 1)
    ]
    fig = plot_error_vs_g(g_recs)
    assert any(t.get_text().startswith("g_c = (") for t in fig.axes[0].get_legend().get_texts())
    assert save_figure(fig, tmp_path / "g.png").is_file()
    grid = [fake_record(a=a, g=gv, seed=0, val_vote_error=0.05 + a) for a in (0.0, 0.5) for gv in (0.5, HALF_PI)]
    assert save_figure(plot_heatmap(grid), tmp_path / "h.png").is_file()
    with pytest.raises(InputError, match=r"the records hold several angles g"):
        plot_error_vs_a(grid)
    with pytest.raises(InputError, match=r"no records to plot"):
        plot_error_vs_g([])


# ------------------------------------------------------------------------------------------------ CLI
def test_parse_values() -> None:
    assert parse_values("0,0.1, 0.316") == [0.0, 0.1, 0.316]
    assert parse_values("pi/8, 5*pi/19", angles=True) == [math.pi / 8, 5 * math.pi / 19]
    with pytest.raises(ConfigurationError, match=r"cannot read 'pi/8' in '0,pi/8' as a number"):
        parse_values("0,pi/8")
    with pytest.raises(ConfigurationError, match=r"no values in ' , '"):
        parse_values(" , ")


def test_sweep_parser_defaults_are_the_paper_recipe() -> None:
    parser = argparse.ArgumentParser()
    add_sweep_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", "--param", "g", "--values", "pi/8,pi/2"])
    assert (args.hidden, args.epochs, args.seeds, args.shots, args.eval_every, args.lr, args.batch_size) == (
        [512, 512, 512],
        100,
        3,
        15,
        10,
        0.01,
        64,
    )
    assert args.a == 0.0 and args.g == HALF_PI and args.schedule == "none"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--param", "grid", "--a-values", "0"], r"--param grid needs both --a-values and --g-values"),
        (["--param", "grid", "--values", "0"], r"--values goes with --param a or g"),
        (["--param", "a"], r"--param a needs --values"),
        (["--param", "a", "--values", "0", "--g-values", "pi/2"], r"--a-values and --g-values go with --param grid"),
        (["--param", "g", "--values", "pi/8,3"], r"g must be a number in \[0, pi/2\], got 3\.0"),
    ],
)
def test_sweep_command_usage_errors(extra, match, capsys, tmp_path) -> None:
    assert main(["sweep", *extra, "--results-dir", str(tmp_path), "--limit", "10", "--epochs", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(ConfigurationError, match=match):
        parser = argparse.ArgumentParser()
        add_sweep_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["sweep", *extra, "--results-dir", str(tmp_path), "--limit", "10", "--epochs", "1"])
        args.handler(args)


def test_miniature_sweep_end_to_end(tmp_path, capsys) -> None:
    """What CI runs instead of a real sweep: 2 points, 1 epoch, a tiny network, 100 images."""
    argv = [
        "sweep",
        "--param",
        "a",
        "--values",
        "0,0.5",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "16",
        "--limit",
        "100",
        "--shots",
        "3",
        "--results-dir",
        str(tmp_path),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sweep: 2 points (2 a x 1 g x 1 seeds), 784-16-16-10, 1 epochs" in out
    assert "val vote %" in out and f"wrote {tmp_path / 'error_vs_a.png'}" in out
    recs = load_records(tmp_path)
    assert [(r.a, r.seed, r.layer_sizes) for r in recs] == [(0.0, 0, [784, 16, 16, 10]), (0.5, 0, [784, 16, 16, 10])]
    assert recs[0].settings["config"]["eval_shots"] == 3
    assert (tmp_path / "error_vs_a.png").stat().st_size > 5000
    # a re-run trains nothing and reports the same table
    assert main(argv) == 0
    assert load_records(tmp_path) == recs
    capsys.readouterr()
    assert main(["sweep", "--param", "a", "--results-dir", str(tmp_path), "--report", "--no-plots", "--markdown"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| a | g/pi | seeds | val vote % |")
    assert table[3].startswith("| 0.5 | 0.5 | 0 | ")


def test_miniature_g_sweep_writes_gc(tmp_path, capsys) -> None:
    argv = [
        "sweep",
        "--param",
        "g",
        "--values",
        "0.05,pi/4,pi/2",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "8",
        "--limit",
        "100",
        "--shots",
        "3",
        "--results-dir",
        str(tmp_path),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    gc = json.loads((tmp_path / "gc.json").read_text())
    assert set(gc) >= {"g_c", "uncertainty", "resolution", "bootstrap_std", "interval"}
    assert (tmp_path / "error_vs_g.png").is_file()
    assert "critical angle: g_c = " in capsys.readouterr().out


def test_qnqnn_sweep_is_wired_into_the_main_cli(tmp_path) -> None:
    from qiskit_natural_qnn.cli import app as cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "sweep" in sub.choices
    argv = [
        "sweep",
        "--param",
        "a",
        "--values",
        "0.5",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--limit",
        "50",
        "--shots",
        "1",
        "--results-dir",
        str(tmp_path),
        "--no-progress",
        "--no-plots",
    ]
    assert cli.main(argv) == 0
    assert [r.a for r in load_records(tmp_path)] == [0.5]


def test_data_dir_runs_the_paper_split(tmp_path, capsys) -> None:
    """With --data-dir the sweep trains on the first training images and validates on the test set."""
    from tests.test_data import populate

    populate(tmp_path / "mnist", ".gz")
    argv = [
        "sweep",
        "--param",
        "a",
        "--values",
        "0.3",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--shots",
        "3",
        "--train-size",
        "10",
        "--data-dir",
        str(tmp_path / "mnist"),
        "--results-dir",
        str(tmp_path / "out"),
        "--no-progress",
        "--no-plots",
    ]
    assert main(argv) == 0
    (rec,) = load_records(tmp_path / "out")
    assert (rec.data["train"], rec.data["n_train"], rec.data["validation"], rec.data["n_validation"]) == (
        "mnist-train",
        10,
        "mnist-validation",
        7,
    )


def test_grid_report_names_the_best_point_of_each_method(tmp_path, capsys) -> None:
    """The report of a grid says which (a, g) is best within classical, Method 1, Method 2 and combined."""
    cases = [
        (0.0, HALF_PI, 0.08),
        (0.316, HALF_PI, 0.049),
        (0.5, HALF_PI, 0.05),
        (0.0, math.pi / 4, 0.054),
        (0.316, 3 * math.pi / 8, 0.047),
        (0.5, math.pi / 4, 0.052),
    ]
    (tmp_path / "points").mkdir()
    for a, g, err in cases:
        for seed, shift in ((0, -0.001), (1, 0.001)):
            rec = fake_record(a=a, g=g, seed=seed, val_vote_error=err + shift)
            rec.to_json(tmp_path / "points" / f"{rec.point.key}.json")
    assert main(["sweep", "--param", "grid", "--results-dir", str(tmp_path), "--report", "--no-plots"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line == (
        "best mean validation vote error per method: classical 8.00 ± 0.14 % at a = 0, g = 0.5 pi (2 seeds); "
        "method 1 4.90 ± 0.14 % at a = 0.316, g = 0.5 pi (2 seeds); method 2 5.40 ± 0.14 % at a = 0, g = 0.25 pi "
        "(2 seeds); combined 4.70 ± 0.14 % at a = 0.316, g = 0.375 pi (2 seeds)"
    )


def test_load_records_skips_a_damaged_record_with_a_warning(tmp_path, caplog) -> None:
    (tmp_path / "points").mkdir()
    good = fake_record(a=0.5, seed=0)
    good.to_json(tmp_path / "points" / f"{good.point.key}.json")
    edited = {**fake_record(a=0.5, seed=1).to_dict(), "g": 1e300}
    (tmp_path / "points" / "a0.5_g1.5708_s1.json").write_text(json.dumps(edited))
    with caplog.at_level("WARNING", logger="qiskit_natural_qnn"):
        assert load_records(tmp_path) == [good]
    (message,) = [r.getMessage() for r in caplog.records]
    assert "a0.5_g1.5708_s1.json" in message and "g must be a number in [0, pi/2], got 1e+300" in message
    scan = scan_records(tmp_path)
    assert scan.records == [good] and [d.path.name for d in scan.damaged] == ["a0.5_g1.5708_s1.json"]
