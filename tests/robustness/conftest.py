"""Live `loss-service serve` processes for the robustness tests: started on 127.0.0.1 and a free
port, their logs captured to a file, their memory and worker processes read from /proc, and
always stopped within bounded time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 30
STOP_SECONDS = 30


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def children(pid: int) -> list[int]:
    """The live child processes of `pid`, from /proc/<child>/stat (field 4 is the parent)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command name, field 2, is in parentheses and may hold spaces: split after it.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def read_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


class PeakRss:
    """The highest VmRSS of a process while in the block: the kernel's own peak (VmHWM, reset by
    writing 5 to /proc/<pid>/clear_refs) and, where that cannot be reset, samples every 2 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = 0
        self.peak = 0
        self._sampling = threading.Event()
        self._resettable = True

    def __enter__(self) -> PeakRss:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            self._resettable = False
        self.before = read_status(self.pid)["VmRSS"]
        self.peak = self.before
        self._sampling.set()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while self._sampling.is_set():
            self.peak = max(self.peak, read_status(self.pid)["VmRSS"])
            time.sleep(0.002)

    def __exit__(self, *exc_info: object) -> None:
        self._sampling.clear()
        self._thread.join(timeout=5)
        if self._resettable:
            self.peak = max(self.peak, read_status(self.pid)["VmHWM"])

    @property
    def growth(self) -> int:
        return self.peak - self.before


def is_worker(pid: int) -> bool:
    """A uvicorn worker is a multiprocessing spawn child (not the resource tracker)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in command


@dataclass
class LiveServer:
    """One `loss-service serve` process (and its workers, if any)."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> list[int]:
        return [pid for pid in children(self.pid) if is_worker(pid)]

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.process.returncode}:\n{self.logs()}"
                )
            try:
                response = httpx.get(f"{self.base_url}/readyz", timeout=1, trust_env=False)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start in time:\n{self.logs()}")
            time.sleep(0.05)

    def terminate(self, timeout: float = STOP_SECONDS) -> int:
        """SIGTERM, then the exit code (SIGKILL if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the server and any worker it left behind."""
        workers = self.workers() if self.process.poll() is None else []
        self.process.kill()
        self.process.wait(timeout=10)
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def live_server(
    log_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """`loss-service serve` with extra CLI `args` and LOSS_SERVICE_* `env`, ready to answer."""
    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("LOSS_SERVICE_")
    }
    environment.update({"LOSS_SERVICE_LOG_FORMAT": "json", **(env or {})})
    command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", port, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        if process.poll() is None:
            with suppress(subprocess.TimeoutExpired):
                server.terminate()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with the default settings for the session (schemathesis, hostile bodies)."""
    log_path = tmp_path_factory.mktemp("live") / "server.log"
    with live_server(log_path) as server:
        yield server
