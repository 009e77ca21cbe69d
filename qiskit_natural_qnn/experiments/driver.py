"""The sweep driver's loop: claim a point, run it, save its result, release the claim.

:func:`run_claimed` is the one loop of every sweep, whatever runs the points: a :class:`Runner` is
this process (:class:`SerialRunner`, one point at a time) or a Dask cluster
(:class:`~qiskit_natural_qnn.experiments.distributed.DaskRunner`). The loop keeps the runner's slots
busy with points it has claimed (:class:`~qiskit_natural_qnn.experiments.claims.PointClaims`), saves
each result as it arrives, and waits for the points that other drivers hold until their records
appear or their claims go stale. It knows points only by key: what a point is, how it runs and what
saving means are the caller's (:func:`~qiskit_natural_qnn.experiments.sweep.run_sweep`).

Example:
    >>> import tempfile
    >>> from qiskit_natural_qnn.experiments.claims import PointClaims
    >>> done = {}
    >>> runner = SerialRunner(lambda item, data, *, scale: item * scale, items={"x": 2, "y": 3}, data=None,
    ...                       kwargs={"scale": 10})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run_claimed(["x", "y"], runner=runner, claims=PointClaims(tmp), finished=lambda key: key in done,
    ...                 save=done.__setitem__)
    >>> done
    {'x': 20, 'y': 30}
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from qiskit_natural_qnn.experiments.claims import Claim, PointClaims

__all__ = ["Outcome", "Runner", "SerialRunner", "run_claimed"]


class Outcome(NamedTuple):
    """A finished point: its key and the result, or the exception it raised.

    Attributes:
        key: the point's key.
        result: what the point's function returned (None on error).
        error: the exception it raised, or None.
    """

    key: str
    result: Any
    error: BaseException | None


class Runner(Protocol):
    """What runs the points: slots, submission, waiting and cancelling."""

    def slots(self) -> int:
        """How many points may run at once (at least 1)."""
        ...

    def submit(self, key: str) -> None:
        """Start the point ``key``."""
        ...

    def wait(self, timeout_s: float) -> list[Outcome]:
        """The points that finished within ``timeout_s`` seconds (possibly none)."""
        ...

    def cancel(self) -> None:
        """Stop every point still running or queued."""
        ...


class SerialRunner:
    """Runs one point at a time in this process: ``fn(items[key], data, **kwargs)``.

    Args:
        fn: the point's function.
        items: the first argument of each point, by key.
        data: the second argument, shared by every point.
        kwargs: keyword arguments shared by every point.
    """

    def __init__(
        self, fn: Callable[..., Any], *, items: Mapping[str, Any], data: Any, kwargs: Mapping[str, Any]
    ) -> None:
        self._fn = fn
        self._items = items
        self._data = data
        self._kwargs = dict(kwargs)
        self._queue: deque[str] = deque()

    def slots(self) -> int:
        """One: points run one after another."""
        return 1

    def submit(self, key: str) -> None:
        """Queue ``key``; it runs in the next :meth:`wait`."""
        self._queue.append(key)

    def wait(self, timeout_s: float) -> list[Outcome]:
        """Run the oldest queued point to its end (``timeout_s`` does not apply in this process)."""
        if not self._queue:
            return []
        key = self._queue.popleft()
        try:
            return [Outcome(key, self._fn(self._items[key], self._data, **self._kwargs), None)]
        except Exception as exc:  # the loop re-raises it after releasing the claims
            return [Outcome(key, None, exc)]

    def cancel(self) -> None:
        """Forget the queued points."""
        self._queue.clear()


def run_claimed(
    keys: Sequence[str],
    *,
    runner: Runner,
    claims: PointClaims,
    finished: Callable[[str], bool],
    save: Callable[[str, Any], None],
    bar: Any | None = None,
    poll_s: float = 1.0,
) -> None:
    """Run every point of ``keys`` that no one has finished, each exactly once across all drivers.

    For each point, in order: if ``finished(key)`` (its record exists), it is done; else, when the
    runner has a free slot, the point is claimed, checked once more (another driver may have just
    finished it) and submitted. Results are passed to ``save(key, result)`` as they arrive, then the
    claim is released. Points claimed by live drivers are waited for (polling every ``poll_s``
    seconds) until ``finished`` says so or their claims go stale and this driver takes them over.

    Args:
        keys: the points to finish, in the order to start them.
        runner: what runs them.
        claims: the claims of the results directory.
        finished: True when a point's record exists (it may load and keep the record).
        save: writes a point's result (its record).
        bar: a tqdm bar over the points (``update`` per finished point, ``set_postfix`` for the
            points running here and elsewhere), or None.
        poll_s: seconds between checks while waiting.

    Raises:
        Exception: the first exception a point raised (the claims held are released and the other
            points cancelled first).
    """
    pending = list(keys)
    running: dict[str, Claim] = {}
    shown: dict[str, int] = {}
    with claims.heartbeat():
        try:
            while pending or running:
                pending, elsewhere = _start(pending, running, runner=runner, claims=claims, finished=finished, bar=bar)
                now = {"running": len(running), "elsewhere": elsewhere}
                if bar is not None and now != shown:
                    bar.set_postfix(now, refresh=True)
                    shown = now
                if running:
                    for outcome in runner.wait(poll_s):
                        claim = running.pop(outcome.key)
                        if outcome.error is not None:
                            claims.release(claim)
                            raise outcome.error
                        save(outcome.key, outcome.result)
                        claims.release(claim)
                        if bar is not None:
                            bar.update(1)
                elif pending:
                    time.sleep(poll_s)  # every pending point is held by another driver
        finally:
            runner.cancel()
            for claim in running.values():
                claims.release(claim)
    if bar is not None and shown:
        bar.set_postfix({"running": 0, "elsewhere": 0}, refresh=True)


def _start(
    pending: list[str],
    running: dict[str, Claim],
    *,
    runner: Runner,
    claims: PointClaims,
    finished: Callable[[str], bool],
    bar: Any | None,
) -> tuple[list[str], int]:
    """Drop the finished points, claim and submit what the free slots take; return (still pending, held elsewhere)."""
    still: list[str] = []
    elsewhere = 0
    slots = runner.slots()
    for key in pending:
        if finished(key):
            if bar is not None:
                bar.update(1)
            continue
        if len(running) >= slots:
            still.append(key)
            continue
        claim = claims.acquire(key)
        if claim is None:
            elsewhere += 1
            still.append(key)
            continue
        if finished(key):  # finished by another driver between the check and the claim
            claims.release(claim)
            if bar is not None:
                bar.update(1)
            continue
        runner.submit(key)
        running[key] = claim
    return still, elsewhere
