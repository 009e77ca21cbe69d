"""Files on disk: one atomic writer for every file the library writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


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
