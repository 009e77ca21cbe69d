"""Files on disk: one atomic writer, one output-path check and one JSON reader for every file of the library.

* :func:`write_atomic` writes every file the library writes (model files, checkpoints, histories,
  run records and their results archives, sweep records, figures): a temporary file in the same
  folder, then a rename. It never writes through a symbolic link and, with ``confine_to``, never
  outside a folder (:func:`safe_output_path`).
* :func:`check_output_path` checks an output path before any work: the right kind (file or folder),
  a writable folder, free space. The command line calls it for every output option.
* :func:`remove_stale_temporaries` removes what a killed :func:`write_atomic` left behind.
* :func:`read_json` reads every JSON file of the library (and :func:`decode_json` every JSON text):
  anything that is not what the file should hold raises
  :class:`~qiskit_natural_qnn.exceptions.DamagedFileError` naming the file and the problem.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_atomic(safe_output_path(tmp, "a.json"), b'{"x": [1, 2]}')
    ...     read_json(path, lambda data: data["x"], fix="write it again")
    [1, 2]
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError

_T = TypeVar("_T")

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MIN_FREE_BYTES",
    "check_output_path",
    "decode_json",
    "read_json",
    "remove_stale_temporaries",
    "safe_output_path",
    "write_atomic",
]

#: The deepest nesting of lists and objects a JSON file of the library may hold (they hold at most 5).
MAX_JSON_DEPTH = 64

#: The largest JSON file the library reads (a history of 100,000 epochs is about 20 MB).
MAX_JSON_BYTES = 256 * 2**20

#: The free space :func:`check_output_path` asks of the disk of an output path.
MIN_FREE_BYTES = 16 * 2**20

#: What :func:`write_atomic` names its temporary files: ``.<name>.<8 random characters>.tmp``.
_TMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
_PROBE_PREFIX = ".qnqnn-probe."
_PROBE_BYTES = 4096


# ------------------------------------------------------------------------------------------- paths
def safe_output_path(folder: str | os.PathLike[str], name: str) -> Path:
    """The path ``folder/name``, checked to be a plain file name that stays in ``folder`` and is no link.

    Args:
        folder: the folder the file must stay in.
        name: a plain file name (no folder separator, not ``.`` or ``..``).

    Returns:
        ``folder / name``.

    Raises:
        ConfigurationError: ``name`` is not a plain file name, ``folder/name`` is a symbolic link or a
            folder, or resolves outside ``folder``.

    Example:
        >>> safe_output_path("results", "h1_0.npz").as_posix()
        'results/h1_0.npz'
        >>> safe_output_path("results", "../x.npz")
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: '../x.npz' is not a plain file name; ...
    """
    seps = {"/", os.sep, os.altsep or "/"}
    if not isinstance(name, str) or name in ("", ".", "..") or "\0" in name or any(s in name for s in seps):
        raise ConfigurationError(
            f"{name!r} is not a plain file name; the library writes only plain names inside the folder "
            f"{str(folder)!r}, never elsewhere"
        )
    dest = Path(folder) / name
    _refuse_link_or_folder(dest)
    if dest.parent.exists() and dest.resolve().parent != dest.parent.resolve():  # pragma: no cover - a race
        raise ConfigurationError(f"{str(dest)!r} leaves the folder {str(folder)!r}; pass another path")
    return dest


def _refuse_link_or_folder(dest: Path) -> None:
    if dest.is_symlink():
        raise ConfigurationError(
            f"{str(dest)!r} is a symbolic link (to {os.readlink(dest)!r}); the library never writes through a "
            "link: remove the link or pass another path"
        )
    if dest.is_dir():
        raise ConfigurationError(f"{str(dest)!r} is a folder, expected a file; pass a file path")


def _inside(path: Path, folder: Path) -> bool:
    resolved, root = path.resolve(), folder.resolve()
    return resolved == root or root in resolved.parents


def check_output_path(
    path: str | os.PathLike[str],
    *,
    kind: str = "file",
    option: str | None = None,
    min_free_bytes: int = MIN_FREE_BYTES,
) -> Path:
    """Check an output path before any work: the right kind, a writable folder, a disk with free space.

    The folder that will hold the output (the path itself for ``kind="dir"``, its parent for
    ``kind="file"``; the nearest existing ancestor when it does not exist yet) is probed: a
    temporary file is created, written and removed in it. Nothing else is created.

    Args:
        path: the output path.
        kind: ``"file"`` (the path is written as a file) or ``"dir"`` (files are written into it).
        option: the command-line option that gave the path (``"--out"``), named in messages.
        min_free_bytes: the free space the disk must have.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigurationError: an existing file where a folder is expected or the reverse, a symbolic
            link where a file is expected, a parent that is a file, a folder that cannot be written,
            or a full disk; the message names the path and the fix.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     check_output_path(Path(tmp) / "run" / "model.safetensors").name
        'model.safetensors'
    """
    if kind not in ("file", "dir"):
        raise ConfigurationError(f"kind must be 'file' or 'dir', got {kind!r}")
    path = Path(path)
    label = f"{option} {str(path)!r}" if option else repr(str(path))
    if kind == "file" and path.is_symlink():
        raise ConfigurationError(
            f"{label} is a symbolic link; the library never writes through a link: remove it or pass another path"
        )
    if path.exists():
        if kind == "dir" and not path.is_dir():
            raise ConfigurationError(f"{label} is an existing file, expected a folder; pass a folder path")
        if kind == "file" and path.is_dir():
            raise ConfigurationError(f"{label} is a folder, expected a file; pass a file path such as {path / 'x'}")
        if kind == "file" and not path.is_file():
            raise ConfigurationError(f"{label} is not a regular file; pass a file path")
    elif path.is_symlink():
        raise ConfigurationError(f"{label} is a broken symbolic link; remove it or pass another path")
    folder = path if kind == "dir" else path.parent
    existing = folder
    while not existing.exists():
        if existing.is_symlink():
            raise ConfigurationError(f"{label}: {str(existing)!r} is a broken symbolic link; remove it")
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigurationError(
            f"{label} cannot be created: {str(existing)!r} is a file, not a folder; pass another path"
        )
    _probe(existing, label)
    free = shutil.disk_usage(existing).free
    if free < min_free_bytes:
        raise ConfigurationError(
            f"{label}: the disk of {str(existing)!r} is full ({free / 2**20:.1f} MiB free, at least "
            f"{min_free_bytes / 2**20:.0f} MiB needed); free some space or pass a path on another disk"
        )
    return path


def _probe(folder: Path, label: str) -> None:
    """Create, write and remove a temporary file in ``folder``; a typed error says why that fails."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=_PROBE_PREFIX, suffix=".tmp")
    except OSError as exc:
        raise _write_error(label, folder, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"\0" * _PROBE_BYTES)
            f.flush()
    except OSError as exc:
        raise _write_error(label, folder, exc) from None
    finally:
        try:
            os.unlink(name)
        except OSError:  # pragma: no cover - removed by someone else
            pass


def _write_error(label: str, folder: Path, exc: OSError) -> ConfigurationError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ConfigurationError(
            f"{label}: the disk of {str(folder)!r} is full ({exc.strerror}); free some space or pass a path on "
            "another disk"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ConfigurationError(
            f"{label}: the folder {str(folder)!r} is not writable ({exc.strerror}); pass a writable path"
        )
    return ConfigurationError(f"{label}: cannot write into {str(folder)!r} ({exc}); pass another path")


# ------------------------------------------------------------------------------------------ writing
def write_atomic(
    path: str | os.PathLike[str],
    payload: bytes,
    *,
    durable: bool = False,
    confine_to: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``payload`` to ``path`` atomically, never through a symbolic link.

    A temporary ``.<name>.*.tmp`` file in the same folder is written, flushed and synced, then renamed
    over ``path``; on failure the temporary file is removed and any earlier file is left as it was.
    A killed write leaves the temporary file, which :func:`remove_stale_temporaries` removes.

    Args:
        path: the destination (parent folders are created).
        payload: the bytes.
        durable: also sync the folder so the rename itself survives a power loss (POSIX).
        confine_to: a folder the destination must stay in once every link on the way is resolved
            (e.g. a run record's folder for its results archives).

    Returns:
        The destination path.

    Raises:
        ConfigurationError: ``path`` is a symbolic link or a folder, or leaves ``confine_to``.
        OSError: the folder cannot be created or written.
    """
    path = Path(path)
    _refuse_link_or_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if confine_to is not None and not _inside(path.parent, Path(confine_to)):
        raise ConfigurationError(
            f"{str(path)!r} resolves to {str(path.resolve())!r}, outside {str(confine_to)!r}: a link on the way "
            "leads elsewhere; remove the link or pass another path"
        )
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


def remove_stale_temporaries(
    folder: str | os.PathLike[str], *, names: Collection[str] | None = None, min_age_s: float = 0.0
) -> int:
    """Delete the temporary files that killed :func:`write_atomic` calls left in ``folder``.

    Only regular files named as :func:`write_atomic` names them (``.<name>.<8 characters>.tmp``) are
    removed, never links or other files.

    Args:
        folder: the folder (a missing folder holds nothing).
        names: remove only the temporaries of these destination names (default: of every name).
        min_age_s: keep temporaries modified less than this many seconds ago (another process may
            be writing them).

    Returns:
        How many files were removed.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / ".model.safetensors.k2j4x_9q.tmp").write_bytes(b"half a model")
        ...     remove_stale_temporaries(tmp), sorted(p.name for p in Path(tmp).iterdir())
        (1, [])
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return 0
    wanted = None if names is None else set(names)
    now = time.time()
    removed = 0
    for entry in os.scandir(folder):
        match = _TMP_PATTERN.match(entry.name)
        if match is None or (wanted is not None and match.group("name") not in wanted):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < min_age_s:
                continue
            os.unlink(entry.path)
            removed += 1
        except OSError:  # pragma: no cover - raced with another process
            pass
    return removed


# ------------------------------------------------------------------------------------------ reading
def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def decode_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode JSON text, refusing what no file of the library holds.

    Args:
        raw: UTF-8 bytes or text.
        max_depth: the deepest nesting of lists and objects accepted.

    Returns:
        The decoded value.

    Raises:
        DamagedFileError: not UTF-8, not JSON, a number of more than 4300 digits, or nested deeper
            than ``max_depth``; the message says which (the caller adds the file).

    Example:
        >>> decode_json(b'{"a": [1, 2.5, null]}')
        {'a': [1, 2.5, None]}
        >>> decode_json("[" * 100 + "]" * 100)
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.DamagedFileError: nested too deeply (more than 64 levels)
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        value = json.loads(text)
    except UnicodeDecodeError as exc:
        raise DamagedFileError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise DamagedFileError(f"nested too deeply (more than {max_depth} levels)") from None
    except ValueError as exc:  # JSONDecodeError, or an integer beyond Python's digit limit
        raise DamagedFileError(f"not JSON: {exc}") from None
    if _too_deep(value, max_depth):
        raise DamagedFileError(f"nested too deeply (more than {max_depth} levels)")
    return value


def read_json(
    path: str | os.PathLike[str],
    parse: Callable[[Any], _T],
    *,
    fix: str,
    max_bytes: int = MAX_JSON_BYTES,
) -> _T:
    """Read the JSON file ``path`` and build an object from it with ``parse``, or refuse it.

    The one reader of the library's JSON files (histories, run records, sweep records): a file larger
    than ``max_bytes``, text that is not UTF-8, not JSON or nested too deeply (:func:`decode_json`),
    or content that ``parse`` refuses raises :class:`~qiskit_natural_qnn.exceptions.DamagedFileError`
    naming the file and the problem. ``parse`` should raise ``DamagedFileError`` for content that is
    valid JSON but not what the file should hold; any ``KeyError``, ``TypeError``, ``ValueError``,
    ``AttributeError``, ``IndexError``, ``OverflowError`` or ``RecursionError`` it lets escape is
    turned into one too.

    Args:
        path: the file.
        parse: builds the object from the decoded JSON.
        fix: what the user can do, appended to every message (e.g. ``"delete it and run the sweep again"``).
        max_bytes: the largest file accepted.

    Raises:
        DamagedFileError: the file cannot be decoded or parsed.
        OSError: the file cannot be read (missing, a folder, no permission).
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise DamagedFileError(
            f"{str(path)!r} is {size} bytes long, more than the {max_bytes} bytes such a file holds; {fix}"
        )
    raw = path.read_bytes()
    try:
        data = decode_json(raw)
    except DamagedFileError as exc:
        raise DamagedFileError(f"{str(path)!r} is not valid JSON ({exc}); {fix}") from None
    try:
        return parse(data)
    except DamagedFileError as exc:
        raise DamagedFileError(f"{str(path)!r}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        raise DamagedFileError(f"{str(path)!r}: malformed content ({type(exc).__name__}: {exc}); {fix}") from None
