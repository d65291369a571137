"""Hostile bodies against the live server with its default limits (128 MiB, 2^24 elements): each
gets its 4xx problem at once and costs the process little memory.

Covered elsewhere, not repeated here: a chunked body cut off at the limit, a gzip body exactly
at the limit, element counts over max_elements (lists, typed arrays counted by their shape before
their bytes, every array of evaluate) in tests/api/test_limits.py; a typed array whose bytes
disagree with its dtype and shape (422) in tests/api/test_errors.py and, for random dtypes and
shapes, tests/robustness/test_properties.py.
"""

from __future__ import annotations

import socket
import time
import zlib

import httpx
import orjson

from .conftest import LiveServer, PeakRss

PROBLEM = "application/problem+json"
MIB = 2**20
DEFAULT_LIMIT = 128 * MIB


def status_line(reply: bytes) -> bytes:
    return reply.split(b"\r\n", 1)[0]


def test_a_declared_gibibyte_is_refused_at_once(live: LiveServer) -> None:
    """Only the headers go out: the 413 comes back before any body byte, and the server does
    not wait for the gibibyte it was promised."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as connection:
        connection.sendall(
            b"POST /v1/losses/mse HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += connection.recv(65536)
        answered = time.monotonic() - started
        while chunk := connection.recv(65536):  # then the server closes the connection
            reply += chunk
    assert status_line(reply) == b"HTTP/1.1 413 Request Entity Too Large", reply[:200]
    assert f"content-type: {PROBLEM}".encode() in reply.lower()
    assert str(DEFAULT_LIMIT).encode() in reply
    assert answered < 1.0
    assert time.monotonic() - started < 5.0


def gzip_bomb(compressed_size: int) -> bytes:
    """At least `compressed_size` bytes of gzip holding ~1000 times as many zero bytes: copies
    of one member of 130 MiB of zeros (concatenated members are one gzip stream)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    member = b"".join(compressor.compress(block) for _ in range(130)) + compressor.flush()
    return member * -(-compressed_size // len(member))


def test_a_gzip_bomb_is_a_413_and_the_process_grows_by_less_than_50_mb(live: LiveServer) -> None:
    bomb = gzip_bomb(MIB)
    assert len(bomb) >= MIB
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    with httpx.Client(base_url=live.base_url, trust_env=False, timeout=30) as client:
        client.get("/healthz")  # the connection and its buffers exist before measuring
        with PeakRss(live.pid) as rss:
            response = client.post("/v1/losses/mse", content=bomb, headers=headers)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "once decompressed" in response.json()["detail"]
    assert rss.growth < 50 * MIB, f"grew by {rss.growth / MIB:.1f} MiB"


def test_json_nested_10000_deep_is_a_422_naming_the_limit(live: LiveServer) -> None:
    """Valid JSON, deeper than the parser goes: refused as past max_nesting_depth."""
    depth = 10_000
    deep = b'{"predictions": ' + b"[" * depth + b"1.0" + b"]" * depth + b', "targets": [1.0]}'
    objects = b'{"a": ' * depth + b"1" + b"}" * depth
    with httpx.Client(base_url=live.base_url, trust_env=False, timeout=30) as client:
        for body in (deep, objects):
            response = client.post(
                "/v1/losses/mse", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == PROBLEM
            # 10,000 nested objects are also 10,000 keys: either limit may refuse them first.
            detail = response.json()["detail"]
            assert "max_nesting_depth" in detail or "max_object_keys" in detail, detail


def test_lists_nested_deeper_than_numpy_goes_are_a_422(live: LiveServer) -> None:
    """Within the JSON parser's depth, but past numpy's 64 dimensions."""
    depth = 100
    nested = orjson.loads(b"[" * depth + b"1.0" + b"]" * depth)
    body = {"predictions": nested, "targets": nested}
    with httpx.Client(base_url=live.base_url, trust_env=False, timeout=30) as client:
        response = client.post("/v1/losses/mse", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
