"""Refresh the measured tables of docs/results.md from the committed sweep records.

Every block of the form

    <!-- report docs/results/DIR PARAM -->
    ...
    <!-- /report -->

is replaced by what ``qnqnn sweep --param PARAM --results-dir docs/results/DIR --report --markdown``
prints: the table, the best point of each method and, for ``g`` sweeps, the critical angle (nothing
is written to the sweep folders). Run from the repository root:

    python scripts/update_results_tables.py            # rewrite docs/results.md
    python scripts/update_results_tables.py --check    # exit 1 if a table is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from qiskit_natural_qnn.cli.experiments import report_text
from qiskit_natural_qnn.experiments import load_records

BLOCK = re.compile(r"(<!-- report (\S+) (a|g|grid) -->\n)(.*?)(<!-- /report -->)", re.DOTALL)


def report(results_dir: str, param: str) -> str:
    """The Markdown block for one sweep folder (nothing is written there)."""
    records = load_records(results_dir)
    if not records:
        raise SystemExit(f"{results_dir} holds no sweep records")
    text, _ = report_text(records, param, markdown=True)
    lines = [line for line in text.splitlines() if not line.startswith("errors: mean")]
    table = [line for line in lines if line.startswith("|")]
    rest = [line.replace("+/-", "±") for line in lines if line and not line.startswith("|")]
    note = "Errors in %, mean ± sample standard deviation over the seeds listed; s/run is the wall time of one run."
    return "\n".join(table) + f"\n\n{note}\n" + "".join(f"\n{line}\n" for line in rest)


def main(argv: list[str] | None = None) -> int:
    """Refresh (or with ``--check`` only compare) the tables; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="docs/results.md")
    parser.add_argument("--check", action="store_true", help="only check that the tables are current")
    args = parser.parse_args(argv)
    path = Path(args.file)
    text = path.read_text(encoding="utf-8")
    new = BLOCK.sub(lambda m: m.group(1) + report(m.group(2), m.group(3)) + m.group(5), text)
    if args.check:
        if new != text:
            print(f"{path}: tables are out of date; run python scripts/update_results_tables.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new, encoding="utf-8")
    print(f"{path}: {len(BLOCK.findall(text))} table(s) refreshed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
