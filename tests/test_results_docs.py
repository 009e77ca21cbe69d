"""docs/results.md shows what the committed sweep records say (scripts/update_results_tables.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "update_results_tables.py"


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--file", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_results_tables_match_the_committed_records() -> None:
    result = _check(ROOT / "docs" / "results.md")
    assert result.returncode == 0, result.stderr
    assert "<!-- report docs/results/grid-512x3-e100 grid -->" in (ROOT / "docs" / "results.md").read_text()


def test_an_edited_number_is_caught(tmp_path) -> None:
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert "| 0.316 | 0.5 | 0,1,2 | 4.85 ± 0.23 |" in text
    edited = tmp_path / "results.md"
    edited.write_text(
        text.replace("| 0.316 | 0.5 | 0,1,2 | 4.85 ± 0.23 |", "| 0.316 | 0.5 | 0,1,2 | 4.72 ± 0.23 |", 1),
        encoding="utf-8",
    )
    result = _check(edited)
    assert result.returncode == 1
    assert "tables are out of date; run python scripts/update_results_tables.py" in result.stderr
