"""Fuzzing model and checkpoint files: every damaged file is refused with DamagedFileError or loads validly.

Model files (:mod:`qiskit_natural_qnn.io`) carry no checksum, so a flipped bit in a weight gives
another valid model; the property is that loading never raises anything but
:class:`~qiskit_natural_qnn.exceptions.DamagedFileError` and never returns an inconsistent network.
Checkpoints carry a SHA-256 digest, so the stronger property holds: a damaged checkpoint is refused
unless the damage left its meaning intact (e.g. a changed padding byte). A model header that is
nested too deeply, holds a huge version number, a tensor of another dtype or a forged size is refused
by ``read_metadata`` and ``load_model`` before any tensor is read.
"""

from __future__ import annotations

import json
import pickle
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as st_save

from qiskit_natural_qnn import DamagedFileError, NaturalQNN, TrainConfig, fit
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.io import load_model, read_metadata, save_model
from qiskit_natural_qnn.training.checkpoint import CHECKPOINT_FILE, read_checkpoint

CASES: Counter = Counter()


@pytest.fixture(autouse=True, scope="module")
def _report():
    yield
    print(f"\n[fuzz] {__name__}: {sum(CASES.values())} cases {dict(CASES)}")


def _load_or_refuse(path: Path) -> NaturalQNN | None:
    """Load ``path``; None when refused with DamagedFileError; the loaded model is checked for consistency."""
    try:
        meta = read_metadata(path)
    except DamagedFileError:
        meta = None
    try:
        model = load_model(path)
    except DamagedFileError:
        return None
    assert meta is not None  # a loadable file has readable metadata
    assert model.layer_sizes == meta.layer_sizes and model.spec == meta.spec and model.bias == meta.bias
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    return model


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("models")
    nets = [
        NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, seed=1),
        NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.2, g=0.7, bias=True, seed=2, dtype=torch.float64),
    ]
    return [
        save_model(net, folder / f"{i}.safetensors", metadata={"epochs": 3}).read_bytes() for i, net in enumerate(nets)
    ]


def test_every_single_byte_mutation_of_a_model_file(tmp_path, model_files) -> None:
    """Each byte of two model files replaced (3 kinds of change in turn): DamagedFileError or a consistent model."""
    path = tmp_path / "m.safetensors"
    outcomes: Counter = Counter()
    for good in model_files:
        for i in range(len(good)):
            data = bytearray(good)
            data[i] = (good[i] ^ 0x01, good[i] ^ 0x80, 0x20 if good[i] != 0x20 else 0x7B)[i % 3]
            path.write_bytes(bytes(data))
            outcomes["loaded" if _load_or_refuse(path) is not None else "refused"] += 1
    CASES["model byte mutations"] += sum(outcomes.values())
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0  # both kinds occur: the check is not vacuous


def test_truncations_of_a_model_file_are_refused(tmp_path, model_files) -> None:
    path = tmp_path / "m.safetensors"
    for good in model_files:
        for n in range(0, len(good), 3):
            path.write_bytes(good[:n])
            with pytest.raises(DamagedFileError):
                load_model(path)
            CASES["model truncations"] += 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_edits_of_a_model_file(tmp_path, model_files, data) -> None:
    """Random splices: overwrite, insert or delete runs of random bytes, several times."""
    CASES["model random edits"] += 1
    buf = bytearray(data.draw(st.sampled_from(model_files)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(buf)))
        chunk = data.draw(st.binary(min_size=0, max_size=12))
        op = data.draw(st.sampled_from(["overwrite", "insert", "delete"]))
        if op == "overwrite":
            buf[at : at + len(chunk)] = chunk
        elif op == "insert":
            buf[at:at] = chunk
        else:
            del buf[at : at + len(chunk)]
    path = tmp_path / "m.safetensors"
    path.write_bytes(bytes(buf))
    _load_or_refuse(path)


_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.one_of(st.lists(st.integers(-1, 5), max_size=5), _JSONISH),
    spec=st.one_of(
        st.fixed_dictionaries(
            {
                "a": st.floats(-1, 2),
                "stretch": st.sampled_from(["tanh", "sgn", "x"]),
                "g": st.floats(-1, 2),
                "weak_update": st.sampled_from(["circuit", "y"]),
            }
        ),
        _JSONISH,
    ),
    bias=st.sampled_from(["true", "false", "True", "1", ""]),
    version=st.sampled_from(["1", "2", "0", "01", "1.0", "-1", "١"]),
    user=st.one_of(_JSONISH, st.just({"epochs": 3})),
)
def test_mismatched_model_metadata(tmp_path, sizes, spec, bias, version, user) -> None:
    """Metadata that may disagree with the tensors (2-3-2 weights): refused, or exactly as described."""
    CASES["model metadata mismatches"] += 1
    tensors = {"layers.0.weight": torch.ones(3, 2), "layers.1.weight": torch.ones(2, 3)}
    meta = {
        "format": "qiskit-natural-qnn",
        "format_version": version,
        "layer_sizes": json.dumps(sizes),
        "spec": json.dumps(spec),
        "bias": bias,
        "library_version": "x",
        "user": json.dumps(user),
    }
    path = tmp_path / "m.safetensors"
    path.write_bytes(st_save(tensors, metadata=meta))
    model = _load_or_refuse(path)
    if model is not None:
        assert version == "1" and bias == "false" and model.layer_sizes == (2, 3, 2) and sizes == [2, 3, 2]
        assert isinstance(user, dict) and read_metadata(path).user == user


class _Marker:
    """Unpickling this creates a file: proof that a loader ran code from the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickles_are_never_unpickled(tmp_path) -> None:
    marker = tmp_path / "code-ran"
    for name, payload in (("pickle", pickle.dumps(_Marker(marker))), ("torch", None)):
        path = tmp_path / f"{name}.safetensors"
        if payload is None:
            torch.save({"layers.0.weight": torch.ones(2, 2), "x": _Marker(marker)}, path)
        else:
            path.write_bytes(payload)
        with pytest.raises(DamagedFileError):
            load_model(path)
        with pytest.raises(DamagedFileError):
            read_checkpoint(path)
        assert not marker.exists()


# ------------------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(0)
    data = Dataset(rng.random((12, 3), dtype=np.float32), rng.integers(0, 2, 12), "toy")
    net = NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0)
    fit(
        net,
        data,
        config=TrainConfig(epochs=2, batch_size=4, seed=0),
        progress=False,
        checkpoint_dir=folder,
        checkpoint_every=4,
    )  # the last checkpoint is at the end of epoch 2
    return (folder / CHECKPOINT_FILE).read_bytes()


def test_checkpoint_byte_mutations_are_refused_or_harmless(tmp_path, checkpoint_file) -> None:
    """Every 3rd header byte and every 61st data byte flipped: refused, or a checkpoint with the same content."""
    good = read_checkpoint_bytes(tmp_path, checkpoint_file)
    (header_len,) = struct.unpack("<Q", checkpoint_file[:8])
    positions = [*range(0, 8 + header_len, 3), *range(8 + header_len, len(checkpoint_file), 61)]
    outcomes: Counter = Counter()
    for i in positions:
        data = bytearray(checkpoint_file)
        data[i] ^= 0x01 if i % 2 else 0x40
        try:
            ckpt = read_checkpoint_bytes(tmp_path, bytes(data))
        except DamagedFileError:
            outcomes["refused"] += 1
            continue
        outcomes["same content"] += 1
        assert ckpt.state == good.state and ckpt.tensors.keys() == good.tensors.keys()
        assert all(torch.equal(ckpt.tensors[k], good.tensors[k]) for k in good.tensors)
    CASES["checkpoint byte mutations"] += sum(outcomes.values())
    assert outcomes["refused"] >= len(positions) - 8  # only bytes that do not change the meaning pass


def test_truncations_of_a_checkpoint_are_refused(tmp_path, checkpoint_file) -> None:
    for n in range(0, len(checkpoint_file), 53):
        with pytest.raises(DamagedFileError):
            read_checkpoint_bytes(tmp_path, checkpoint_file[:n])
        CASES["checkpoint truncations"] += 1


def read_checkpoint_bytes(folder: Path, data: bytes):
    (folder / CHECKPOINT_FILE).write_bytes(data)
    return read_checkpoint(folder)


# ------------------------------------------------------------------------- model headers, before any load
# Every header problem is refused by read_metadata and load_model with DamagedFileError naming the file,
# before a tensor is read (safetensors' reader is replaced by one that fails the test): a huge version
# number, nesting thousands deep, a tensor of a dtype the format does not allow, a forged shape or size.

_ALL_DTYPES = {
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _no_tensor_read(*args, **kwargs):
    raise AssertionError("a tensor was read before the header was refused")


def _header_file(path: Path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _refused(path: Path, monkeypatch, *, match: str) -> None:
    monkeypatch.setattr("qiskit_natural_qnn.io.model_files.safe_open", _no_tensor_read)
    for read in (read_metadata, load_model):
        with pytest.raises(DamagedFileError, match=match) as info:
            read(path)
        assert str(path) in str(info.value)


def _split(good: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", good[:8])
    return json.loads(good[8 : 8 + n]), good[8 + n :]


@pytest.mark.parametrize("digits", [10, 20, 100, 1000, 4300, 4301, 5000, 20000])
def test_huge_format_versions_are_refused(tmp_path, monkeypatch, model_files, digits) -> None:
    CASES["model header: huge version numbers"] += 1
    header, data = _split(model_files[0])
    header["__metadata__"]["format_version"] = "9" * digits
    _header_file(tmp_path / "m.safetensors", header, data)
    _refused(
        tmp_path / "m.safetensors",
        monkeypatch,
        match=rf"format_version must be a positive integer, got '9{{{min(digits, 20)}}}",
    )


@pytest.mark.parametrize("depth", [65, 100, 1000, 5000, 100_000])
@pytest.mark.parametrize("where", ["header", "tensor entry", "user", "spec", "layer_sizes"])
def test_deep_nesting_in_a_header_is_refused(tmp_path, monkeypatch, model_files, depth, where) -> None:
    CASES["model header: deep nesting"] += 1
    header, data = _split(model_files[0])
    deep = "[" * depth + "]" * depth
    if where in ("user", "spec", "layer_sizes"):
        header["__metadata__"][where] = deep
        _header_file(tmp_path / "m.safetensors", header, data)
    else:
        raw = json.dumps(header)
        if where == "header":
            raw = raw[:-1] + ', "x": ' + deep + "}"
        else:
            raw = raw.replace('"dtype": "F32"', '"dtype": "F32", "x": ' + deep, 1)
        (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw.encode() + data)
    _refused(tmp_path / "m.safetensors", monkeypatch, match=r"nested too deeply")


@pytest.mark.parametrize("dtype", sorted(_ALL_DTYPES))
def test_tensors_of_other_dtypes_are_refused_before_any_load(tmp_path, monkeypatch, model_files, dtype) -> None:
    """A BF16 or F8 tensor (or any dtype but F32/F64), even with a consistent size, never reaches the loader."""
    CASES["model header: unsupported dtypes"] += 1
    meta = _split(model_files[0])[0]["__metadata__"]
    tensors = {
        "layers.0.weight": torch.ones(3, 4).to(_ALL_DTYPES[dtype]),
        "layers.1.weight": torch.ones(3, 3),
        "layers.2.weight": torch.ones(2, 3),
    }
    path = tmp_path / "m.safetensors"
    path.write_bytes(st_save(tensors, metadata=meta))
    _refused(path, monkeypatch, match=rf"tensor layers\.0\.weight has dtype '{dtype}', expected F32 or F64")


def test_forged_shapes_and_offsets_are_refused_or_load_consistently(tmp_path, model_files) -> None:
    """Seeded edits of every tensor entry's shape and offsets (the header stays valid JSON)."""
    rng = np.random.default_rng(16)
    outcomes: Counter = Counter()
    for good in model_files:
        header, data = _split(good)
        names = sorted(k for k in header if k != "__metadata__")
        for _ in range(150):
            forged = json.loads(json.dumps(header))
            entry = forged[names[rng.integers(len(names))]]
            kind = rng.integers(4)
            if kind == 0:
                entry["shape"] = [int(v) for v in rng.integers(0, 6, rng.integers(0, 4))]
            elif kind == 1:
                entry["data_offsets"] = sorted(int(v) for v in rng.integers(0, len(data) + 8, 2))
            elif kind == 2:
                entry["shape"] = [int(rng.integers(-3, 2**40)), 1]
            else:
                entry["data_offsets"] = [int(rng.integers(0, 9)), int(rng.integers(0, 2**62))]
            path = tmp_path / "m.safetensors"
            _header_file(path, forged, data)
            outcomes["loaded" if _load_or_refuse(path) is not None else "refused"] += 1
    CASES["model header: forged shapes and offsets"] += sum(outcomes.values())
    assert outcomes["refused"] > 0
