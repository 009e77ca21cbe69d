"""Sweeps on Dask distributed: an embedded local cluster, an existing scheduler, and the runner that submits points.

Dask (``dask.distributed``, the ``[dask]`` extra) runs the points of a sweep in parallel: on an
embedded :func:`local_cluster` of worker processes on this machine, or on any cluster that a
:class:`distributed.Client` reaches -- a ``dask scheduler`` with ``dask worker`` processes, a Slurm or
PBS cluster through ``dask-jobqueue``, Kubernetes through ``dask-kubernetes`` (see
``docs/scaling.md``). :class:`DaskRunner` is the :class:`~qiskit_natural_qnn.experiments.driver.Runner`
that :func:`~qiskit_natural_qnn.experiments.sweep.run_sweep` uses when given a ``client``: the data
are scattered to the workers once, each point (or each ensemble of ``--ensemble K`` points) is one
task, and the results come back to the driver.

Dask is imported only when one of these is called: a serial sweep never loads it.

Example:
    >>> scheduler_address(None, environ={"DASK_SCHEDULER_ADDRESS": "tcp://10.0.0.5:8786"})
    'tcp://10.0.0.5:8786'
    >>> scheduler_address("tcp://127.0.0.1:8786", environ={}) is not None
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError
from types import ModuleType
from typing import Any

from qiskit_natural_qnn.checks import is_int
from qiskit_natural_qnn.exceptions import ConfigurationError, ExecutionError
from qiskit_natural_qnn.experiments.driver import Outcome, task_outcomes
from qiskit_natural_qnn.optional import require

__all__ = ["SCHEDULER_ENV", "DaskRunner", "connect", "local_cluster", "scheduler_address"]

#: The environment variable that names a scheduler (Dask's own: ``distributed.Client()`` reads it too).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

_LOG = logging.getLogger(__name__)

#: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc hand every freed
#: block of more than 64 KiB back to the system: torch's large temporaries are then mapped again at
#: each step, and training ran 2-3 times slower (measured on the benchmark's 784-64x3 network).
_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def _distributed() -> ModuleType:
    return require("distributed", extra="dask")


def scheduler_address(address: str | None, *, environ: Mapping[str, str] | None = None) -> str | None:
    """The scheduler to join: ``address`` (``--scheduler``), else ``$DASK_SCHEDULER_ADDRESS``, else None.

    Raises:
        ConfigurationError: an address without a protocol and port (``tcp://HOST:PORT``).
    """
    env = os.environ if environ is None else environ
    value = address if address is not None else env.get(SCHEDULER_ENV) or None
    if value is None:
        return None
    if "://" not in value or not value.rsplit(":", 1)[-1].isdigit():
        where = "--scheduler" if address is not None else SCHEDULER_ENV
        raise ConfigurationError(
            f"{where} must be a scheduler address such as tcp://HOST:PORT, got {value!r}; "
            "a `dask scheduler` prints its address when it starts"
        )
    return value


@contextlib.contextmanager
def local_cluster(*, workers: int, memory_limit: str | int = "auto") -> Iterator[Any]:
    """A :class:`distributed.Client` on an embedded cluster of ``workers`` processes on this machine.

    Each worker process runs one point at a time (one Dask thread); the cluster listens on
    127.0.0.1 only, without a dashboard, and is shut down when the block ends. A worker process that
    dies is restarted by its nanny and its point is run again elsewhere. Workers keep glibc's own
    memory trimming (Dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` slows training 2-3 times).

    Args:
        workers: the number of worker processes (``>= 1``).
        memory_limit: per worker, as Dask takes it (``"auto"``: the machine's memory shared evenly).

    Raises:
        ConfigurationError: ``workers`` not a positive int.
        MissingExtraError: Dask distributed is not installed (the ``[dask]`` extra).
    """
    if not is_int(workers) or workers < 1:
        raise ConfigurationError(f"workers must be an int >= 1, got {workers!r}; pass e.g. workers=2")
    distributed = _distributed()
    dask = require("dask", extra="dask")
    with warnings.catch_warnings(), dask.config.set({_TRIM: None}):
        # without a dashboard the scheduler still serves its health routes on 127.0.0.1, on port 8787 when free,
        # else on another: that it moved is no news here
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = distributed.LocalCluster(
            n_workers=int(workers),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=memory_limit,
            silence_logs=logging.WARNING,
        )
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        nanny.setLevel(logging.ERROR)  # "still alive after 4 s, killing": a busy machine, and no work is left
        try:
            cluster.close()
        finally:
            nanny.setLevel(level)


@contextlib.contextmanager
def connect(address: str, *, timeout_s: float = 30.0) -> Iterator[Any]:
    """A :class:`distributed.Client` on the scheduler at ``address``, closed when the block ends.

    Raises:
        ConfigurationError: no scheduler answers at ``address`` within ``timeout_s`` seconds.
        MissingExtraError: Dask distributed is not installed (the ``[dask]`` extra).
    """
    distributed = _distributed()
    try:
        client = distributed.Client(address, timeout=timeout_s)
    except OSError as exc:  # TimeoutError and connection errors are OSErrors
        raise ConfigurationError(
            f"no Dask scheduler answers at {address!r} ({exc}); start one with `dask scheduler` (its address "
            "is printed) or pass --workers N for a local cluster"
        ) from None
    try:
        yield client
    finally:
        client.close()


class DaskRunner:
    """Runs tasks on Dask: ``fn([items[key] for key in keys], data, **kwargs)`` on the workers of ``client``.

    ``data`` is scattered to every worker once (:meth:`distributed.Client.scatter`, broadcast), so
    workers need no data files. Dask runs a task again on another worker when its worker dies; a
    task whose scattered data were lost with every worker that held them is resubmitted after the
    data are scattered again.

    Args:
        client: any :class:`distributed.Client`.
        fn: the task's function, a list of items in, one result per item out (importable on the
            workers: a module-level function of the package).
        items: the first argument's items, by point key.
        data: the second argument, shared by every task.
        kwargs: keyword arguments shared by every task.
        max_resubmits: resubmissions of one task after lost data, before giving up.
    """

    def __init__(
        self,
        client: Any,
        fn: Callable[..., Any],
        *,
        items: Mapping[str, Any],
        data: Any,
        kwargs: Mapping[str, Any],
        max_resubmits: int = 3,
    ) -> None:
        self._distributed = _distributed()
        self._client = client
        self._fn = fn
        self._items = items
        self._data = data
        self._kwargs = dict(kwargs)
        self._max_resubmits = max_resubmits
        self._resubmits: dict[tuple[str, ...], int] = {}
        self._futures: dict[Any, tuple[str, ...]] = {}
        self._token = secrets.token_hex(4)
        self._submitted = 0
        self._shared = self._scatter()

    def _scatter(self) -> Any:
        (future,) = self._client.scatter([self._data], broadcast=True, hash=False)  # a list: scatter it whole
        return future

    def slots(self) -> int:
        """The cluster's threads now (workers may come and go), at least 1."""
        return max(1, sum(self._client.nthreads().values()))

    def submit(self, keys: Sequence[str]) -> None:
        """Submit the points ``keys`` as one task."""
        keys = tuple(keys)
        self._submitted += 1
        more = f"-and-{len(keys) - 1}" if len(keys) > 1 else ""
        task = f"qnqnn-point-{keys[0]}{more}-{self._token}-{self._submitted}"  # unique: a resubmission is a new task
        items = [self._items[key] for key in keys]
        future = self._client.submit(self._fn, items, self._shared, key=task, pure=False, **self._kwargs)
        self._futures[future] = keys

    def wait(self, timeout_s: float) -> list[Outcome]:
        """The points whose tasks finished within ``timeout_s`` seconds; lost tasks are resubmitted."""
        if not self._futures:
            return []
        try:
            self._distributed.wait(list(self._futures), timeout=timeout_s, return_when="FIRST_COMPLETED")
        except (TimeoutError, self._distributed.TimeoutError):
            return []
        except CancelledError:  # a future lost its data with the workers that held it: handled below
            pass
        outcomes = []
        for future in [f for f in self._futures if f.done()]:
            keys = self._futures.pop(future)
            if future.status == "finished":
                outcomes.extend(task_outcomes(keys, future.result()))
            elif future.status == "error":
                error = self._error(keys, future.exception())
                outcomes.extend(Outcome(key, None, error) for key in keys)
            else:  # cancelled or lost: its scattered data went with the workers that held them
                outcomes.extend(self._resubmit(keys, future.status))
            future.release()
        return outcomes

    def _error(self, keys: tuple[str, ...], exc: BaseException) -> BaseException:
        if isinstance(exc, self._distributed.KilledWorker):
            return ExecutionError(
                f"sweep point{'s' if len(keys) > 1 else ''} {', '.join(keys)} killed every worker that ran "
                f"{'them' if len(keys) > 1 else 'it'} ({exc}); give each worker more memory (dask worker "
                "--memory-limit), train fewer networks per task (--ensemble) or use a smaller network, then run "
                "the sweep again"
            )
        return exc

    def _resubmit(self, keys: tuple[str, ...], status: str) -> list[Outcome]:
        count = self._resubmits.get(keys, 0) + 1
        self._resubmits[keys] = count
        what = f"sweep point{'s' if len(keys) > 1 else ''} {', '.join(keys)}"
        if count > self._max_resubmits:
            error = ExecutionError(
                f"{what} {'were' if len(keys) > 1 else 'was'} {status} {count - 1} times (the workers or the data "
                "were lost); check the cluster, then run the sweep again: finished points are kept"
            )
            return [Outcome(key, None, error) for key in keys]
        _LOG.warning(
            "%s %s %s (workers lost); scattering the data again and resubmitting %s",
            what,
            "were" if len(keys) > 1 else "was",
            status,
            "them" if len(keys) > 1 else "it",
        )
        self._shared = self._scatter()
        self.submit(keys)
        return []

    def cancel(self) -> None:
        """Cancel every task still queued or running."""
        if self._futures:
            with contextlib.suppress(Exception):  # the cluster may be gone already
                self._client.cancel(list(self._futures))
        self._futures.clear()
