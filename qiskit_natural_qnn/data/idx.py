"""Reader for the IDX format of the original MNIST distribution.

An IDX file is a 4-byte big-endian magic number, one 4-byte big-endian size per dimension, then
the payload in C order. The magic number is ``0x0000TTNN``: two zero bytes, the dtype code ``TT``
and the number of dimensions ``NN``. MNIST uses only the unsigned-byte code ``0x08``, so its label
files have magic ``0x00000801`` (1 dimension) and its image files ``0x00000803`` (3 dimensions).

Files may be gzip-compressed (as published) or raw; the reader tells them apart by their first
bytes, not by their names.

Example:
    >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    array([7, 2, 1], dtype=uint8)
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from qiskit_natural_qnn.exceptions import DamagedFileError, DataNotFoundError

__all__ = ["IDX_UBYTE", "IDX_LABELS_MAGIC", "IDX_IMAGES_MAGIC", "parse_idx", "read_idx"]

IDX_UBYTE = 0x08
"""IDX dtype code of unsigned bytes, the only one MNIST uses (and the only one read here)."""

IDX_LABELS_MAGIC = 0x00000801
"""Magic number of an MNIST label file: unsigned bytes, 1 dimension."""

IDX_IMAGES_MAGIC = 0x00000803
"""Magic number of an MNIST image file: unsigned bytes, 3 dimensions."""

_GZIP_MAGIC = b"\x1f\x8b"


def _describe_magic(magic: int) -> str:
    kind = {IDX_LABELS_MAGIC: " (IDX labels)", IDX_IMAGES_MAGIC: " (IDX images)"}.get(magic, "")
    return f"0x{magic:08X}{kind}"


def parse_idx(data: bytes, *, ndim: int | None = None, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file.

    Args:
        data: the whole file content, header included.
        ndim: the number of dimensions the caller expects (1 for labels, 3 for images), or ``None``
            to accept any.
        name: how error messages refer to the data, usually its file path.

    Returns:
        A new, writable ``uint8`` array with the shape given by the header.

    Raises:
        DamagedFileError: the magic number is not an IDX one (or not of ``ndim`` dimensions), the dtype
            code is not ``0x08``, or the header or payload is shorter or longer than the dimensions
            say.

    Example:
        >>> parse_idx(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]))
        array([[1, 2],
               [3, 4]], dtype=uint8)
    """
    if len(data) < 4:
        raise DamagedFileError(f"{name}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number")
    (magic,) = struct.unpack(">I", data[:4])
    dtype_code, file_ndim = data[2], data[3]
    if ndim is None:
        expected = "0x000008NN (IDX unsigned bytes, NN >= 1 dimensions)"
    else:
        expected = _describe_magic((IDX_UBYTE << 8) | ndim)
    if magic >> 16 != 0 or file_ndim == 0:
        raise DamagedFileError(f"{name}: bad magic number 0x{magic:08X}, expected {expected}")
    if dtype_code != IDX_UBYTE:
        raise DamagedFileError(
            f"{name}: unsupported IDX dtype code 0x{dtype_code:02X} (magic 0x{magic:08X}); "
            f"only 0x{IDX_UBYTE:02X} (unsigned byte) is read, as in MNIST"
        )
    if ndim is not None and file_ndim != ndim:
        raise DamagedFileError(f"{name}: bad magic number {_describe_magic(magic)}, expected {expected}")
    header_size = 4 + 4 * file_ndim
    if len(data) < header_size:
        raise DamagedFileError(
            f"{name}: truncated IDX header: {file_ndim} dimensions need {header_size} header bytes, found {len(data)}"
        )
    dims = struct.unpack(f">{file_ndim}I", data[4:header_size])
    expected_bytes = math.prod(dims)
    actual_bytes = len(data) - header_size
    if actual_bytes < expected_bytes:
        raise DamagedFileError(
            f"{name}: truncated IDX payload: dims {dims} need {expected_bytes} bytes, found {actual_bytes}"
        )
    if actual_bytes > expected_bytes:
        raise DamagedFileError(
            f"{name}: IDX payload longer than its dims: dims {dims} need {expected_bytes} bytes, found {actual_bytes}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims).copy()


def read_idx(path: str | os.PathLike[str], *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw.

    Args:
        path: the file, e.g. ``t10k-images-idx3-ubyte.gz``.
        ndim: the number of dimensions expected (1 for labels, 3 for images), or ``None`` to accept
            any.

    Returns:
        A new, writable ``uint8`` array with the shape given by the file's header.

    Raises:
        DataNotFoundError: ``path`` does not exist or is not a file.
        DamagedFileError: the gzip stream is corrupt or truncated, or the content is not a valid IDX
            ``uint8`` array (see :func:`parse_idx`).
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise DataNotFoundError(f"IDX file {str(path)!r} {what}")
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DamagedFileError(f"{path}: corrupt gzip stream: {exc}") from exc
    return parse_idx(data, ndim=ndim, name=str(path))
