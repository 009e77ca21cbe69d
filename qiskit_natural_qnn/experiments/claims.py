"""Claims on sweep points: one atomic claim file per point, so that several drivers never train a point twice.

Several sweep drivers -- terminals, Slurm array jobs, machines sharing a results directory -- may run
the same grid at once. Before a driver trains a point it *claims* it: it creates the file
``claims/<key>/<generation>.claim`` with ``O_CREAT | O_EXCL``, which exactly one process can do (on
a local disk and on NFS v3 or later). The file holds the owner (host, process id, a random token, the
time of the claim) and its modification time is the owner's heartbeat: while the driver runs, a
thread touches every claim it holds every :attr:`PointClaims.heartbeat_s` seconds.

A claim whose heartbeat is older than ``timeout_s`` belongs to a dead driver (killed, out of memory,
its node lost) and is taken over by creating the next generation, ``<generation + 1>.claim``, again
with ``O_EXCL``: when two drivers see the same dead claim, exactly one of them wins it. Staleness is
judged twice, so that a clock that runs ahead or behind on one host does not break it: by the file's
age (``time.time() - mtime``) and by how long this process has seen the modification time unchanged.

A claim is released once the point's record is written (or when the driver gives the point up); the
record, not the claim, says a point is finished, so a driver checks for the record again right after
winning a claim.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     mine, theirs = PointClaims(tmp), PointClaims(tmp)
    ...     claim = mine.acquire("a0.5_g0.25_s0")
    ...     taken = theirs.acquire("a0.5_g0.25_s0")  # held by a live owner: refused
    ...     mine.release(claim)
    ...     again = theirs.acquire("a0.5_g0.25_s0")
    >>> claim.generation, taken, again.generation
    (0, None, 0)
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import platform
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from qiskit_natural_qnn.checks import is_real
from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = ["CLAIM_FORMAT", "DEFAULT_CLAIM_TIMEOUT_S", "Claim", "ClaimOwner", "PointClaims"]

#: ``format`` field of a claim file.
CLAIM_FORMAT = "qnqnn-sweep-claim"

#: Seconds without a heartbeat after which a claim is taken to belong to a dead driver.
DEFAULT_CLAIM_TIMEOUT_S = 600.0

_SUFFIX = ".claim"
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimOwner:
    """Who holds a claim: a process on a host, with a random token that tells two runs apart.

    Attributes:
        host: ``platform.node()`` of the driver.
        pid: its process id.
        token: 16 random hex characters, new for each :class:`PointClaims`.
    """

    host: str
    pid: int
    token: str

    @classmethod
    def current(cls) -> ClaimOwner:
        """This process, with a fresh token."""
        return cls(host=platform.node(), pid=os.getpid(), token=secrets.token_hex(8))


class Claim(NamedTuple):
    """A claim this process holds.

    Attributes:
        key: the point's key.
        generation: 0 for a first claim, one more for each take-over of a dead claim.
        path: the claim file.
    """

    key: str
    generation: int
    path: Path


class PointClaims:
    """The claims of one results directory, as one driver sees and holds them.

    Args:
        folder: the claims folder (``results_dir/claims``; created on the first claim).
        timeout_s: seconds without a heartbeat after which a claim is taken over (``> 0``). It must
            exceed the longest pause a live driver can make (the heartbeat runs in its own thread
            every ``heartbeat_s = min(30, timeout_s / 10)`` seconds).
        owner: who claims (default: this process, :meth:`ClaimOwner.current`).

    Raises:
        ConfigurationError: ``timeout_s`` not a positive finite number.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S,
        owner: ClaimOwner | None = None,
    ) -> None:
        if not is_real(timeout_s) or not 0 < timeout_s < float("inf"):
            raise ConfigurationError(
                f"the claim timeout must be a positive number of seconds, got {timeout_s!r}; pass e.g. 600"
            )
        self.folder = Path(folder)
        self.timeout_s = float(timeout_s)
        self.heartbeat_s = min(30.0, self.timeout_s / 10)
        self.owner = owner if owner is not None else ClaimOwner.current()
        self._held: dict[str, Claim] = {}
        self._seen: dict[Path, tuple[int, float]] = {}  # claim file -> (mtime_ns, monotonic time first seen)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------ claiming
    def acquire(self, key: str) -> Claim | None:
        """Claim the point ``key``; None when a live owner holds it.

        A claim this object already holds is returned as it is. A dead owner's claim (no heartbeat
        for ``timeout_s``) is taken over with the next generation.

        Raises:
            ConfigurationError: ``key`` is not a plain file name, or the claims folder cannot be written.
        """
        with self._lock:
            if key in self._held:
                return self._held[key]
        folder = self._folder_of(key)
        for _ in range(3):  # the folder may vanish under us when its last claim is released
            try:
                folder.mkdir(parents=True, exist_ok=True)
                generations = self._generations(folder)
                if generations and not self._stale(folder / f"{generations[-1]}{_SUFFIX}"):
                    return None
                generation = generations[-1] + 1 if generations else 0
                path = folder / f"{generation}{_SUFFIX}"
                self._create(path, key, generation)
            except FileExistsError:
                return None  # another driver created this generation first
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot claim sweep point {key!r} in {str(self.folder)!r} ({exc}); pass a writable --results-dir"
                ) from None
            claim = Claim(key=key, generation=generation, path=path)
            with self._lock:
                self._held[key] = claim
            if generation:
                _LOG.warning("took over the claim on sweep point %s: its owner stopped its heartbeat", key)
            return claim
        return None

    def release(self, claim: Claim) -> None:
        """Give a claim up (after the point's record is written, or when the point is abandoned).

        The holder of the newest generation removes every generation of the point; a driver whose
        claim was taken over removes nothing (the newer owner's claim stays).
        """
        with self._lock:
            self._held.pop(claim.key, None)
        folder = claim.path.parent
        try:
            generations = self._generations(folder)
        except FileNotFoundError:
            return
        if generations and generations[-1] > claim.generation:
            return  # taken over: the point belongs to someone else now
        for generation in generations:
            if generation <= claim.generation:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / f"{generation}{_SUFFIX}")
        with contextlib.suppress(OSError):  # not empty: a claim was made meanwhile
            folder.rmdir()

    def release_all(self) -> None:
        """Release every claim this object holds."""
        with self._lock:
            held = list(self._held.values())
        for claim in held:
            self.release(claim)

    @property
    def held(self) -> list[str]:
        """The keys of the claims held now."""
        with self._lock:
            return list(self._held)

    def holder(self, key: str) -> dict[str, Any] | None:
        """What the newest claim file of ``key`` says about its owner, or None without a claim.

        Example:
            >>> import tempfile
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     claims = PointClaims(tmp)
            ...     _ = claims.acquire("p")
            ...     claims.holder("p")["pid"] == os.getpid()
            True
        """
        folder = self.folder / key
        try:
            generations = self._generations(folder)
            if not generations:
                return None
            raw = (folder / f"{generations[-1]}{_SUFFIX}").read_text(encoding="utf-8")
            info = json.loads(raw)
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    # ----------------------------------------------------------------------------------- heartbeat
    def refresh(self) -> list[str]:
        """Touch every claim held (the heartbeat); return the keys of claims lost to a take-over.

        A claim is lost when its file is gone or a newer generation exists: this driver was taken for
        dead (a pause longer than ``timeout_s``). It may finish the point anyway: records are written
        atomically and a point's record does not depend on who trains it.
        """
        with self._lock:
            held = list(self._held.values())
        lost = []
        for claim in held:
            try:
                newest = self._generations(claim.path.parent)
                if not newest or newest[-1] != claim.generation:
                    raise FileNotFoundError(claim.path)
                os.utime(claim.path)
            except FileNotFoundError:
                lost.append(claim.key)
                with self._lock:
                    self._held.pop(claim.key, None)
                _LOG.warning(
                    "lost the claim on sweep point %s to another driver (no heartbeat for too long)", claim.key
                )
            except OSError as exc:  # pragma: no cover - a flaky shared file system: try again next beat
                _LOG.warning("could not refresh the claim on sweep point %s: %s", claim.key, exc)
        return lost

    @contextlib.contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Refresh the claims held every :attr:`heartbeat_s` seconds in a thread, while the block runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                self.refresh()

        thread = threading.Thread(target=beat, name="qnqnn-claim-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # ------------------------------------------------------------------------------------- helpers
    def _folder_of(self, key: str) -> Path:
        """``folder/key``, checked: ``key`` is a plain name and the path no symbolic link."""
        if not isinstance(key, str) or key in ("", ".", "..") or "\0" in key or "/" in key or os.sep in key:
            raise ConfigurationError(f"{key!r} is not a plain point key; pass SweepPoint.key")
        path = self.folder / key
        if path.is_symlink() or self.folder.is_symlink():
            raise ConfigurationError(
                f"{str(path)!r} is a symbolic link; claims are never made through a link: remove it"
            )
        return path

    @staticmethod
    def _generations(folder: Path) -> list[int]:
        """The generations of claim files in ``folder``, ascending (FileNotFoundError: no folder)."""
        out = []
        for name in os.listdir(folder):
            stem = name[: -len(_SUFFIX)]
            if name.endswith(_SUFFIX) and stem.isdigit():
                out.append(int(stem))
        return sorted(out)

    def _stale(self, path: Path) -> bool:
        """True when the claim ``path`` has had no heartbeat for ``timeout_s`` (a vanished file is stale)."""
        try:
            mtime_ns = os.stat(path, follow_symlinks=False).st_mtime_ns
        except FileNotFoundError:
            return True
        now = time.monotonic()
        seen = self._seen.get(path)
        if seen is None or seen[0] != mtime_ns:
            self._seen[path] = seen = (mtime_ns, now)
        unchanged_for = now - seen[1]
        return time.time() - mtime_ns / 1e9 > self.timeout_s or unchanged_for > self.timeout_s

    def _create(self, path: Path, key: str, generation: int) -> None:
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o644)
        info = {
            "format": CLAIM_FORMAT,
            "key": key,
            "generation": generation,
            "host": self.owner.host,
            "pid": self.owner.pid,
            "token": self.owner.token,
            "claimed_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "timeout_s": self.timeout_s,
        }
        try:
            os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
