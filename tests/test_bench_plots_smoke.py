"""bench/plots.py still runs and prints its four lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "plots.py"


def test_bench_plots_prints_times_and_sizes() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--repeat", "1", "--losses", "huber", "hinge"],
        capture_output=True,
        text=True,
        timeout=110,
        check=True,
    )
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("first picture of a process")
    assert lines[1].startswith("cold draw, one per loss (2)")
    assert lines[2].startswith("cached: median")
    assert lines[3].startswith("page at / with its 6 assets")
