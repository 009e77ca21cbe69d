"""Fuzzing the records the library reads back: run records, results archives, sweep records, histories.

A run record is what lets an interrupted hardware evaluation collect its finished jobs and submit only
what is missing, so it is read back after crashes, copies and hand edits. The property: loading any
JSON document as a record, then starting and resuming a run from it, either works or raises a typed
library error; a damaged results file makes the job run (or be fetched) again.

Sweep records, histories and results archives: every generated edit is refused with
``DamagedFileError`` naming the file, or gives a record that is valid in every field; a damaged sweep
record is never counted as the finished point (a resumed sweep runs exactly the damaged points again)
and ``--report`` skips and counts it.

The tests pin defects the fuzzers found, now fixed (docs/reliability.md, "Defects found by the
fuzzers, and fixed").
"""

from __future__ import annotations

import copy
import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qiskit_natural_qnn import ConfigurationError, DamagedFileError, NaturalQNNError
from qiskit_natural_qnn.data import Dataset, MNISTSplit
from qiskit_natural_qnn.experiments import sweep
from qiskit_natural_qnn.training import History, TrainConfig
from tests.records import fake_record

records = pytest.importorskip("qiskit_natural_qnn.execution.records")

CASES: Counter = Counter()

_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
_JOB = st.fixed_dictionaries(
    {
        "digest": st.sampled_from(["d", 1]),
        "status": st.sampled_from(["done", "submitted", 3]),
        "job_id": _JSON,
        "results_file": st.sampled_from(["x.npz", None, 5, "../x.npz", "/x.npz"]),
    }
)
_DOCS = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {
            "format": st.sampled_from([records.RECORD_FORMAT, "x"]),
            "version": st.sampled_from([records.RECORD_VERSION, 2, "1"]),
            "header": st.one_of(_JSON, st.fixed_dictionaries({"seed": _JSON, "model": _JSON})),
            "jobs": st.one_of(_JSON, st.dictionaries(st.sampled_from(["h1/0", "h2/0"]), st.one_of(_JSON, _JOB))),
        }
    ),
)


@pytest.fixture(autouse=True, scope="module")
def _report():
    yield
    print(f"\n[fuzz] {__name__}: {sum(CASES.values())} cases {dict(CASES)}")


def _resume(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = records.RunRecord(path)
        _ = record.seed, record.job_ids
        record.start({"model": "m", "shots": 3, "seed": 1})
        record.reuse("h1/0", "d")


@settings(
    max_examples=150,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(doc=_DOCS)
def test_any_json_document_as_a_run_record(tmp_path, doc) -> None:
    CASES["run record documents"] += 1
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    try:
        _resume(path)
    except NaturalQNNError:
        pass


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04garbage", b"", b"\x93NUMPY not an npz", None],
)
def test_damaged_results_file_means_running_the_job_again(tmp_path, content) -> None:
    CASES["damaged results files"] += 1
    path = tmp_path / "run.json"
    path.write_text(
        json.dumps(
            {
                "format": records.RECORD_FORMAT,
                "version": records.RECORD_VERSION,
                "header": {"seed": 1},
                "jobs": {"h1/0": {"digest": "d", "status": "done", "job_id": "j", "results_file": "x.npz"}},
            }
        )
    )
    results = tmp_path / "run.json.results"
    results.mkdir()
    if content is None:  # a valid .npz with the right digest but arrays of another layout
        np.savez(results / "x.npz", digest=np.asarray("d"), other=np.zeros(3))
    else:
        (results / "x.npz").write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert records.RunRecord(path).reuse("h1/0", "d") is None  # no fetch_job: run it again


# ------------------------------------------------------------------------------------ sweep records
# An edited or damaged sweep record is refused on read (DamagedFileError naming the file) or is a valid
# record; it never counts as the finished point and never crashes a report or a resume with
# UnicodeDecodeError, RecursionError, KeyError or TypeError.


class Deep:
    """A value nested ``n`` lists deep, written as JSON text (json.dumps itself stops near 1000 levels)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Deep({self.n})"


_DEEP = st.integers(60, 20_000).map(Deep)
_BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.sampled_from([-1, -1e-9, 1.0000001, 2, 1e300, -1e300, 10**400, 2**64, float("nan"), float("inf"), -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-2, 3), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)
_FIELDS = [
    "a",
    "g",
    "seed",
    "layer_sizes",
    "settings",
    "data",
    "val_single_shot_error",
    "val_vote_error",
    "train_error",
    "train_single_shot_error",
    "train_vote_error",
    "seconds",
    "version",
    "device",
    "finished_at",
    "history",
    "host",
    "imported_from",
    "format",
    "format_version",
    "settings.config",
    "settings.hidden",
    "data.n_train",
]


def _edit(doc: dict, field: str, value) -> dict:
    doc = copy.deepcopy(doc)
    *parents, leaf = field.split(".")
    target = doc
    for name in parents:
        target = target.get(name) if isinstance(target, dict) else None
    if not isinstance(target, dict):  # an earlier edit replaced the parent
        return doc
    if value is _DELETE:
        target.pop(leaf, None)
    else:
        target[leaf] = value
    return doc


_DELETE = object()


def _dump(doc) -> str:
    """JSON as a hand editor or another tool may write it: NaN and Infinity literals, deep nesting."""
    deep: dict[str, int] = {}

    def placeholder(value):
        if isinstance(value, Deep):
            deep[f"@@deep{len(deep)}@@"] = value.n
            return f"@@deep{len(deep) - 1}@@"
        raise TypeError(type(value).__name__)

    text = json.dumps(doc, allow_nan=True, default=placeholder)
    for key, n in deep.items():
        text = text.replace(json.dumps(key), "[" * n + "]" * n)
    return text


def _check_valid(rec) -> None:
    """What a record that was read back must satisfy (else it should have been refused)."""
    import math

    assert isinstance(rec.seed, int) and not isinstance(rec.seed, bool) and 0 <= rec.seed < 2**64
    assert math.isfinite(rec.a) and rec.a >= 0 and 0 <= rec.g <= math.pi / 2 + 1e-12
    for name in ("val_single_shot_error", "val_vote_error", "train_error"):
        value = getattr(rec, name)
        assert not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1
    for name in ("train_single_shot_error", "train_vote_error"):
        value = getattr(rec, name)
        assert value is None or (not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1)
    assert math.isfinite(rec.seconds) and rec.seconds >= 0
    assert all(isinstance(n, int) and n >= 1 for n in rec.layer_sizes) and len(rec.layer_sizes) >= 2
    assert isinstance(rec.settings, dict) and isinstance(rec.data, dict) and isinstance(rec.history, dict)
    from qiskit_natural_qnn.cli.experiments import report_text

    report_text([rec], "a")  # a valid record can be reported


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(_FIELDS), st.one_of(_BAD_VALUES, _DEEP, st.just(_DELETE))), min_size=1, max_size=3
    )
)
def test_edited_sweep_records_are_refused_or_valid(tmp_path, edits) -> None:
    CASES["sweep record field edits"] += 1
    doc = fake_record(a=0.5, seed=1, val_vote_error=0.07).to_dict()
    for field, value in edits:
        doc = _edit(doc, field, value)
    path = tmp_path / "a0.5_g1.5708_s1.json"
    path.write_text(_dump(doc))
    try:
        rec = sweep.PointRecord.from_json(path)
    except DamagedFileError as exc:
        assert str(path) in str(exc)
        return
    _check_valid(rec)


def test_the_reported_edits_are_refused(tmp_path) -> None:
    """The kinds the issue lists, one by one: each refused with the file and the problem named."""
    doc = fake_record(a=0.5, seed=1).to_dict()
    cases = {
        '"a": -1': _edit(doc, "a", -1),
        '"g": 1e300': _edit(doc, "g", 1e300),
        "NaN error": _edit(doc, "val_vote_error", float("nan")),
        "null figure": _edit(doc, "val_vote_error", None),
        "error as text": _edit(doc, "train_error", "0.1"),
        "missing field": _edit(doc, "seconds", _DELETE),
        "settings a list": _edit(doc, "settings", []),
        "seed a float": _edit(doc, "seed", 1.5),
        "negative seconds": _edit(doc, "seconds", -3.0),
    }
    raw = {
        "binary bytes": bytes(range(256)),
        "deep nesting": b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "5000-digit number": b'{"a": ' + b"9" * 5000 + b"}",
        "NaN literal": json.dumps(_edit(doc, "a", float("nan"))).encode(),
    }
    for name, content in [*((k, json.dumps(v).encode()) for k, v in cases.items()), *raw.items()]:
        CASES["sweep record reported kinds"] += 1
        path = tmp_path / "a0.5_g1.5708_s1.json"
        path.write_bytes(content)
        with pytest.raises(DamagedFileError, match=r"a0\.5_g1\.5708_s1\.json") as info:
            sweep.PointRecord.from_json(path)
        assert "Error" not in str(info.value).split(":")[0], (name, str(info.value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_sweep_record_bytes_are_refused_or_valid(tmp_path, data) -> None:
    """Byte flips, truncations, splices of random bytes into a record file."""
    CASES["sweep record byte damage"] += 1
    good = bytearray((json.dumps(fake_record(a=0.5, seed=1).to_dict(), indent=1) + "\n").encode())
    op = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    at = data.draw(st.integers(0, len(good) - 1))
    if op == "flip":
        good[at] ^= data.draw(st.integers(1, 255))
    elif op == "truncate":
        del good[at:]
    else:
        good[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    path = tmp_path / "a0.5_g1.5708_s1.json"
    path.write_bytes(bytes(good))
    try:
        _check_valid(sweep.PointRecord.from_json(path))
    except DamagedFileError:
        pass


def _toy_split() -> MNISTSplit:
    """The data ``fake_record`` claims: 't' with 1 image, 'v' with 1 image."""
    one = Dataset(np.zeros((1, 3), dtype=np.float32), np.zeros(1, dtype=np.int64), "t")
    return MNISTSplit(one, Dataset(one.images, one.labels, "v"), "fake")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    damage=st.dictionaries(
        st.sampled_from(["a0_g1.5708_s0", "a0.5_g1.5708_s0", "a1_g1.5708_s0"]),
        st.tuples(st.sampled_from(_FIELDS[:16]), _BAD_VALUES),
        max_size=3,
    ),
    other_point=st.booleans(),
)
def test_a_damaged_record_is_never_counted_as_the_finished_point(tmp_path_factory, monkeypatch, damage, other_point):
    """Resume a 3-point sweep whose records were edited: exactly the damaged points run again."""
    CASES["sweep resumes with damaged records"] += 1
    folder = tmp_path_factory.mktemp("sweep")
    points = sweep.grid_points(a=[0, 0.5, 1], seeds=[0])
    (folder / "points").mkdir()
    damaged = set()
    for p in points:
        doc = fake_record(a=p.a, g=p.g, seed=p.seed).to_dict()
        if p.key in damage:
            doc = _edit(doc, *damage[p.key])
        if other_point and p.a == 1:  # a valid record of another point, under this point's name
            doc = fake_record(a=0.25, g=p.g, seed=p.seed).to_dict()
            damaged.add(p.key)
        path = folder / "points" / f"{p.key}.json"
        path.write_text(_dump(doc))
        try:
            if sweep.PointRecord.from_json(path).point != p:  # e.g. "a": 1 in a0.5's file
                damaged.add(p.key)
        except DamagedFileError:
            damaged.add(p.key)
    ran = []

    def run_point(point, **kwargs):
        ran.append(point.key)
        return fake_record(a=point.a, g=point.g, seed=point.seed)

    monkeypatch.setattr(sweep, "run_point", run_point)
    settings_ = sweep.SweepSettings(hidden=(16,))
    try:
        records = sweep.run_sweep(points, settings=settings_, results_dir=folder, data=_toy_split(), progress=False)
    except ConfigurationError:  # a valid record of other settings or data: refused, as before
        return
    assert sorted(ran) == sorted(damaged)
    assert [r.point for r in records] == points
    scan = sweep.scan_records(folder)
    assert len(scan.records) == 3 and scan.damaged == []  # the reruns replaced the damaged files


def test_report_skips_and_counts_damaged_records(tmp_path, capsys, caplog) -> None:
    from qiskit_natural_qnn.cli.app import main

    (tmp_path / "points").mkdir()
    good = [fake_record(a=a, seed=s, val_vote_error=0.1) for a in (0.0, 0.5) for s in (0, 1)]
    for rec in good:
        rec.to_json(tmp_path / "points" / f"{rec.point.key}.json")
    bad = {
        "a0.5_g1.5708_s2.json": json.dumps(_edit(fake_record(a=0.5, seed=2).to_dict(), "a", -1)),
        "a0_g1.5708_s2.json": "\x00\xff binary",
        "a1_g1.5708_s0.json": json.dumps(fake_record(a=0.0, seed=0).to_dict()),  # another point's record
    }
    for name, text in bad.items():
        (tmp_path / "points" / name).write_text(text, encoding="latin-1")
    CASES["sweep --report with damaged records"] += len(bad)
    with caplog.at_level("WARNING", logger="qiskit_natural_qnn"):
        assert main(["sweep", "--param", "a", "--results-dir", str(tmp_path), "--report", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("skipped 3 damaged record file(s), left out of the table: ")
    assert all(str(tmp_path / "points" / name) in out.splitlines()[-1] for name in bad)
    assert "0,1" in out and "0,1,2" not in out  # the table holds seeds 0 and 1 only
    warned = [r.getMessage() for r in caplog.records if r.name.startswith("qiskit_natural_qnn")]
    assert len(warned) == 3 and all("skipped damaged sweep record" in m for m in warned)
    assert any("a must be a finite number >= 0, got -1" in m for m in warned)
    assert any("holds point a0_g1.5708_s0, not the point its name says" in m for m in warned)


# ----------------------------------------------------------------------------------- history.json
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(["records", "config", "spec", "layer_sizes", "seed", "version", "records.0", "config.lr"]),
    value=st.one_of(_BAD_VALUES, _DEEP, st.just(_DELETE)),
)
def test_edited_histories_are_refused_or_read(tmp_path, field, value) -> None:
    CASES["history.json edits"] += 1
    doc = History(config=TrainConfig(epochs=2), spec={"a": 0.5}, layer_sizes=[3, 2, 2], seed=0, version="x").to_dict()
    doc["records"] = [{"epoch": 1, "loss": 0.5, "train_error": 0.1, "val_single_shot_error": None,
                       "val_vote_error": None, "seconds": 1.0}]  # fmt: skip
    if field == "records.0":
        doc["records"][0] = value if value is not _DELETE else {}
    else:
        doc = _edit(doc, field, value)
    path = tmp_path / "history.json"
    path.write_text(_dump(doc))
    try:
        assert isinstance(History.from_json(path), History)
    except DamagedFileError as exc:
        assert str(path) in str(exc)


# --------------------------------------------------------------------------------- results archives
_NAMES = st.one_of(
    st.sampled_from(["p0__shape", "p1__shape", "p0__h__bits", "p0__h__num_bits", "p0__h2__bits", "p2__h__num_bits"]),
    st.text(max_size=8),
)
_ARRAYS = st.one_of(
    st.builds(lambda n: np.asarray(n, dtype=np.int64), st.lists(st.integers(-2, 4), max_size=3)),
    st.builds(lambda n: np.asarray(n, dtype=np.int64), st.integers(-2, 20)),
    st.builds(
        lambda shape, dtype: np.zeros(shape, dtype=dtype),
        st.lists(st.integers(0, 3), max_size=4).map(tuple),
        st.sampled_from([np.uint8, np.int64, np.float64, np.bool_, "U3"]),
    ),
    st.just(np.asarray([{"pickled": 1}], dtype=object)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays=st.dictionaries(_NAMES, _ARRAYS, max_size=5), digest=st.sampled_from(["d", "other", None]))
def test_any_results_archive_is_refused_or_read_consistently(tmp_path, arrays, digest) -> None:
    CASES["results archives"] += 1
    if digest is not None:
        arrays = {**arrays, "digest": np.asarray(digest)}
    path = tmp_path / "x.npz"
    reserved = {"file", "args", "kwds", "allow_pickle"}  # np.savez's own parameters
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if k and k not in reserved and "/" not in k})
    try:
        result = records.read_results_archive(path, "d")
    except DamagedFileError as exc:
        assert str(path) in str(exc)
        return
    if result is None:
        assert digest == "other"
        return
    for pub in result:
        for value in pub.data.values():
            assert value.array.shape[: len(pub.data.shape)] == pub.data.shape


class Marker:
    """Unpickling this creates a file: proof that a reader ran code from the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickled_arrays_in_a_results_archive_are_never_unpickled(tmp_path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "x.npz"
    bits = np.empty(1, dtype=object)
    bits[0] = Marker(marker)
    np.savez(path, digest=np.asarray("d"), p0__shape=np.asarray([1]), p0__h__bits=bits)
    with pytest.raises(DamagedFileError, match=r"x\.npz' is damaged"):
        records.read_results_archive(path, "d")
    assert not marker.exists()
    CASES["results archives"] += 1
