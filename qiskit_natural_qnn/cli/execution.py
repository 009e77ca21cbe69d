"""``qnqnn evaluate MODEL --backend ...``: evaluate a saved model on a sampler instead of the fast path.

::

    qnqnn evaluate MODEL --backend aer|aer-mps|statevector|fake_NAME|ibm:NAME|ionq:NAME
                         [--mode auto|layerwise|dynamic|deferred] [--shots S] [--seed N]
                         [--record run.json] [--copies N|auto] [--optimization-level 0-3]
                         [--execution session|batch|job] [--noiseless] [--no-progress] [-v]

Without ``--backend`` the command stays on the fast path. Wire it into the ``evaluate`` parser with
:func:`add_backend_arguments` and, in its handler, call :func:`run_evaluate_on_backend` when
``args.backend`` is set. The handler prints the single-shot and majority-vote errors, which
execution ran and why, the seed and the job ids (``--json``: one JSON object). While the run
waits, progress bars over its jobs (and hidden layers) and each job id as it is submitted go to
standard error, unless ``--no-progress``.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="qnqnn evaluate")
    >>> add_backend_arguments(parser)
    >>> args = parser.parse_args(["--backend", "fake_manila", "--mode", "layerwise", "--copies", "2"])
    >>> args.backend, args.mode, args.copies, args.record
    ('fake_manila', 'layerwise', 2, None)
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from qiskit_natural_qnn.cli.options import add_copies_option, add_optimization_level_option
from qiskit_natural_qnn.execution.auto import MODES
from qiskit_natural_qnn.execution.predict import evaluate_on_sampler
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.providers.ibm import EXECUTION_MODES
from qiskit_natural_qnn.providers.samplers import BACKEND_FORMS, make_sampler

__all__ = ["add_backend_arguments", "run_evaluate_on_backend"]


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sampler options (``--backend``, ``--mode``, ``--record``...) to an ``evaluate`` parser.

    ``--shots``, ``--seed`` and ``--json`` are the ``evaluate`` command's own and are reused.
    """
    group = parser.add_argument_group("running on a sampler (default: the exact fast path)")
    group.add_argument(
        "--backend",
        default=None,
        metavar="SPEC",
        help=f"run on a sampler: {', '.join(BACKEND_FORMS)} (e.g. aer-mps, fake_manila, "
        "ibm:ibm_torino, ionq:simulator); credentials from the saved IBM account or "
        "QISKIT_IBM_TOKEN, and IONQ_API_KEY",
    )
    group.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="execution: auto (default: dynamic where exact and supported, deferred for small "
        "networks without control flow, else layerwise), layerwise, dynamic or deferred",
    )
    group.add_argument(
        "--record",
        default=None,
        metavar="PATH",
        help="run record (JSON): job ids, backend, shots and seeds; rerun with the same path to "
        "reuse finished jobs after a crash",
    )
    add_copies_option(group, default="auto")
    add_optimization_level_option(group)
    group.add_argument(
        "--execution",
        choices=EXECUTION_MODES,
        default="session",
        help="IBM cloud: session (default, layer-by-layer runs), batch (sweeps) or job",
    )
    group.add_argument(
        "--noiseless",
        action="store_true",
        help="fake_NAME backends: drop the device's noise model (ideal simulation, same gates)",
    )


def run_evaluate_on_backend(args: argparse.Namespace, model: NaturalQNN, data: Any) -> int:
    """Evaluate ``model`` on ``data`` with the sampler named by ``args.backend``; print; return 0.

    Uses ``args.backend``, ``args.mode``, ``args.shots``, ``args.seed``, ``args.record``,
    ``args.copies``, ``args.optimization_level``, ``args.execution``, ``args.noiseless`` and (if
    present) ``args.json``, ``args.model`` and ``args.no_progress``.

    Raises:
        NaturalQNNError: the library's errors (the main CLI prints them and exits with status 2).
    """
    setup = make_sampler(
        args.backend,
        shots=args.shots,
        optimization_level=args.optimization_level,
        execution=args.execution,
        noise=not args.noiseless,
    )
    try:
        ev = evaluate_on_sampler(
            model,
            data,
            sampler=setup,
            shots=args.shots,
            mode=args.mode,
            seed=args.seed,
            record=args.record,
            copies=args.copies,
            progress=not getattr(args, "no_progress", False),
        )
    finally:
        setup.close()
    pred = ev.prediction
    if getattr(args, "json", False):
        print(
            json.dumps(
                {
                    "model": str(getattr(args, "model", "")),
                    "data": getattr(data, "name", None),
                    "backend": args.backend,
                    "ran_on": pred.backend,
                    "mode": pred.mode,
                    "reason": pred.reason,
                    "construction": pred.construction,
                    "n_images": ev.n_images,
                    "shots": ev.shots,
                    "seed": pred.seed,
                    "single_shot_error": ev.single_shot_error,
                    "vote_error": ev.vote_error,
                    "jobs": [job._asdict() for job in pred.jobs],
                    "record": args.record,
                }
            )
        )
    else:
        print(f"backend: {args.backend} ({pred.backend})")
        print(f"execution: {pred.mode}: {pred.reason}")
        reused = sum(job.reused for job in pred.jobs)
        print(f"jobs: {len(pred.jobs)} ({reused} reused from the record); seed {pred.seed}")
        if args.record:
            print(f"record: {args.record}")
        print(f"data: {getattr(data, 'name', 'images')}, {ev.n_images} images")
        print(f"single-shot error: {ev.single_shot_error:.4f}")
        print(f"majority-vote error ({ev.shots} shots): {ev.vote_error:.4f}")
    return 0
