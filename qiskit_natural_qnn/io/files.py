"""Files on disk: one atomic writer for every file the library writes, one reader for its JSON files."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qiskit_natural_qnn.exceptions import DamagedFileError

_T = TypeVar("_T")

__all__ = ["read_json", "write_atomic"]


def write_atomic(path: str | os.PathLike[str], payload: bytes, *, durable: bool = False) -> Path:
    """Write ``payload`` to ``path`` atomically.

    A temporary ``.<name>.*.tmp`` file in the same folder is written, flushed and synced, then renamed
    over ``path``; on failure the temporary file is removed and any earlier file is left as it was.

    Args:
        path: the destination (parent folders are created).
        payload: the bytes.
        durable: also sync the folder so the rename itself survives a power loss (POSIX).

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if durable:
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:  # pragma: no cover - e.g. Windows
            return path
        try:
            os.fsync(dir_fd)
        except OSError:  # pragma: no cover
            pass
        finally:
            os.close(dir_fd)
    return path


def read_json(path: str | os.PathLike[str], parse: Callable[[Any], _T], *, fix: str) -> _T:
    """Read the JSON file ``path`` and build an object from it with ``parse``, or refuse it.

    The one reader of the library's JSON files (histories, run records, sweep records): text that is
    not UTF-8, not JSON, nested too deeply to parse, or refused by ``parse`` raises
    :class:`~qiskit_natural_qnn.exceptions.DamagedFileError` naming the file and the problem.

    Args:
        path: the file.
        parse: builds the object from the decoded JSON; raises ``DamagedFileError`` for content that
            is valid JSON but not what the file should hold.
        fix: what the user can do, appended to every message (e.g. ``"delete it and run the sweep again"``).

    Raises:
        DamagedFileError: the file cannot be decoded or parsed.
        OSError: the file cannot be read (missing, a folder, no permission).
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise DamagedFileError(f"{str(path)!r} is not valid JSON ({detail}); {fix}") from None
    try:
        return parse(data)
    except DamagedFileError as exc:
        raise DamagedFileError(f"{str(path)!r}: {exc}") from None
