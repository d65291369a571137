"""bench/datasets.py still runs, at tiny sizes: every row of its report, the same numbers on one
and two Dask workers, and the pandas + scikit-learn baseline agreeing with the scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "datasets.py"


def test_bench_runs_and_reports() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "300000", "--small-rows", "100000", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["segments"] == 100
    assert result["same_numbers"] is True
    for key in (
        "score_over_floor",
        "speedup_over_pandas_sklearn",
        "rss_big_over_small",
        "local1_over_local2",
        "ceiling_floor1_over_floor2",
    ):
        assert result[key] > 0, key
    assert result["http"]["arrow_over_msgpack"] > 0
