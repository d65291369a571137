"""Faults at the scale the issue names: SIGTERM with 20 large requests in flight, and a worker
SIGKILLed under load from many kept-alive connections.

tests/ops/test_shutdown.py and tests/ops/test_workers.py check the mechanisms with a few held
requests (shutdown timeout, readiness, metrics across workers); here the question is only
whether load loses anything: every request in flight at SIGTERM is answered, and a killed worker
costs exactly the requests that were on its connections.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from .conftest import LiveServer, live_server

IN_FLIGHT = re.compile(r"^loss_service_http_requests_in_flight(?:\{[^}]*\})? ([0-9.e+]+)$", re.M)


def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.05)
    return result


def in_flight(server: LiveServer) -> int:
    """Requests in flight, as /metrics counts them (the scrape itself included)."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=5, trust_env=False).text
    return int(sum(float(value) for value in IN_FLIGHT.findall(text)))


def mse_body(samples: int, offset: float) -> bytes:
    targets = [float(i % 89) for i in range(samples)]
    return orjson.dumps({"predictions": [t + offset for t in targets], "targets": targets})


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    declared = re.search(rb"(?im)^content-length: *(\d+)", head)
    assert declared, head
    length = int(declared.group(1))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of the response body")
        body += chunk
    return status, body


@pytest.mark.timeout(90)
def test_sigterm_with_20_large_requests_in_flight_answers_all_then_exits_0(
    tmp_path: Path,
) -> None:
    """Each request has its headers and all but its last byte on the server when SIGTERM
    arrives: in flight, unfinished. Then the last bytes go out and every answer must come."""
    offsets = [0.25 * (i + 1) for i in range(20)]
    bodies = [mse_body(100_000, offset) for offset in offsets]  # ~2 MB each
    with live_server(tmp_path / "server.log") as server:
        connections = []
        try:
            for body in bodies:
                connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
                connection.sendall(
                    b"POST /v1/losses/mse HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body[:-1]
                )
                connections.append(connection)
            wait_until(lambda: in_flight(server) == len(bodies) + 1, 20, "20 requests in flight")
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the server is shutting down now, with all 20 unfinished
            assert server.process.poll() is None
            for connection, body in zip(connections, bodies, strict=True):
                connection.sendall(body[-1:])
            answers = [read_response(connection) for connection in connections]
        finally:
            for connection in connections:
                connection.close()
        assert [status for status, _ in answers] == [200] * len(bodies)
        for (_, answer), offset in zip(answers, offsets, strict=True):
            assert orjson.loads(answer)["value"] == pytest.approx(offset**2)
        assert server.process.wait(timeout=30) == 0


def socket_owner(workers: list[int], server_port: int, client_port: int) -> int | None:
    """The worker holding the server side of the connection from `client_port`, via the socket
    inode in /proc/net/tcp and the workers' /proc/<pid>/fd links."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if local_port == server_port and remote_port == client_port and fields[9] != "0":
            inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) == target:
                    return pid
            except OSError:
                continue
    return None


@dataclass
class Client:
    """One kept-alive connection driving requests in a loop; after a failure it reconnects."""

    server: LiveServer
    body: bytes
    record: list[tuple[int, bool, float]] = field(default_factory=list)  # owner, ok, when
    connection: http.client.HTTPConnection | None = None
    owner: int = 0

    def connect(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        connection.connect()
        assert connection.sock is not None
        client_port = connection.sock.getsockname()[1]
        try:
            self.owner = wait_until(
                lambda: socket_owner(self.server.workers(), self.server.port, client_port),
                10,
                "a worker accepts the connection",
            )
        except AssertionError:
            connection.close()
            raise
        self.connection = connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.connection is None:
                self.connect()
            assert self.connection is not None
            try:
                self.connection.request(
                    "POST", "/v1/losses/mse", self.body, {"Content-Type": "application/json"}
                )
                response = self.connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
            self.record.append((self.owner, ok, time.monotonic()))
            if not ok:
                self.close()


def open_clients(server: LiveServer, workers: list[int], body: bytes) -> list[Client]:
    """Connections until each worker holds at least three (the kernel picks the worker).

    A worker's pid exists before it accepts: one still importing the app leaves every
    connection to the other. Then the connections are closed and opened again, a second
    later, for up to OPEN_ATTEMPTS tries."""
    for attempt in range(OPEN_ATTEMPTS):
        clients: list[Client] = []
        try:
            while (
                len(clients) < 32
                and min(sum(client.owner == pid for client in clients) for pid in workers) < 3
            ):
                client = Client(server, body)
                client.connect()
                clients.append(client)
        except BaseException:
            for client in clients:
                client.close()
            raise
        if {client.owner for client in clients} == set(workers):
            return clients
        for client in clients:
            client.close()
        if attempt < OPEN_ATTEMPTS - 1:
            time.sleep(1.0)
    raise AssertionError(f"one worker took every connection in {OPEN_ATTEMPTS} tries")


OPEN_ATTEMPTS = 5


@pytest.mark.timeout(90)
def test_a_worker_killed_under_load_costs_only_its_own_requests(tmp_path: Path) -> None:
    body = mse_body(20_000, 0.5)
    with live_server(tmp_path / "server.log", "--workers", "2") as server:
        workers = wait_until(lambda: len(w := server.workers()) == 2 and w, 20, "two workers")
        clients = open_clients(server, workers, body)
        stop = threading.Event()
        threads = [threading.Thread(target=client.run, args=(stop,)) for client in clients]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.5)
            victim = max(workers, key=lambda pid: sum(c.owner == pid for c in clients))
            victims_connections = sum(client.owner == victim for client in clients)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            replacements = wait_until(
                lambda: len(w := server.workers()) == 2 and victim not in w and w,
                20,
                "a replacement worker",
            )
            time.sleep(1.0)  # load goes on against the survivor and the replacement
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            for client in clients:
                client.close()
        records = [entry for client in clients for entry in client.record]
        failures = [(owner, when) for owner, ok, when in records if not ok]
        # Every failed request was on a connection the killed worker held, at most one per
        # connection (the client then reconnects), and none before the kill.
        assert {owner for owner, _ in failures} <= {victim}, failures
        assert len(failures) <= victims_connections
        assert all(when >= killed_at for _, when in failures)
        # The survivor answered throughout, and the service answers on new connections.
        survivor = next(pid for pid in workers if pid != victim)
        after_kill = [ok for owner, ok, when in records if owner == survivor and when > killed_at]
        assert after_kill
        assert all(after_kill)
        assert sum(ok for _, ok, when in records if when > killed_at) > len(clients)
        assert set(replacements) - set(workers)
        assert server.terminate() == 0
