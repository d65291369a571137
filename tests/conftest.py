"""The whole suite: it ends with no process of its own alive.

Every process a test starts inherits SESSION_VARIABLE from this one (tests that build a child's
environment keep the variables they do not set), so a process of the suite can be told from
any other on the machine even once its parent is gone and it was handed to init. At the end of
the session the suite waits a few seconds for such processes to end, then kills them and fails:
a worker left listening after `make test` is a bug of the code or of a test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

SESSION_VARIABLE = "LOSS_TESTS_SESSION"
# How long the processes get to end after the last test (a graceful stop takes a few seconds).
GRACE_SECONDS = float(os.environ.get("LOSS_TESTS_GRACE_SECONDS", "10"))


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ[SESSION_VARIABLE] = uuid.uuid4().hex


# Helpers multiprocessing starts for this process (the Dask tests' spawned workers need them):
# they end when this process does, by design.
_OWN_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _processes_of(session_id: str) -> dict[int, str]:
    """The live processes (not zombies) whose environment holds this session's id, but this
    one and its multiprocessing helpers: pid -> command line."""
    marker = f"{SESSION_VARIABLE}={session_id}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state, parent = (entry / "stat").read_text().rpartition(")")[2].split()[:2]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        own_helper = int(parent) == os.getpid() and any(h in command for h in _OWN_HELPERS)
        if state != "Z" and not own_helper:
            found[int(entry.name)] = command.strip()
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session_id = os.environ.get(SESSION_VARIABLE)
    if session_id is None or not Path("/proc/self/environ").exists():
        return
    deadline = time.monotonic() + GRACE_SECONDS
    while (left := _processes_of(session_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not left:
        return
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    lines = "\n".join(f"  {pid}: {command[:200]}" for pid, command in sorted(left.items()))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"processes of the test session still alive at its end (now killed):\n{lines}"
    if reporter is not None:
        reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
