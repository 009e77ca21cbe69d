"""Model files: a documented, versioned safetensors format (no pickle, nothing executed on load).

A model file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file holding one tensor per
weight matrix (``layers.{i}.weight``, shape ``(fan_out, fan_in)``) and, for a network with biases, one
per bias vector (``layers.{i}.bias``), all float32 or all float64 as the network stores them. Its
string metadata describes the network: ``format``, ``format_version``, ``layer_sizes``, ``spec``,
``bias``, ``library_version``, the optional training ``surrogate`` (its name) and optional ``user``
metadata. ``docs/model-format.md`` is the full
specification, with the version policy and a recipe to read a file without this library.

Loading reads a JSON header and raw little-endian floats, nothing else: no pickle, no code.
Every problem with a file raises :class:`~qiskit_natural_qnn.exceptions.DamagedFileError` naming it.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from qiskit_natural_qnn.network import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_model(net, Path(tmp) / "net.safetensors", metadata={"epochs": 3})
    ...     loaded = load_model(path)
    ...     meta = read_metadata(path)
    >>> all(torch.equal(p, q) for p, q in zip(net.parameters(), loaded.parameters()))
    True
    >>> meta.layer_sizes, meta.spec == net.spec, meta.user
    ((4, 3, 3, 2), True, {'epochs': 3})
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as _safetensors_save

from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError, InputError
from qiskit_natural_qnn.io.files import MAX_JSON_DEPTH, decode_json, write_atomic
from qiskit_natural_qnn.network import NaturalQNN, QuantizationSpec, validate_layer_sizes
from qiskit_natural_qnn.surrogates import get_surrogate
from qiskit_natural_qnn.version import __version__

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelMetadata",
    "save_model",
    "load_model",
    "read_metadata",
    "safetensors_header",
]

#: The value of the ``format`` metadata key in every model file.
FORMAT_NAME = "qiskit-natural-qnn"

#: The model file format version this library writes and the newest it reads.
FORMAT_VERSION = 1

#: safetensors refuses headers above 100 MB; so do we, before allocating anything.
_MAX_HEADER_BYTES = 100_000_000

#: safetensors dtype codes this format allows, and the torch dtypes they stand for.
_DTYPES: dict[str, torch.dtype] = {"F32": torch.float32, "F64": torch.float64}

_REQUIRED_KEYS = ("format", "format_version", "layer_sizes", "spec", "bias", "library_version")
_SPEC_FIELDS = ("a", "stretch", "g", "weak_update")


@dataclass(frozen=True)
class ModelMetadata:
    """What a model file says about the network it holds (its metadata, validated).

    Attributes:
        format_version: the file's format version (``1``).
        layer_sizes: ``(n_inputs, hidden_1, ..., n_outputs)``.
        spec: the quantization spec (stretch ``a``, stretch function, ``g``, weak update rule) with
            the training surrogate of the optional ``surrogate`` key (``"hardtanh"`` when absent).
        bias: whether every layer has a bias vector.
        library_version: the qiskit-natural-qnn version that wrote the file (informative only).
        user: the user metadata passed to :func:`save_model` (``{}`` when none).
    """

    format_version: int
    layer_sizes: tuple[int, ...]
    spec: QuantizationSpec
    bias: bool
    library_version: str
    user: dict[str, Any]


def _tensor_names(n_layers: int, bias: bool) -> list[str]:
    names = [f"layers.{i}.weight" for i in range(n_layers)]
    if bias:
        names += [f"layers.{i}.bias" for i in range(n_layers)]
    return sorted(names)


def _expected_shapes(layer_sizes: tuple[int, ...], bias: bool) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    for i, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        shapes[f"layers.{i}.weight"] = [fan_out, fan_in]
        if bias:
            shapes[f"layers.{i}.bias"] = [fan_out]
    return shapes


# ------------------------------------------------------------------------------------------- saving
def save_model(model: NaturalQNN, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` as a qiskit-natural-qnn safetensors file (format version 1).

    The file is written to a temporary file in the same directory and then moved into place with
    :func:`os.replace`, so a reader never sees a half-written file and a crash leaves any previous
    file intact. Missing parent directories are created.

    Args:
        model: the network to save; its parameters must all be float32 or all float64.
        path: where to write (conventionally ``*.safetensors``).
        metadata: optional JSON-ready user metadata (training config, history summary, data source),
            stored under the ``user`` key and returned by :func:`read_metadata`. Keys must be strings;
            NaN and infinity are refused (strict JSON), pass ``None`` or a string instead.

    Returns:
        The path written.

    Raises:
        InputError: ``model`` is not a :class:`NaturalQNN`, holds NaN or infinite weights, has
            parameters of another dtype, or ``metadata`` is not a JSON-ready mapping with string keys.
        OSError: the directory cannot be created or written.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from qiskit_natural_qnn.network import NaturalQNN
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = save_model(NaturalQNN(layer_sizes=[4, 3, 2], seed=0), Path(tmp) / "m" / "net.safetensors")
        ...     path.name, path.is_file()
        ('net.safetensors', True)
    """
    if not isinstance(model, NaturalQNN):
        raise InputError(f"save_model expects a NaturalQNN, got {type(model).__name__}")
    model.check_weights()
    dtypes = {p.dtype for p in model.parameters()}
    if len(dtypes) != 1 or not dtypes <= set(_DTYPES.values()):
        got = ", ".join(sorted(str(d) for d in dtypes))
        raise InputError(
            f"the model file format stores float32 or float64 parameters of one dtype, got {got}; "
            "convert the network first, e.g. model.to(torch.float32)"
        )
    user = _user_json(metadata)

    tensors: dict[str, torch.Tensor] = {}
    for i, (weight, bias) in enumerate(zip(model.weights(), model.biases())):
        tensors[f"layers.{i}.weight"] = weight.detach().to("cpu").contiguous().clone()
        if bias is not None:
            tensors[f"layers.{i}.bias"] = bias.detach().to("cpu").contiguous().clone()
    header = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "layer_sizes": json.dumps(list(model.layer_sizes)),
        "spec": json.dumps(model.spec.to_dict(), allow_nan=False),
        "bias": "true" if model.bias else "false",
        "surrogate": model.surrogate.name,
        "library_version": __version__,
    }
    if user is not None:
        header["user"] = user
    payload = _safetensors_save(tensors, metadata=header)

    return write_atomic(path, payload)


def _user_json(metadata: Mapping[str, Any] | None) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InputError(f"metadata must be a mapping with string keys, got {type(metadata).__name__}")
    bad = [k for k in metadata if not isinstance(k, str)]
    if bad:
        raise InputError(f"metadata keys must be strings, got {bad[0]!r}; convert the keys with str()")
    try:
        text = json.dumps(dict(metadata), allow_nan=False)
        decode_json(text)  # what load_model will accept: e.g. at most MAX_JSON_DEPTH levels of nesting
    except (TypeError, ValueError, RecursionError) as exc:
        detail = f"nested more than {MAX_JSON_DEPTH} levels" if isinstance(exc, RecursionError) else str(exc)
        raise InputError(
            f"metadata must be JSON-ready (str, int, float, bool, None, lists, string-keyed dicts; no NaN "
            f"or infinity; at most {MAX_JSON_DEPTH} levels of nesting): {detail}; convert the offending value, "
            "e.g. with float(), str() or None"
        ) from None
    return text


# ------------------------------------------------------------------------------------------ reading
#: Bytes per element of every safetensors dtype (to check each tensor's byte range against its shape).
_DTYPE_BYTES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}

#: The most dimensions a tensor of a model file or checkpoint has.
_MAX_NDIM = 8


def _expected_dtypes(dtypes: Collection[str]) -> str:
    names = sorted(dtypes)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def safetensors_header(raw: bytes, *, where: str, data_len: int, dtypes: Collection[str]) -> dict[str, Any]:
    """Decode and check the JSON header of a safetensors file before anything else reads the file.

    The header must be a JSON object (nested at most :data:`~qiskit_natural_qnn.io.files.MAX_JSON_DEPTH`
    levels); every tensor entry must name a dtype of ``dtypes``, a shape of at most 8 non-negative
    ints, and ``data_offsets`` that lie in the data section and span exactly the bytes its shape and
    dtype need. So a tensor of an unsupported dtype (``BF16``, ``F8_E4M3``...) or a forged size is
    refused before any digest is computed or any tensor is loaded.

    Args:
        raw: the header bytes (after the 8-byte length).
        where: the file, for messages.
        data_len: the length of the data section that follows the header.
        dtypes: the safetensors dtype codes allowed (``{"F32", "F64"}`` for model files).

    Returns:
        The header (tensor entries and the optional ``__metadata__``).

    Raises:
        DamagedFileError: anything else, with the file and the problem.
    """
    try:
        header = decode_json(raw)
    except DamagedFileError as exc:
        raise DamagedFileError(
            f"{where!r} is corrupt or not a safetensors file: its header is not valid UTF-8 JSON ({exc})"
        ) from None
    if not isinstance(header, dict):
        raise DamagedFileError(
            f"{where!r} is corrupt or not a safetensors file: its header is a JSON "
            f"{type(header).__name__}, not an object"
        )
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise DamagedFileError(f"{where!r} is corrupt: tensor {name!r} is described by a {type(entry).__name__}")
        dtype = entry.get("dtype")
        if dtype not in dtypes:
            raise DamagedFileError(f"{where!r}: tensor {name} has dtype {dtype!r}, expected {_expected_dtypes(dtypes)}")
        shape = entry.get("shape")
        if not (
            isinstance(shape, list)
            and len(shape) <= _MAX_NDIM
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise DamagedFileError(
                f"{where!r} is corrupt: tensor {name!r} has shape {shape!r}, expected a list of at most "
                f"{_MAX_NDIM} non-negative ints"
            )
        offsets = entry.get("data_offsets")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
        ):
            raise DamagedFileError(f"{where!r} is corrupt: tensor {name!r} has no valid data_offsets")
        if offsets[1] > data_len:
            raise DamagedFileError(
                f"{where!r} is truncated: tensor {name!r} ends at data byte {offsets[1]} but the file "
                f"holds only {data_len} data bytes"
            )
        needed = math.prod(shape) * _DTYPE_BYTES.get(str(dtype), 0)
        if offsets[1] - offsets[0] != needed:
            raise DamagedFileError(
                f"{where!r} is corrupt: tensor {name!r} spans {offsets[1] - offsets[0]} data bytes, its shape "
                f"{tuple(shape)} and dtype {dtype} need {needed}"
            )
    return header


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The parsed safetensors header of ``path`` and the length of its data section, sanity-checked."""
    if not path.exists():
        raise DamagedFileError(f"model file {str(path)!r} does not exist; check the path")
    if not path.is_file():
        raise DamagedFileError(f"model file {str(path)!r} is not a regular file")
    size = path.stat().st_size
    if size < 8:
        raise DamagedFileError(
            f"{str(path)!r} is not a safetensors file: it is {size} bytes long, shorter than the 8-byte "
            "header length that opens every safetensors file"
        )
    with path.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n < 2 or n > _MAX_HEADER_BYTES:
            raise DamagedFileError(
                f"{str(path)!r} is not a safetensors file: its first 8 bytes give a header length of {n} "
                f"bytes, outside [2, {_MAX_HEADER_BYTES}]"
            )
        if 8 + n > size:
            raise DamagedFileError(
                f"{str(path)!r} is truncated or not a safetensors file: its header claims {n} bytes but "
                f"only {size - 8} follow"
            )
        raw = f.read(n)
    data_len = size - 8 - n
    return safetensors_header(raw, where=str(path), data_len=data_len, dtypes=_DTYPES), data_len


def _json_field(path: Path, meta: Mapping[str, str], key: str) -> Any:
    try:
        return decode_json(meta[key])
    except DamagedFileError as exc:
        shown = meta[key] if len(meta[key]) <= 80 else meta[key][:80] + "..."
        raise DamagedFileError(f"{str(path)!r}: metadata {key!r} is not valid JSON: {shown!r} ({exc})") from None


def _parse_metadata(path: Path, header: Mapping[str, Any]) -> ModelMetadata:
    meta = header.get("__metadata__")
    if meta is None:
        raise DamagedFileError(
            f"{str(path)!r} is a safetensors file but not a {FORMAT_NAME} model: it has no metadata "
            "(the 'format' key is missing)"
        )
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise DamagedFileError(f"{str(path)!r} is corrupt: safetensors metadata must map strings to strings")
    if "format" not in meta:
        raise DamagedFileError(
            f"{str(path)!r} is a safetensors file but not a {FORMAT_NAME} model: metadata key 'format' is missing"
        )
    if meta["format"] != FORMAT_NAME:
        raise DamagedFileError(
            f"{str(path)!r} is not a {FORMAT_NAME} model: its format is {meta['format']!r}, expected {FORMAT_NAME!r}"
        )
    missing = [k for k in _REQUIRED_KEYS if k not in meta]
    if missing:
        raise DamagedFileError(f"{str(path)!r}: metadata key(s) {', '.join(missing)} missing")

    raw_version = meta["format_version"]
    if not (raw_version.isascii() and raw_version.isdigit() and len(raw_version) <= 9) or int(raw_version) < 1:
        shown = raw_version if len(raw_version) <= 20 else f"{raw_version[:20]}... ({len(raw_version)} characters)"
        raise DamagedFileError(f"{str(path)!r}: format_version must be a positive integer, got {shown!r}")
    format_version = int(raw_version)
    if format_version > FORMAT_VERSION:
        raise DamagedFileError(
            f"{str(path)!r} was written by a newer qiskit-natural-qnn (format {format_version}); this "
            f"version reads format {FORMAT_VERSION}; upgrade the library"
        )

    sizes_json = _json_field(path, meta, "layer_sizes")
    try:
        if not isinstance(sizes_json, list):
            raise ConfigurationError(f"layer_sizes must be a JSON list, got {meta['layer_sizes']!r}")
        layer_sizes = validate_layer_sizes(sizes_json)
    except ConfigurationError as exc:
        raise DamagedFileError(f"{str(path)!r}: invalid layer_sizes: {exc}") from None

    spec_json = _json_field(path, meta, "spec")
    spec = _parse_spec(path, spec_json)

    if meta["bias"] not in ("true", "false"):
        raise DamagedFileError(f"{str(path)!r}: metadata 'bias' must be 'true' or 'false', got {meta['bias']!r}")
    bias = meta["bias"] == "true"

    try:
        NaturalQNN._check_widths(layer_sizes, spec)
    except ConfigurationError as exc:
        raise DamagedFileError(f"{str(path)!r}: layer_sizes and spec disagree: {exc}") from None

    try:  # the optional key; files written before it existed trained with the paper's estimator
        spec = spec.replace(surrogate=get_surrogate(meta.get("surrogate", "hardtanh")))
    except ConfigurationError as exc:
        raise DamagedFileError(f"{str(path)!r}: invalid surrogate: {exc}") from None

    user: dict[str, Any] = {}
    if "user" in meta:
        user = _json_field(path, meta, "user")
        if not isinstance(user, dict):
            raise DamagedFileError(f"{str(path)!r}: metadata 'user' must be a JSON object, got {type(user).__name__}")
    return ModelMetadata(
        format_version=format_version,
        layer_sizes=layer_sizes,
        spec=spec,
        bias=bias,
        library_version=meta["library_version"],
        user=user,
    )


def _parse_spec(path: Path, spec_json: Any) -> QuantizationSpec:
    if not isinstance(spec_json, dict):
        raise DamagedFileError(f"{str(path)!r}: invalid spec: expected a JSON object, got {spec_json!r}")
    keys = set(spec_json)
    if keys != set(_SPEC_FIELDS):
        missing = sorted(set(_SPEC_FIELDS) - keys)
        extra = sorted(keys - set(_SPEC_FIELDS))
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(extra)}"] if extra else []
        )
        raise DamagedFileError(
            f"{str(path)!r}: invalid spec: {'; '.join(parts)}; expected exactly {', '.join(_SPEC_FIELDS)}"
        )
    for name in ("a", "g"):
        v = spec_json[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DamagedFileError(f"{str(path)!r}: invalid spec: {name} must be a JSON number, got {v!r}")
    for name in ("stretch", "weak_update"):
        if not isinstance(spec_json[name], str):
            raise DamagedFileError(
                f"{str(path)!r}: invalid spec: {name} must be a JSON string, got {spec_json[name]!r}"
            )
    try:
        return QuantizationSpec(**spec_json)
    except ConfigurationError as exc:
        raise DamagedFileError(f"{str(path)!r}: invalid spec: {exc}") from None


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadata:
    """Read and validate a model file's metadata without loading its weights.

    Args:
        path: a file written by :func:`save_model`.

    Returns:
        The file's :class:`ModelMetadata`.

    Raises:
        DamagedFileError: the file does not exist, is not a safetensors file, is truncated, is not a
            qiskit-natural-qnn model, was written in a newer format version, or holds invalid metadata.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from qiskit_natural_qnn.network import NaturalQNN
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = save_model(NaturalQNN(layer_sizes=[4, 3, 2], a=0.25, seed=0), Path(tmp) / "net.safetensors")
        ...     meta = read_metadata(path)
        >>> meta.format_version, meta.layer_sizes, meta.spec.a, meta.bias
        (1, (4, 3, 2), 0.25, False)
    """
    path = Path(path)
    header, _ = _read_header(path)
    return _parse_metadata(path, header)


def load_model(
    path: str | os.PathLike[str],
    *,
    device: torch.device | str = "cpu",
    seed: int | np.random.Generator | None = None,
) -> NaturalQNN:
    """Load a network written by :func:`save_model`.

    Only JSON and raw float tensors are read (through :mod:`safetensors`); nothing is unpickled and no
    code runs. The weights come back bitwise equal, in the dtype they were saved in.

    Args:
        path: a file written by :func:`save_model`.
        device: where to put the parameters.
        seed: seeds the loaded network's own sampling stream (see :meth:`NaturalQNN.reseed`); pass an
            explicit ``seed`` to :meth:`NaturalQNN.sample` for draws that do not depend on it.

    Returns:
        A :class:`NaturalQNN` with the file's layer sizes, spec, biases and weights.

    Raises:
        DamagedFileError: everything :func:`read_metadata` raises, plus missing or unexpected tensors,
            a tensor of the wrong shape or dtype, mixed dtypes, or NaN / infinite values.
        ConfigurationError: ``device`` is not a valid torch device.

    Example:
        >>> import tempfile, torch
        >>> from pathlib import Path
        >>> from qiskit_natural_qnn.network import NaturalQNN
        >>> net = NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, bias=True, seed=0, dtype=torch.float64)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     loaded = load_model(save_model(net, Path(tmp) / "net.safetensors"))
        >>> loaded.layers[0].weight.dtype, loaded.bias
        (torch.float64, True)
    """
    path = Path(path)
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigurationError(f"invalid device {device!r}: {exc}; pass e.g. 'cpu' or 'cuda'") from None
    header, _ = _read_header(path)
    meta = _parse_metadata(path, header)

    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    expected = _expected_shapes(meta.layer_sizes, meta.bias)
    sizes_txt = f"layer_sizes {list(meta.layer_sizes)} and bias={'true' if meta.bias else 'false'}"
    missing = sorted(set(expected) - set(entries))
    if missing:
        raise DamagedFileError(
            f"{str(path)!r}: missing tensor(s) {', '.join(missing)}; a model with {sizes_txt} holds "
            f"{', '.join(_tensor_names(len(meta.layer_sizes) - 1, meta.bias))}"
        )
    extra = sorted(set(entries) - set(expected))
    if extra:
        raise DamagedFileError(
            f"{str(path)!r}: unexpected tensor(s) {', '.join(extra)}; a model with {sizes_txt} holds "
            f"exactly {', '.join(_tensor_names(len(meta.layer_sizes) - 1, meta.bias))}"
        )
    dtypes = set()
    for name in sorted(expected):
        entry = entries[name]
        if entry.get("dtype") not in _DTYPES:
            raise DamagedFileError(
                f"{str(path)!r}: tensor {name} has dtype {entry.get('dtype')!r}, expected F32 or F64"
            )
        dtypes.add(entry["dtype"])
        if entry.get("shape") != expected[name]:
            raise DamagedFileError(
                f"{str(path)!r}: tensor {name} has shape {tuple(entry.get('shape') or ())}, expected "
                f"{tuple(expected[name])} for layer_sizes {list(meta.layer_sizes)}"
            )
    if len(dtypes) != 1:
        raise DamagedFileError(f"{str(path)!r}: tensors mix dtypes {', '.join(sorted(dtypes))}; expected one dtype")
    dtype = _DTYPES[dtypes.pop()]

    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for name in expected:
                tensors[name] = f.get_tensor(name)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DamagedFileError(f"{str(path)!r} is corrupt: safetensors cannot read it: {exc}") from None
    for name in sorted(tensors):
        if not bool(torch.isfinite(tensors[name]).all()):
            raise DamagedFileError(
                f"{str(path)!r}: tensor {name} holds NaN or infinity; the file was saved from a diverged "
                "network or altered"
            )

    spec = meta.spec
    try:
        model = NaturalQNN(
            layer_sizes=meta.layer_sizes,
            a=spec.a,
            stretch=spec.stretch,
            g=spec.g,
            weak_update=spec.weak_update,
            bias=meta.bias,
            surrogate=spec.surrogate,
            seed=0,
            dtype=dtype,
        )
    except ConfigurationError as exc:  # pragma: no cover - validated above
        raise DamagedFileError(f"{str(path)!r}: invalid model description: {exc}") from None
    with torch.no_grad():
        for i, (weight, bias) in enumerate(zip(model.weights(), model.biases())):
            weight.copy_(tensors[f"layers.{i}.weight"])
            if bias is not None:
                bias.copy_(tensors[f"layers.{i}.bias"])
    model.reseed(seed)
    return model.to(target)
