"""Progress of sampler runs: a tqdm bar over jobs (and over layers), with each job id shown as it is submitted.

Sampler runs are where users wait (a fake device simulated locally, a queue in the cloud), so the
run functions take ``progress: bool`` (default False in the library; the ``qnqnn`` commands turn it
on unless ``--no-progress``). A :class:`RunProgress` draws

* a bar over the run's **jobs**: its total grows as each sweep plans its jobs (or is known up front),
  and it advances when a job's result is in (or is reused from a run record);
* for layer-by-layer runs, a bar over the **hidden layers**;

and prints one line per submitted job with its id (``tqdm.write``, so the bars are not broken), so
that a job can be looked up in the provider's dashboard while the run waits. With ``enabled=False``
nothing is drawn or printed; the modules of :mod:`qiskit_natural_qnn.execution` log the same events
through :mod:`logging` either way (``qiskit_natural_qnn.execution.jobs`` at INFO: submissions,
results and reuses with job ids, shots and parameter sets).

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> with RunProgress(enabled=True, layers=2, file=out) as progress:
    ...     progress.add_jobs(1)
    ...     progress.submitted("h1/0", "job-1", n_sets=4, shots=5)
    ...     progress.finished("h1/0")
    ...     progress.layer_done(1)
    >>> progress.jobs_done, progress.jobs_total, "job-1" in out.getvalue()
    (1, 1, True)
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, Any

from tqdm import tqdm

__all__ = ["RunProgress"]


class RunProgress:
    """The progress bars of one sampler run (jobs, and hidden layers for layer-by-layer runs).

    Args:
        enabled: draw the bars and print the job ids; False: stay silent (the run still logs).
        layers: the run's hidden layers (a second bar over them), or None.
        jobs: the run's jobs when known up front (the bar's total), or None to grow the total as the
            sweeps plan their jobs (:meth:`add_jobs`).
        desc: the jobs bar's label.
        file: where the bars and the job lines go (default: standard error).
        leave: keep the bars on screen when the run ends (False for runs inside a longer experiment).
    """

    def __init__(
        self,
        *,
        enabled: bool = False,
        layers: int | None = None,
        jobs: int | None = None,
        desc: str = "sampler jobs",
        file: IO[str] | None = None,
        leave: bool = True,
    ) -> None:
        self.enabled = bool(enabled)
        self.file = file
        self._planned = 0
        self._known = int(jobs) if jobs is not None else 0
        self.layers_bar: Any = None
        if layers is not None:
            self.layers_bar = tqdm(
                total=int(layers), desc="hidden layers", unit="layer", disable=not self.enabled, file=file, leave=leave
            )
        self.jobs_bar: Any = tqdm(
            total=self._known, desc=desc, unit="job", disable=not self.enabled, file=file, leave=leave
        )
        self.jobs_done = 0

    @property
    def jobs_total(self) -> int:
        """The jobs expected so far: the total given up front, or more if the sweeps planned more."""
        return max(self._known, self._planned)

    def add_jobs(self, n: int) -> None:
        """A sweep plans ``n`` more jobs (the bar's total grows if they exceed what was expected)."""
        self._planned += int(n)
        if self.jobs_bar.total != self.jobs_total:
            self.jobs_bar.total = self.jobs_total
            self.jobs_bar.refresh()

    def submitted(self, key: str, job_id: str | None, *, n_sets: int, shots: int) -> None:
        """Job ``key`` was submitted as ``job_id``: print it (when enabled) and show it on the bar."""
        if not self.enabled:
            return
        tqdm.write(
            f"submitted job {job_id or '(no id)'} ({key}: {n_sets} parameter set(s) x {shots} shot(s))",
            file=self.file or sys.stderr,
        )
        self.jobs_bar.set_postfix_str(f"last job {job_id or key}", refresh=True)

    def reused(self, key: str, job_id: str | None) -> None:
        """Job ``key`` was taken from a run record instead of being submitted again."""
        if self.enabled:
            tqdm.write(f"reused job {job_id or '(no id)'} ({key}) from the run record", file=self.file or sys.stderr)
        self.finished(key)

    def finished(self, key: str) -> None:
        """Job ``key``'s result is in: advance the jobs bar."""
        self.jobs_done += 1
        self.jobs_bar.update(1)

    def layer_done(self, layer: int) -> None:
        """Hidden layer ``layer`` is measured: advance the layers bar."""
        if self.layers_bar is not None:
            self.layers_bar.update(1)

    def close(self) -> None:
        """Close the bars (idempotent)."""
        self.jobs_bar.close()
        if self.layers_bar is not None:
            self.layers_bar.close()

    def __enter__(self) -> RunProgress:
        """Return the progress itself."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the bars."""
        self.close()
