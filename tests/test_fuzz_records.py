"""Fuzzing run records (qiskit_natural_qnn.execution.records): a damaged record must not crash a resume.

A run record is what lets an interrupted hardware evaluation collect its finished jobs and submit only
what is missing, so it is read back after crashes, copies and hand edits. The property: loading any
JSON document as a record, then starting and resuming a run from it, either works or raises a typed
library error; a damaged results file makes the job run (or be fetched) again.

Both tests pin defects the fuzzers found in ``execution/records.py``, now fixed
(docs/reliability.md).
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qiskit_natural_qnn import NaturalQNNError

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
