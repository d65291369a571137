"""bench/core.py still runs: tiny sizes, one row per loss in the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from service.losses import LOSSES

BENCH = Path(__file__).resolve().parents[1] / "bench" / "core.py"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def table_rows(output: str) -> dict[str, list[str]]:
    """The markdown table's body rows by loss name (the header and separator are skipped)."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in LOSSES:
            rows[cells[0]] = cells
    return rows


def test_bench_prints_a_row_for_every_loss() -> None:
    completed = run_bench("--n", "1000", "--repeat", "1")
    assert completed.returncode == 0, completed.stderr
    rows = table_rows(completed.stdout)
    assert sorted(rows) == sorted(LOSSES)
    # Where torch is installed (a benchmark-only dependency) two more columns follow.
    for name, (_, shape, time_ms, baseline_ms, ratio, *_torch) in rows.items():
        assert shape in ("(1000,)", "(100, 10)"), name
        assert all(float(cell) > 0 for cell in (time_ms, baseline_ms, ratio)), name
    assert "numpy" in completed.stdout
    assert "cpu count" in completed.stdout


def test_bench_selects_losses_by_name_or_alias() -> None:
    completed = run_bench("--n", "200", "--repeat", "1", "--losses", "mse,kl", "dice")
    assert completed.returncode == 0, completed.stderr
    assert sorted(table_rows(completed.stdout)) == ["dice", "kl_divergence", "mean_squared_error"]


def test_bench_refuses_an_unknown_loss() -> None:
    completed = run_bench("--n", "10", "--losses", "no_such_loss")
    assert completed.returncode == 2
    assert "unknown loss 'no_such_loss'" in completed.stderr
