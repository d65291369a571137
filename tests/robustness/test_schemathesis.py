"""schemathesis against the live server's own OpenAPI spec, every check on: no server error, no
response outside its documented schema or status codes, valid requests accepted and invalid ones
refused (settings and their reasons: schemathesis.toml beside this file).

Two runs keep it within ~30 s on two cores while generating well over 1,000 cases:
- every operation through the examples, fuzzing (positive and negative data) and stateful phases;
- the coverage phase (boundary values, wrong types, missing and unknown fields, unexpected methods
  for every field) on operations that between them hold every kind of field and parameter: its
  cases grow with the number of fields, and the per-loss requests share all but their parameters.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import LiveServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
# MessagePack bodies and responses: the spec lists application/msgpack beside application/json.
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
FUZZING_EXAMPLES = 25  # per operation and mode: ~1,000 cases over the 40 operations
# float parameter with bounds (huber); int, nullable and list parameters (sparse cce); nullable
# float and booleans (binary focal); the catalogue, a path parameter and the probes.
COVERAGE_OPERATIONS = (
    "huber",
    "sparse_categorical_cross_entropy",
    "binary_focal_cross_entropy",
    "list_losses",
    "get_loss",
    "plot_loss",
    "healthz",
    "readyz",
)
MIN_CASES = 1000
RUN_SECONDS = 120


def schemathesis(live: LiveServer, cwd: Path, *args: str, workers: int = 2) -> tuple[int, str]:
    """Run the schemathesis CLI against the live server; the cases it generated and its report."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{live.base_url}/openapi.json",
            "--checks",
            "all",
            "--workers",
            str(workers),
            "--no-color",
            *args,
        ],
        cwd=cwd,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report
    generated = re.search(r"(\d+) generated, \1 passed", report)
    assert generated, report
    return int(generated.group(1)), report


@pytest.mark.timeout(2 * RUN_SECONDS + 30)
def test_schemathesis_finds_nothing(live: LiveServer, tmp_path: Path) -> None:
    fuzzed, _ = schemathesis(
        live,
        tmp_path,
        "--phases",
        "examples,fuzzing,stateful",
        "--max-examples",
        str(FUZZING_EXAMPLES),
    )
    selected = [f"--include-operation-id={operation}" for operation in COVERAGE_OPERATIONS]
    # One worker: two threads building the coverage cases of array fields with unconstrained items
    # race in CPython 3.11's ast module ("AST constructor recursion depth mismatch", gh-106905).
    covered, _ = schemathesis(live, tmp_path, "--phases", "coverage", *selected, workers=1)
    assert fuzzed + covered >= MIN_CASES, (fuzzed, covered)
    assert '"logger":"service.error"' not in live.logs(), "the server logged an unhandled error"
