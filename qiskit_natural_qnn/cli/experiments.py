"""The ``qnqnn sweep`` subcommand: resumable sweeps over ``a``, ``g`` or both, with figures.

::

    qnqnn sweep --param a --values 0,0.1,0.2,0.316,0.5,1,2 --seeds 3 --epochs 100 --hidden 512 512 512
    qnqnn sweep --param g --values "pi/16,pi/8,pi/4,pi/2" --a 0 --hidden 128 128 128
    qnqnn sweep --param grid --a-values 0,0.316 --g-values "pi/4,pi/2"
    qnqnn sweep --param a --results-dir DIR --report     # figures and table from DIR, no training
    qnqnn sweep --param a --values 0,0.316 --workers 4   # 4 worker processes on this machine (Dask)
    qnqnn sweep --param a --values 0,0.316 --scheduler tcp://HOST:8786   # an existing Dask cluster
    qnqnn sweep --param a --values 0,0.1,0.2,0.316,0.5 --hidden 16 16 16 --ensemble 5  # 5 networks at once

Each finished point is a JSON record in ``RESULTS_DIR/points/``; running the same command again skips
them (resume). After the sweep (and with ``--report``), the command prints a table of mean errors
over seeds and writes the figures into ``RESULTS_DIR``: ``error_vs_a.png``, ``error_vs_g.png`` (with
``g_c`` located when there are three angles or more, also written to ``gc.json``) or ``heatmap.png``.
Values of ``g`` accept multiples of pi (``pi/8``, ``5*pi/19``).

Parallel sweeps (``docs/scaling.md``): ``--workers N`` runs the points on an embedded local Dask
cluster of N processes, ``--scheduler ADDRESS`` (or ``$DASK_SCHEDULER_ADDRESS``) on an existing one;
``--shard i/n`` runs every n-th point from the i-th; ``--ensemble K`` trains up to K points at once in
each task (:func:`~qiskit_natural_qnn.training.fit_ensemble`), with the records of a serial sweep.
Several sweeps may share one results folder: each point is claimed before it runs, so none is
trained twice. ``--holdout N`` validates on the
last N training images, so that options are chosen without the validation set.

Wire it into the main parser with ``add_sweep_parser(subparsers)``; it sets ``handler=run_sweep_command``.
``python -m qiskit_natural_qnn.cli.experiments sweep ...`` runs it alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
from pathlib import Path
from typing import Any

from qiskit_natural_qnn.cli.argtypes import parse_values, positive_int
from qiskit_natural_qnn.cli.options import (
    add_a_option,
    add_data_dir_option,
    add_device_option,
    add_epochs_option,
    add_eval_every_option,
    add_g_option,
    add_hidden_option,
    add_holdout_option,
    add_limit_option,
    add_no_progress_option,
    add_recipe_options,
    add_shots_option,
    add_stretch_option,
    add_surrogate_option,
    add_train_size_option,
    add_weak_update_option,
    recipe_options,
)
from qiskit_natural_qnn.cli.runtime import choose_device, load_split, run_handler
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.experiments.claims import DEFAULT_CLAIM_TIMEOUT_S
from qiskit_natural_qnn.experiments.distributed import SCHEDULER_ENV, connect, local_cluster, scheduler_address
from qiskit_natural_qnn.experiments.gc import CriticalAngle, locate_gc_from_records
from qiskit_natural_qnn.experiments.holdout import holdout_split
from qiskit_natural_qnn.experiments.sweep import (
    DamagedRecord,
    PointRecord,
    SweepSettings,
    aggregate,
    best_by_method,
    grid_points,
    load_records,
    run_sweep,
    scan_records,
)
from qiskit_natural_qnn.io.files import check_output_path, write_atomic
from qiskit_natural_qnn.training import TrainConfig

__all__ = ["add_sweep_parser", "main", "report_text", "run_sweep_command", "shard_argument"]

_PARAMS = ("a", "g", "grid")

#: The paper's second network and its reported Method 1 optimum ``(a, validation error)``.
PAPER_NETWORK = (784, 512, 512, 512, 10)
PAPER_METHOD1_BEST = (0.316, 0.0472)


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``subparsers`` (sets ``handler=run_sweep_command``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="qnqnn")
        >>> _ = add_sweep_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["sweep", "--param", "a", "--values", "0,0.316", "--hidden", "16", "16"])
        >>> args.param, args.values, args.hidden, args.seeds, args.epochs, args.eval_every
        ('a', '0,0.316', [16, 16], 3, 100, 10)
    """
    p = subparsers.add_parser(
        "sweep",
        help="train over a grid of a and/or g (resumable), then tabulate and plot",
        description=(
            "Train one network per point (a, g, seed) with the paper's recipe, keep one JSON record per "
            "finished point in --results-dir (re-running skips them), then print the mean errors over "
            "seeds and write figures. Defaults: 784-512-512-512-10, 100 epochs, 3 seeds, validation every "
            "10 epochs and after the last, 15-shot majority vote, the embedded default split."
        ),
    )
    _add_grid_options(p.add_argument_group("grid"))
    model = p.add_argument_group("model and training")
    add_hidden_option(
        model,
        default=[512, 512, 512],
        help="hidden widths (default 512 512 512; the hardware networks: 16 16 16, 32 32 32)",
    )
    add_stretch_option(model)
    add_weak_update_option(model)
    add_epochs_option(model, default=100)
    add_surrogate_option(model)
    add_recipe_options(model)
    add_shots_option(model, default=15, help="validation shots for the vote (default 15)")
    add_eval_every_option(model, default=10, help="validate every this many epochs and after the last (default 10)")
    data = p.add_argument_group("data, output, device")
    add_data_dir_option(data)
    add_train_size_option(data)
    add_limit_option(data)
    add_holdout_option(data)
    data.add_argument(
        "--results-dir",
        default=None,
        help="folder of the sweep's records and figures (default sweeps/<param>-<hidden>-e<epochs>[-<tag>])",
    )
    data.add_argument(
        "--tag",
        default=None,
        help="appended to the default --results-dir: one folder per option set (e.g. --tag expected-lr0.02)",
    )
    data.add_argument(
        "--save-models", action="store_true", help="also keep every point's model under RESULTS_DIR/models"
    )
    data.add_argument(
        "--report", action="store_true", help="train nothing: tabulate and plot the records in --results-dir"
    )
    data.add_argument("--markdown", action="store_true", help="print the table as Markdown (with --report)")
    data.add_argument("--no-plots", action="store_true", help="write no figures")
    add_no_progress_option(data)
    add_device_option(data)
    _add_parallel_options(p.add_argument_group("parallel runs (docs/scaling.md)"))
    p.set_defaults(handler=run_sweep_command)
    return p


def _add_parallel_options(group: Any) -> None:
    """Where the points run: here, on local worker processes, or on a Dask cluster; which shard; claims."""
    group.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="run the points on N worker processes of an embedded local Dask cluster (default 1: one after "
        "another in this process, without Dask)",
    )
    group.add_argument(
        "--threads-per-worker",
        type=positive_int,
        default=None,
        metavar="T",
        help="torch threads of each point (default with --workers or --scheduler: 1; without: unchanged)",
    )
    group.add_argument(
        "--ensemble",
        type=positive_int,
        default=1,
        metavar="K",
        help="train up to K points at once as one vectorized ensemble (in this process or in each worker); the "
        "records are those of a serial sweep (bit for bit with one torch thread per task); default 1",
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=f"run the points on the Dask cluster of this scheduler, e.g. tcp://HOST:8786 (default: ${SCHEDULER_ENV} "
        "when set)",
    )
    group.add_argument(
        "--shard",
        type=shard_argument,
        default=None,
        metavar="I/N",
        help="run only every N-th point of the grid, from the I-th (0-based), e.g. a Slurm array job's "
        "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT",
    )
    group.add_argument(
        "--claim-timeout",
        type=float,
        default=DEFAULT_CLAIM_TIMEOUT_S,
        metavar="SECONDS",
        help="take over a point claimed by another sweep whose heartbeat stopped this long ago "
        f"(default {DEFAULT_CLAIM_TIMEOUT_S:g})",
    )


def shard_argument(text: str) -> tuple[int, int]:
    """``--shard I/N`` as ``(I, N)``: ``0 <= I < N``.

    Example:
        >>> shard_argument("2/8")
        (2, 8)
        >>> shard_argument("8/8")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: a shard is I/N with 0 <= I < N (I counts from 0), got '8/8'; e.g. --shard 0/4
    """
    parts = text.split("/")
    if len(parts) == 2 and all(part.strip().isdigit() for part in parts):
        index, count = (int(part) for part in parts)
        if 0 <= index < count:
            return index, count
    raise argparse.ArgumentTypeError(
        f"a shard is I/N with 0 <= I < N (I counts from 0), got {text!r}; e.g. --shard 0/4"
    )


def _add_grid_options(grid: Any) -> None:
    """The points of the sweep: which parameter, its values, the fixed other one, the seeds."""
    grid.add_argument(
        "--param",
        choices=_PARAMS,
        required=True,
        help="sweep the stretch a, the angle g, or the grid of both (--a-values x --g-values)",
    )
    grid.add_argument(
        "--values",
        default=None,
        metavar="LIST",
        help="comma-separated values of --param a or g, e.g. 0,0.1,0.316 or pi/8,pi/4,pi/2 (not needed with --report)",
    )
    grid.add_argument("--a-values", default=None, metavar="LIST", help="values of a for --param grid")
    grid.add_argument("--g-values", default=None, metavar="LIST", help="values of g for --param grid")
    add_a_option(grid, help="fixed a when sweeping g (default 0)")
    add_g_option(grid, help="fixed g when sweeping a (default pi/2)")
    grid.add_argument(
        "--seeds", type=positive_int, default=3, help="seeds per point: first-seed, first-seed+1, ... (default 3)"
    )
    grid.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")


def _grid(args: argparse.Namespace) -> tuple[list[float], list[float]]:
    if args.param == "grid":
        if args.values is not None:
            raise ConfigurationError(
                "--values goes with --param a or g; for --param grid pass --a-values and --g-values"
            )
        if args.a_values is None or args.g_values is None:
            raise ConfigurationError(
                "--param grid needs both --a-values and --g-values, e.g. --a-values 0,0.316 --g-values pi/4,pi/2"
            )
        return parse_values(args.a_values), parse_values(args.g_values, angles=True)
    if args.values is None:
        raise ConfigurationError(
            f"--param {args.param} needs --values, e.g. --values "
            + ("0,0.1,0.316" if args.param == "a" else "pi/8,pi/4,pi/2")
        )
    if args.a_values is not None or args.g_values is not None:
        raise ConfigurationError(
            f"--a-values and --g-values go with --param grid; for --param {args.param} pass --values"
        )
    if args.param == "a":
        return parse_values(args.values), [args.g]
    return [args.a], parse_values(args.values, angles=True)


def _default_results_dir(args: argparse.Namespace) -> Path:
    hidden = (
        "x".join(str(h) for h in args.hidden) if len(set(args.hidden)) > 1 else f"{args.hidden[0]}x{len(args.hidden)}"
    )
    tag = f"-{args.tag}" if getattr(args, "tag", None) else ""
    return Path("sweeps") / f"{args.param}-{hidden}-e{args.epochs}{tag}"


def _table(records: list[PointRecord], *, markdown: bool = False) -> str:
    """The table of mean errors over seeds, one row per (a, g)."""
    metrics = ("val_vote_error", "val_single_shot_error", "train_vote_error", "train_error")
    aggs = {m: {(p.a, p.g): p for p in aggregate(records, m)} for m in metrics}
    secs: dict[tuple[float, float], list[float]] = {}
    for r in records:
        secs.setdefault((round(r.a, 12), round(r.g, 12)), []).append(r.seconds)
    head = ["a", "g/pi", "seeds", "val vote %", "val 1-shot %", "train-set vote %", "last-epoch train %", "s/run"]
    rows = []
    for key, p in aggs["val_vote_error"].items():
        cells = [f"{p.a:.4g}", f"{p.g / math.pi:.4g}", ",".join(map(str, p.seeds))]
        for m in metrics:
            q = aggs[m].get(key)
            cells.append(_mean_sd(q.mean, q.std, q.n) if q is not None else "-")
        cells.append(f"{sum(secs[key]) / len(secs[key]):.0f}")
        rows.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [head, *rows])


def _mean_sd(mean: float, sd: float, n: int) -> str:
    """``mean ± sd`` in percent; the spread of a single seed is ``n/a``, not ``0.00``."""
    return f"{100 * mean:.2f} ± {100 * sd:.2f}" if n > 1 else f"{100 * mean:.2f} ± n/a"


def report_text(
    records: list[PointRecord],
    param: str,
    *,
    markdown: bool = False,
    skipped: list[DamagedRecord] | None = None,
) -> tuple[str, CriticalAngle | None]:
    """What ``qnqnn sweep --report`` prints for ``records``, and the located critical angle.

    The text is the table of means over seeds, a line on the errors, the best point of each method
    (when more than one method is present), for a ``g`` sweep over 3 or more angles ``g_c``, and
    the number of damaged record files ``skipped`` (when any), with their paths.

    Returns:
        ``(text, gc)``: ``gc`` is the :class:`~qiskit_natural_qnn.experiments.CriticalAngle`, or None.
    """
    lines = [_table(records, markdown=markdown), "errors: mean ± sample standard deviation over seeds"]
    best = best_by_method(records)
    if len(best) > 1:
        lines.append(
            "best mean validation vote error per method: "
            + "; ".join(
                f"{method} {_mean_sd(p.mean, p.std, p.n)} % at a = {p.a:.4g}, g = {p.g / math.pi:.4g} pi "
                f"({p.n} seed{'s' if p.n > 1 else ''})"
                for method, p in best.items()
            )
        )
    gc = None
    if param == "g" and len({r.g for r in records}) >= 3:
        gc = locate_gc_from_records(records)
        lines.append(f"critical angle: {gc} (steepest rise of the mean validation vote error as g decreases)")
    if skipped:
        lines.append(
            f"skipped {len(skipped)} damaged record file(s), left out of the table: "
            + "; ".join(str(d.path) for d in skipped)
        )
    return "\n".join(lines), gc


def _report(
    records: list[PointRecord],
    param: str,
    out: Path,
    plots: bool,
    markdown: bool = False,
    skipped: list[DamagedRecord] | None = None,
) -> None:
    text, gc = report_text(records, param, markdown=markdown, skipped=skipped)
    print(text)
    if gc is not None:
        write_atomic(
            out / "gc.json",
            (
                json.dumps(
                    {
                        "g_c": gc.g_c,
                        "uncertainty": gc.uncertainty,
                        "resolution": gc.resolution,
                        "bootstrap_std": gc.bootstrap_std,
                        "interval": list(gc.interval),
                        "slope": gc.slope,
                        "rise": gc.rise,
                        "g": list(gc.g),
                        "mean_val_vote_error": list(gc.mean_error),
                        "n_bootstrap": gc.n_bootstrap,
                    },
                    indent=1,
                )
                + "\n"
            ).encode("utf-8"),
        )
    if not plots:
        return
    # matplotlib is the [plot] extra: imported only when a figure is drawn
    from qiskit_natural_qnn.experiments.plots import plot_error_vs_a, plot_error_vs_g, plot_heatmap, save_figure

    if param == "a":
        # the paper's Method 1 optimum (arXiv:2503.15482) belongs on the paper's 100-epoch network only
        cfg = records[0].settings.get("config", {})
        on_paper_net = records[0].layer_sizes == list(PAPER_NETWORK) and cfg.get("epochs") == 100
        paper = PAPER_METHOD1_BEST if on_paper_net and all(math.isclose(r.g, math.pi / 2) for r in records) else None
        path = save_figure(plot_error_vs_a(records, paper=paper), out / "error_vs_a.png")
    elif param == "g":
        path = save_figure(plot_error_vs_g(records, gc=gc if gc is not None else False), out / "error_vs_g.png")
    else:
        path = save_figure(plot_heatmap(records), out / "heatmap.png")
    print(f"wrote {path}")


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run (or, with ``--report``, only report) the sweep described by parsed ``qnqnn sweep`` arguments."""
    out = check_output_path(
        args.results_dir or _default_results_dir(args), kind="dir", option="--results-dir"
    )  # before any training
    if args.report:
        scan = scan_records(out)  # damaged records are skipped, logged and counted
        records = scan.records or load_records(out)  # none valid: load_records says why
        _report(records, args.param, out, plots=not args.no_plots, markdown=args.markdown, skipped=scan.damaged)
        return 0
    a_values, g_values = _grid(args)
    if args.first_seed < 0:
        raise ConfigurationError(f"--first-seed must be >= 0, got {args.first_seed}")
    points = grid_points(a=a_values, g=g_values, seeds=range(args.first_seed, args.first_seed + args.seeds))
    config = TrainConfig(
        epochs=args.epochs,
        eval_shots=args.shots,
        eval_every=args.eval_every,
        **recipe_options(args),
    )
    settings = SweepSettings(
        hidden=tuple(args.hidden),
        stretch=args.stretch,
        weak_update=args.weak_update,
        config=config,
        surrogate=args.surrogate,
    )
    address = scheduler_address(args.scheduler)
    if address is not None and args.workers > 1:
        where = "--scheduler" if args.scheduler is not None else f"${SCHEDULER_ENV}"
        raise ConfigurationError(
            f"--workers {args.workers} starts a local cluster, but {where} names the cluster at {address}; "
            f"pass one of them (unset {SCHEDULER_ENV} to use local workers)"
        )
    # on a cluster, each worker checks its own device (a GPU node may drive CPU-only workers or the reverse)
    device = choose_device(args.device) if address is None else args.device
    split = load_split(args.data_dir, train_size=args.train_size, limit=args.limit)
    if args.holdout is not None:
        split = holdout_split(split, args.holdout)
    print(f"data: {split.source}")
    where = (
        f"on the Dask cluster at {address}"
        if address
        else (f"on {args.workers} local worker processes" if args.workers > 1 else "in this process")
    )
    shard = f", shard {args.shard[0]}/{args.shard[1]}" if args.shard else ""
    shard += f", up to {args.ensemble} networks per ensemble" if args.ensemble > 1 else ""
    net = f"784-{'-'.join(map(str, args.hidden))}-10"
    print(
        f"sweep: {len(points)} points ({len(a_values)} a x {len(g_values)} g x {args.seeds} seeds){shard}, {net}, "
        f"{args.epochs} epochs, device {device or 'of each worker'}, {where}, results in {out}"
    )
    with contextlib.ExitStack() as stack:
        client = None
        if address is not None:
            client = stack.enter_context(connect(address))
        elif args.workers > 1:
            client = stack.enter_context(local_cluster(workers=args.workers))
        records = run_sweep(
            points,
            settings=settings,
            results_dir=out,
            data=split,
            device=device,
            progress=not args.no_progress,
            save_models=args.save_models,
            client=client,
            threads_per_worker=args.threads_per_worker,
            shard=args.shard,
            claim_timeout_s=args.claim_timeout,
            ensemble=args.ensemble,
        )
    _report(records, args.param, out, plots=not args.no_plots)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``sweep`` alone, as ``python -m qiskit_natural_qnn.cli.experiments sweep ...``.

    Returns:
        0 on success, 2 for a library error (printed as ``error: <message>``), 130 when interrupted.
    """
    parser = argparse.ArgumentParser(prog="qnqnn")
    add_sweep_parser(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return run_handler(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
