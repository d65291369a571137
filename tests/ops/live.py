"""`loss-service serve` as the operators run it, for the operations tests: started on 127.0.0.1
and a free port, its log kept in a file, found and stopped within bounded time; its worker
processes found through /proc; HTTP requests sent by hand when a test must hold one in flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STARTUP_SECONDS = 30.0
STOP_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll `condition` until it returns something true, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.05)


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base, trust_env=False, timeout=10, **kwargs)

    def get(self, path: str) -> httpx.Response:
        """A request on a connection of its own (so any worker may take it)."""
        with self.client() as client:
            return client.get(path)

    def post(self, path: str, body: Any) -> httpx.Response:
        with self.client() as client:
            return client.post(path, json=body)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.log_lines() if line["logger"] == "service.access"]

    def workers(self) -> set[int]:
        """The pids of the worker processes uvicorn's supervisor runs now."""
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            parent, state = int(fields[1]), fields[0]
            if parent == self.process.pid and state != "Z" and b"spawn_main" in command:
                found.add(int(entry.name))
        return found

    def metrics(self) -> str:
        response = self.get("/metrics")
        assert response.status_code == 200
        return response.text

    def terminate(self) -> int:
        """SIGTERM, and the exit status (bounded in time)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_SECONDS)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 if absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        label_text = series[len(name) :]
        if label_text.startswith("{"):
            parts = sorted(label_text[1:-1].split(","))
            if ",".join(parts) == wanted:
                return float(value)
        elif label_text == "" and not wanted:
            return float(value)
    return 0.0


@contextmanager
def live_server(tmp_path: Path, *, workers: int = 1, **settings: str) -> Iterator[LiveServer]:
    """Serve with these LOSS_SERVICE_* settings; stopped (killed if need be) at the end."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOSS_SERVICE_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({f"LOSS_SERVICE_{key.upper()}": value for key, value in settings.items()})
    env["LOSS_SERVICE_LOG_FORMAT"] = "json"
    log = tmp_path / f"serve-{port}.log"
    command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=log_file)
    server = LiveServer(process, port, log)
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}:\n{log.read_text()}")
            try:
                return server.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, STARTUP_SECONDS, "the server answers /healthz")
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_SECONDS)
        # The workers of a killed supervisor would linger: end them by their own pids.
        for pid in server.workers():
            os.kill(pid, signal.SIGKILL)


class HeldRequest:
    """A POST whose body is sent in two parts over a raw socket, so that it stays in flight
    (headers received, body incomplete) for as long as the test wants."""

    def __init__(self, port: int, path: str, body: bytes, *, first_part: int) -> None:
        self.body = body
        self.first_part = first_part
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=STOP_SECONDS)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.sock.sendall(head + body[:first_part])
        self.client_port: int = self.sock.getsockname()[1]

    def closed_by_server(self) -> bool:
        """Whether the server closed the connection: nothing but the end (or a reset) can
        arrive before the whole body was sent, unless the server answered early."""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(65536) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def read_to_end(self) -> bytes:
        """Whatever the server sends until it closes the connection."""
        received = b""
        try:
            while chunk := self.sock.recv(65536):
                received += chunk
        except OSError:
            pass
        return received

    def finish(self) -> tuple[int, dict[str, Any]]:
        """Send the rest of the body; the status and the JSON document of the response."""
        self.sock.sendall(self.body[self.first_part :])
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed after {reply!r}"
            reply += chunk
        head, _, rest = reply.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed mid-body"
            rest += chunk
        self.sock.close()
        return status, json.loads(rest[:length])

    def close(self) -> None:
        self.sock.close()


def process_environment(pid: int) -> dict[str, str]:
    """The environment a process started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(): value.decode() for key, value in pairs}


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def worker_holding(workers: set[int], server_port: int, client_port: int) -> int | None:
    """The worker whose socket is the server side of the connection from `client_port`."""
    wanted = (f"{server_port:04X}", f"{client_port:04X}")
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if (local, remote) == wanted:
            inode = fields[9]
    if inode is None:
        return None
    return next((pid for pid in workers if inode in _socket_inodes(pid)), None)
