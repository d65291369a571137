"""Graceful shutdown of the real server: on SIGTERM it stops accepting, finishes the requests in
flight (within LOSS_SERVICE_SHUTDOWN_TIMEOUT), then exits 0; readiness turns off at the signal."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.api import create_app
from service.config import Settings

from .live import HeldRequest, live_server, metric, wait_until

IN_FLIGHT = "loss_service_http_requests_in_flight"


def big_body(samples: int, offset: float) -> bytes:
    """A real request of some megabytes: mse over `samples` predictions, each `offset` off."""
    targets = [float(i % 97) for i in range(samples)]
    return orjson.dumps(
        {"predictions": [t + offset for t in targets], "targets": targets, "gradient": True}
    )


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def new_connection(port: int) -> str:
    """What a client opening a connection now gets: refused, reset, or an answer's status
    line; "hangs" when the request sent on it is neither answered nor refused within 3 s."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    except OSError:
        return "refused"
    with sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = sock.recv(64)
        except TimeoutError:
            return "hangs"
        except OSError:
            return "reset"
    return answer.split(b"\r\n", 1)[0].decode() if answer else "closed"


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_the_requests_in_flight_then_exits_0(tmp_path: Path, workers: int) -> None:
    with live_server(tmp_path, workers=workers, shutdown_timeout="20") as server:
        bodies = [big_body(200_000, offset) for offset in (0.5, 1.0, 1.5, 2.0)]
        # Each request has its headers and half its body on the server: in flight, unfinished.
        held = [
            HeldRequest(server.port, "/v1/losses/mse", b, first_part=len(b) // 2) for b in bodies
        ]
        try:
            # The scrape itself is one more request in flight.
            wait_until(
                lambda: metric(server.metrics(), IN_FLIGHT) == len(held) + 1,
                10,
                "the held requests are in flight",
            )
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: refuses_connections(server.port), 5, "new connections refused")
            # While the requests in flight finish, a new client is turned away, never left
            # waiting on a connection that nobody will answer.
            probes = [new_connection(server.port) for _ in range(5)]
            assert "hangs" not in probes, probes
            assert server.process.poll() is None, "exited with requests in flight"
            answers = [request.finish() for request in held]
            answered = time.monotonic()
        finally:
            for request in held:
                request.close()
        assert server.process.wait(timeout=10) == 0
        # The stop follows the last answer, not the 20 s bound.
        assert time.monotonic() - answered < 5
    for (status, document), offset in zip(answers, (0.5, 1.0, 1.5, 2.0), strict=True):
        assert status == 200
        assert document["value"] == pytest.approx(offset**2)
        assert len(document["gradient"]) == 200_000
    finished = [line for line in server.access_lines() if line["path"] == "/v1/losses/mse"]
    assert [line["status"] for line in finished] == [200] * 4
    assert {line["bytes_in"] for line in finished} == {len(b) for b in bodies}


def test_shutdown_timeout_bounds_the_wait_for_a_stuck_request(tmp_path: Path) -> None:
    with live_server(tmp_path, shutdown_timeout="1") as server:
        body = big_body(1000, 1.0)
        stuck = HeldRequest(server.port, "/v1/losses/mse", body, first_part=10)
        try:
            wait_until(
                lambda: metric(server.metrics(), IN_FLIGHT) == 2, 10, "the request is in flight"
            )
            started = time.monotonic()
            assert server.terminate() == 0
            waited = time.monotonic() - started
            leftover = stuck.read_to_end()
        finally:
            stuck.close()
    # It waited for the bound, not for the client, and not much longer.
    assert 1.0 <= waited < 6.0, waited
    head, _, body = leftover.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), leftover
    assert b"application/problem+json" in head
    assert orjson.loads(body)["status"] == 503
    messages = [line["message"] for line in server.log_lines()]
    assert any("timeout graceful shutdown exceeded" in message for message in messages)
    assert "request cancelled unfinished: the service is shutting down" in messages
    assert not any("Exception in ASGI application" in message for message in messages)


def test_readiness_turns_off_when_sigterm_arrives() -> None:
    """The app chains its handler before the server's (uvicorn's, here a stand-in): /readyz says
    503 from the signal on, and the server's handler still runs to start the shutdown."""
    app = create_app(Settings())
    received: list[int] = []

    def server_handler(signum: int, frame: Any) -> None:
        received.append(signum)

    async def run() -> tuple[bool, bool]:
        async with app.router.lifespan_context(app):
            before = app.state.ready
            signal.raise_signal(signal.SIGTERM)
            return before, app.state.ready

    original = signal.signal(signal.SIGTERM, server_handler)
    try:
        before, after = asyncio.run(run())
        assert signal.getsignal(signal.SIGTERM) is server_handler, "handler not put back"
    finally:
        signal.signal(signal.SIGTERM, original)
    assert (before, after) == (True, False)
    assert received == [signal.SIGTERM]


def test_sigterm_before_the_server_runs_still_ends_the_process(tmp_path: Path) -> None:
    """Without a server's handler the app leaves SIGTERM alone (it must still stop a process)."""
    app = create_app(Settings())

    async def run() -> Any:
        async with app.router.lifespan_context(app):
            return signal.getsignal(signal.SIGTERM)

    original = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        assert asyncio.run(run()) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, original)
