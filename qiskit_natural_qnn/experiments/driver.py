"""The sweep driver's loop: claim a point, run it, save its result, release the claim.

:func:`run_claimed` is the one loop of every sweep, whatever runs the points: a :class:`Runner` is
this process (:class:`SerialRunner`, one task at a time) or a Dask cluster
(:class:`~qiskit_natural_qnn.experiments.distributed.DaskRunner`). The loop keeps the runner's slots
busy with points it has claimed (:class:`~qiskit_natural_qnn.experiments.claims.PointClaims`), saves
each result as it arrives, and waits for the points that other drivers hold until their records
appear or their claims go stale. It knows points only by key: what a point is, how it runs and what
saving means are the caller's (:func:`~qiskit_natural_qnn.experiments.sweep.run_sweep`).

A task runs one point or, with ``group=K``, up to ``K`` points together (a sweep trains them as one
ensemble, :func:`~qiskit_natural_qnn.training.fit_ensemble`): the task function takes a list of
items and returns one result per item. Each point of a group is still claimed, saved and released
on its own, so drivers with different group sizes never run a point twice.

Example:
    >>> import tempfile
    >>> from qiskit_natural_qnn.experiments.claims import PointClaims
    >>> done = {}
    >>> def scaled(items, data, *, scale):
    ...     return [item * scale for item in items]
    >>> runner = SerialRunner(scaled, items={"x": 2, "y": 3, "z": 4}, data=None, kwargs={"scale": 10})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run_claimed(["x", "y", "z"], runner=runner, claims=PointClaims(tmp), finished=lambda key: key in done,
    ...                 save=done.__setitem__, group=2)
    >>> done, runner.tasks
    ({'x': 20, 'y': 30, 'z': 40}, 2)
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from qiskit_natural_qnn.checks import is_int
from qiskit_natural_qnn.exceptions import ConfigurationError, ExecutionError
from qiskit_natural_qnn.experiments.claims import Claim, PointClaims

__all__ = ["Outcome", "Runner", "SerialRunner", "run_claimed", "task_outcomes"]


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
        """How many tasks may run at once (at least 1)."""
        ...

    def submit(self, keys: Sequence[str]) -> None:
        """Start the points ``keys`` as one task."""
        ...

    def wait(self, timeout_s: float) -> list[Outcome]:
        """The points that finished within ``timeout_s`` seconds (possibly none)."""
        ...

    def cancel(self) -> None:
        """Stop every point still running or queued."""
        ...


class SerialRunner:
    """Runs one task at a time in this process: ``fn([items[key] for key in keys], data, **kwargs)``.

    Args:
        fn: the task's function: a list of items in, one result per item out.
        items: the first argument's items, by point key.
        data: the second argument, shared by every task.
        kwargs: keyword arguments shared by every task.

    Attributes:
        tasks: how many tasks have run.
    """

    def __init__(
        self, fn: Callable[..., Sequence[Any]], *, items: Mapping[str, Any], data: Any, kwargs: Mapping[str, Any]
    ) -> None:
        self._fn = fn
        self._items = items
        self._data = data
        self._kwargs = dict(kwargs)
        self._queue: deque[tuple[str, ...]] = deque()
        self.tasks = 0

    def slots(self) -> int:
        """One: tasks run one after another."""
        return 1

    def submit(self, keys: Sequence[str]) -> None:
        """Queue the task of ``keys``; it runs in the next :meth:`wait`."""
        self._queue.append(tuple(keys))

    def wait(self, timeout_s: float) -> list[Outcome]:
        """Run the oldest queued task to its end (``timeout_s`` does not apply in this process)."""
        if not self._queue:
            return []
        keys = self._queue.popleft()
        self.tasks += 1
        try:
            results = self._fn([self._items[key] for key in keys], self._data, **self._kwargs)
        except Exception as exc:  # the loop re-raises it after releasing the claims
            return [Outcome(key, None, exc) for key in keys]
        return task_outcomes(keys, results)

    def cancel(self) -> None:
        """Forget the queued tasks."""
        self._queue.clear()


def task_outcomes(keys: Sequence[str], results: Any) -> list[Outcome]:
    """One :class:`Outcome` per key from a task's results (a list, one per key, in order).

    A task that returns anything else gives every key an outcome whose error is an
    :class:`~qiskit_natural_qnn.exceptions.ExecutionError` saying so (a bug in the task function).
    """
    if not isinstance(results, list) or len(results) != len(keys):
        got = f"a list of {len(results)}" if isinstance(results, list) else f"a {type(results).__name__}"
        error = ExecutionError(
            f"the task of points {', '.join(keys)} returned {got}; a task function must return a list with one "
            f"result per point ({len(keys)})"
        )
        return [Outcome(key, None, error) for key in keys]
    return [Outcome(key, result, None) for key, result in zip(keys, results)]


def run_claimed(
    keys: Sequence[str],
    *,
    runner: Runner,
    claims: PointClaims,
    finished: Callable[[str], bool],
    save: Callable[[str, Any], None],
    bar: Any | None = None,
    poll_s: float = 1.0,
    group: int = 1,
) -> None:
    """Run every point of ``keys`` that no one has finished, each exactly once across all drivers.

    For each point, in order: if ``finished(key)`` (its record exists), it is done; else, when the
    runner has a free slot, the point is claimed, checked once more (another driver may have just
    finished it) and added to the task being filled, which is submitted when it holds ``group``
    points, fewer when that shares the pending points better between the free slots (or when no more
    points can be claimed now). Results are passed to ``save(key, result)`` as they arrive, then the
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
        group: the most points per task (``>= 1``).

    Raises:
        Exception: the first exception a point raised (the claims held are released and the other
            points cancelled first).
    """
    if not is_int(group) or group < 1:
        raise ConfigurationError(f"group must be an int >= 1, got {group!r}; pass e.g. group=8")
    pending = list(keys)
    running: dict[str, tuple[Claim, int]] = {}  # key -> (claim, task number)
    shown: dict[str, int] = {}
    with claims.heartbeat():
        try:
            while pending or running:
                pending, elsewhere = _start(
                    pending, running, runner=runner, claims=claims, finished=finished, bar=bar, group=int(group)
                )
                now = {"running": len(running), "elsewhere": elsewhere}
                if bar is not None and now != shown:
                    bar.set_postfix(now, refresh=True)
                    shown = now
                if running:
                    for outcome in runner.wait(poll_s):
                        claim, _ = running.pop(outcome.key)
                        try:
                            if outcome.error is not None:
                                raise outcome.error
                            save(outcome.key, outcome.result)
                        finally:
                            claims.release(claim)
                        if bar is not None:
                            bar.update(1)
                elif pending:
                    time.sleep(poll_s)  # every pending point is held by another driver
        finally:
            runner.cancel()
            claims.release_all()  # the running points' claims, and those of a task that was being filled
    if bar is not None and shown:
        bar.set_postfix({"running": 0, "elsewhere": 0}, refresh=True)


def _start(
    pending: list[str],
    running: dict[str, tuple[Claim, int]],
    *,
    runner: Runner,
    claims: PointClaims,
    finished: Callable[[str], bool],
    bar: Any | None,
    group: int,
) -> tuple[list[str], int]:
    """Drop the finished points, claim and submit what the free slots take; return (still pending, held elsewhere).

    A task takes up to ``group`` points, fewer when the pending points would not fill every free slot:
    10 points on 2 free slots with ``group=8`` make two tasks of 5, not one of 8 and one of 2.
    """
    still: list[str] = []
    elsewhere = 0
    slots = runner.slots()
    tasks = {task for _, task in running.values()}
    busy = len(tasks)
    size = max(1, min(group, math.ceil(len(pending) / max(1, slots - busy))))
    number = max(tasks, default=0)
    batch: list[str] = []
    claimed: dict[str, Claim] = {}

    def submit() -> None:
        nonlocal busy, batch, number
        number += 1
        runner.submit(batch)
        for key in batch:
            running[key] = (claimed[key], number)
        busy += 1
        batch = []

    for key in pending:
        if finished(key):
            if bar is not None:
                bar.update(1)
            continue
        if not batch and busy >= slots:
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
        claimed[key] = claim
        batch.append(key)
        if len(batch) == size:
            submit()
    if batch:
        submit()
    return still, elsewhere
