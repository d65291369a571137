"""The real server (see the `server` fixture): a few requests over TCP."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator

import httpx
import orjson
import pytest

from .support import LIVE_MAX_BODY as MAX_BODY


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
