"""The suite's end-of-session check (tests/conftest.py) fails a session that leaves a process of
its own alive, and kills it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LEAKY = """
import subprocess

def test_leaves_a_process_behind():
    # Its own session, as a daemonised worker would be: not a child the session could reap.
    process = subprocess.Popen(["sleep", "120"], start_new_session=True)
    with open("leaked.pid", "w") as file:
        file.write(str(process.pid))
"""


def run_session(tmp_path: Path, test: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    (tmp_path / "test_inner.py").write_text(test)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOSS_TESTS_GRACE_SECONDS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_session_that_leaves_a_process_alive_fails_and_the_process_is_killed(
    tmp_path: Path,
) -> None:
    result = run_session(tmp_path, LEAKY)
    assert result.returncode == 1, result.stdout
    assert "still alive at its end" in result.stdout
    assert "sleep 120" in result.stdout
    pid = int((tmp_path / "leaked.pid").read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
