"""bench/reliability.py still runs: a few seconds of load and of soak at tiny sizes against a
server it starts itself, with no error and a server that exits 0 on SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "reliability.py"


def run_bench(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    completed = subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr
    return completed, json.loads(lines[-1])


@pytest.mark.parametrize(
    ("mode", "extra"),
    [
        ("load", ["--concurrency", "8"]),
        ("soak", ["--concurrency", "2", "--sample-every", "0.5", "--rss-baseline-at", "1"]),
    ],
)
def test_bench_runs_and_reports(mode: str, extra: list[str]) -> None:
    completed, result = run_bench(
        mode, "--duration", "2", "--small-size", "10", "--large-size", "1000", *extra
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert result["mode"] == mode
    assert result["errors"] == 0
    assert result["server_exit_code"] == 0
    assert result["requests"] > 10
    assert result["latency_large"]["count"] > 0
    assert result["latency"]["p50_ms"] <= result["latency"]["p99_ms"]
    assert result["rss_mb"]["end"] > 0
    assert "throughput" in completed.stdout


def test_bench_mixes_in_a_hostile_client() -> None:
    """Every hostile case is sent at least once, none fails the server, and the well-behaved
    clients see no error."""
    completed, result = run_bench(
        "load",
        "--duration",
        "4",
        "--concurrency",
        "4",
        "--small-size",
        "10",
        "--large-size",
        "1000",
        "--hostile-every",
        "0.25",
        "--env",
        "LOSS_SERVICE_HEADER_TIMEOUT=1",
        "--env",
        "LOSS_SERVICE_BODY_TIMEOUT=1",
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert result["errors"] == 0
    assert result["hostile_failures"] == 0
    cases = {key.rsplit(": ", 1)[0] for key in result["hostile"]}
    assert len(cases) == 12, result["hostile"]
    assert result["hostile"]["a million keys: 422"] >= 1
    assert "hostile" in completed.stdout
