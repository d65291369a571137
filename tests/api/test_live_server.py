"""The real server: `loss-service serve` under uvicorn on 127.0.0.1, a few requests over TCP."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

MAX_BODY = 4096
STARTUP_SECONDS = 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A server process for this module: started, waited for, and stopped within bounded time."""
    port = free_port()
    env = {
        **os.environ,
        "LOSS_SERVICE_MAX_BODY_BYTES": str(MAX_BODY),
        "LOSS_SERVICE_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, trust_env=False, timeout=10) as client:
        yield client


def test_probes_and_catalogue(http: httpx.Client) -> None:
    assert http.get("/readyz").json() == {"status": "ready"}
    losses = http.get("/v1/losses").json()["losses"]
    assert "huber" in [entry["name"] for entry in losses]
    assert http.get("/docs").status_code == 200


def test_compute_json_and_gzip(http: httpx.Client) -> None:
    body = {"predictions": [2.5, 0.0, 2.0, 8.0], "targets": [3.0, -0.5, 2.0, 7.0]}
    response = http.post("/v1/losses/huber", json=body, headers={"x-request-id": "live-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "live-1"
    assert response.json()["value"] == pytest.approx((0.125 + 0.125 + 0 + 0.5) / 4)
    compressed = http.post(
        "/v1/losses/huber",
        content=gzip.compress(orjson.dumps(body)),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert compressed.json() == response.json()


def test_errors_are_problems(http: httpx.Client) -> None:
    response = http.post("/v1/losses/hubr", json={})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    too_big = http.post("/v1/losses/mse", json={"predictions": [1.0] * MAX_BODY, "targets": [1.0]})
    assert too_big.status_code == 413


def test_declared_length_over_the_limit_is_answered_without_sending_the_body(
    server: str,
) -> None:
    """Only the headers go out; the 413 must come back anyway, before any body byte."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            b"POST /v1/losses/mse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n"
        )
        reply = connection.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"application/problem+json" in reply
