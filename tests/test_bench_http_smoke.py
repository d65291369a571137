"""bench/http.py still runs end to end: tiny sizes, one run, short loads with its own Python load
generator (no wrk needed), every server started and stopped by the script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "http.py"


def test_bench_http_prints_every_measure() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--n",
            "2000",
            "--repeat",
            "1",
            "--small",
            "16",
            "--concurrency",
            "4",
            "--duration",
            "0.3",
            "--load-rounds",
            "2",
            "--no-wrk",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout
    for name in ("JSON lists", "base64 typed arrays", "MessagePack"):
        row = next(line for line in output.splitlines() if line.startswith(f"| {name} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        service, floor, ratio = (float(cell.split()[0]) for cell in cells[3:6])
        # At 2,000 values a floor may print as 0.0 ms; the ratio uses the unrounded times.
        assert service > 0, row
        assert floor >= 0, row
        assert ratio > 0, row
        # The raw TCP round trip of the same bytes, no HTTP: never slower than the service's.
        assert cells[7].endswith(" ms"), row
        assert 0 <= float(cells[7].split()[0]) <= service, row
    for measure in (
        "1. JSON lists: service / floor",
        "1. JSON lists: naive baseline / service",
        "2. base64 typed arrays: service / floor",
        "3. MessagePack: service / floor",
        "4. 16 values at c=4: service / bare FastAPI",
        "5. peak RSS (VmHWM) / JSON body",
        "6. --workers 2 / --workers 1 (request 4)",
        "3. MessagePack: LossClient round trip / (floor + raw TCP round trip)",
        "1-3. httpx with its default headers / httpx with Accept-Encoding: identity",
    ):
        assert f"| {measure} |" in output, measure
    # The real clients' table: a row per wire, httpx's answer encoding named.
    real = output[output.index("| real clients (median ms) |") :].split("\n\n")[0]
    rows = real.splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == [
        "JSON lists",
        "base64 typed arrays",
        "MessagePack",
    ]
    assert all("(identity)" in row or "(gzip)" in row for row in rows), real
    assert "(python)" in output
    # The servers' CPU time per request, read from /proc around each load test.
    cpu = re.search(
        r"\| 4\. server CPU per request [^|]*\| (\d+) us; (\d+) us; bare / service ", output
    )
    assert cpu is not None, output
    assert int(cpu.group(1)) > 0, cpu.group(0)
    assert int(cpu.group(2)) > 0, cpu.group(0)
    assert "over 2 rounds" in output
    lower = re.search(
        r"\| 3\. the least any HTTP server could reach here[^|]*\| \(([\d.]+) \+ ([\d.]+) ms\) / "
        r"[\d.]+ ms = ([\d.]+) \|",
        output,
    )
    assert lower is not None, output
    assert float(lower.group(3)) >= 1, lower.group(0)
    # The machine's ceiling for ratio 6, from the Python load generator's CPU time (this process).
    ceiling = re.search(
        r"\| 6\. the most this machine allows[^|]*\| (\d+) / \(\((\d+) \+ (\d+) us\) x (\d+)/s\) = "
        r"([\d.]+)",
        output,
    )
    assert ceiling is not None, output
    assert int(ceiling.group(2)) > 0, ceiling.group(0)
    assert int(ceiling.group(3)) > 0, ceiling.group(0)
    assert float(ceiling.group(5)) > 0, ceiling.group(0)
    # Each round's connections per worker: the Python generator's 4, over one or both workers.
    split = re.search(
        r"\| 6\. connections per worker in each round[^|]*\| ([\d/]+), ([\d/]+) \|", output
    )
    assert split is not None, output
    for counts in split.groups():
        assert sum(map(int, counts.split("/"))) == 4, split.group(0)
    assert "cpu count" in output
    assert re.search(r"load test failures \(non-2xx or socket errors\): 0\b", output)
