"""Body and element limits: decided before the body is read, or as soon as it passes the limit."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
import pytest
from fastapi import FastAPI

from service.api import create_app
from service.config import Settings
from service.wire import BodyTooLargeError, GzipDecoder

from .support import ApiClient, assert_problem, post_scope

LIMIT = 64 * 1024
CHUNK = 4096


@dataclass
class Exchange:
    """What a raw ASGI call did: the response, and how many body chunks the app asked for."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks_read: int = 0

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(app: FastAPI, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> Exchange:
    """Drive the app with a streamed body, counting the chunks it reads."""
    exchange = Exchange()
    pending = iter(chunks)

    async def receive() -> dict[str, Any]:
        chunk = next(pending, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        exchange.chunks_read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")

    scope = post_scope(path, headers)
    anyio.run(app, scope, receive, send)
    return exchange


@pytest.fixture(scope="module")
def small_app() -> FastAPI:
    return create_app(Settings(max_body_bytes=LIMIT, max_elements=1000))


def endless() -> Iterator[bytes]:
    """A body that never ends: only a limit stops it."""
    yield b'{"predictions": ['
    while True:
        yield b"1.0, " * (CHUNK // 5)


def test_declared_length_over_the_limit_is_refused_before_reading(small_app: FastAPI) -> None:
    headers = {"content-type": "application/json", "content-length": str(LIMIT + 1)}
    exchange = call(small_app, "/v1/losses/mse", headers, endless())
    assert exchange.status == 413
    assert exchange.headers["content-type"] == "application/problem+json"
    assert exchange.chunks_read == 0
    assert str(LIMIT) in exchange.json()["detail"]


def test_chunked_body_is_cut_off_at_the_limit(small_app: FastAPI) -> None:
    exchange = call(small_app, "/v1/losses/mse", {"content-type": "application/json"}, endless())
    assert exchange.status == 413
    # Read up to the chunk that passes the limit, and not one more.
    received, needed = 0, 0
    for chunk in endless():
        received, needed = received + len(chunk), needed + 1
        if received > LIMIT:
            break
    assert exchange.chunks_read == needed
    assert exchange.json()["type"].endswith("body-too-large")


def test_body_at_the_limit_is_read(small_app: FastAPI) -> None:
    body = orjson.dumps({"predictions": [1.0], "targets": [0.0]})
    body += b" " * (LIMIT - len(body))
    chunks = iter([body[i : i + CHUNK] for i in range(0, len(body), CHUNK)])
    exchange = call(small_app, "/v1/losses/mse", {"content-length": str(LIMIT)}, chunks)
    assert exchange.status == 200, exchange.body


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes in a few kilobytes of gzip."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_a_413_after_at_most_the_limit(small_app: FastAPI) -> None:
    bomb = gzip_bomb(64 << 20)
    assert len(bomb) < LIMIT
    chunks = iter([bomb[i : i + CHUNK] for i in range(0, len(bomb), CHUNK)])
    headers = {"content-encoding": "gzip", "content-length": str(len(bomb))}
    exchange = call(small_app, "/v1/losses/mse", headers, chunks)
    assert exchange.status == 413
    assert "decompressed" in exchange.json()["detail"]
    assert exchange.chunks_read <= 2  # ~1000:1: the first chunks already pass the limit


def test_gzip_decoder_memory_stays_under_the_limit() -> None:
    bomb = gzip_bomb(256 << 20)
    limit = 1 << 20
    decoder = GzipDecoder(limit)

    def feed_all() -> None:
        for i in range(0, len(bomb), CHUNK):
            decoder.feed(bomb[i : i + CHUNK])

    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLargeError):
            feed_all()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * limit


def test_gzip_body_at_the_limit_once_decompressed(small_app: FastAPI) -> None:
    body = orjson.dumps({"predictions": [1.0], "targets": [0.0]})
    exact = gzip.compress(body + b" " * (LIMIT - len(body)))
    over = gzip.compress(body + b" " * (LIMIT + 1 - len(body)))
    headers = {"content-encoding": "gzip"}
    assert call(small_app, "/v1/losses/mse", headers, iter([exact])).status == 200
    assert call(small_app, "/v1/losses/mse", headers, iter([over])).status == 413


def test_more_elements_than_the_limit_is_a_413(make_client: Any) -> None:
    client: ApiClient = make_client(max_elements=10)
    body = {"predictions": [1.0] * 5, "targets": [1.0] * 5}
    assert client.post("/v1/losses/mse", json=body).status_code == 200
    body["sample_weight"] = [1.0]
    problem = assert_problem(client.post("/v1/losses/mse", json=body), 413, "11", "10")
    assert problem["type"].endswith("too-many-elements")
    two_d = {"predictions": [[1.0, 2.0, 3.0]] * 2, "targets": [[1.0, 2.0, 3.0]] * 2}
    assert_problem(client.post("/v1/losses/mse", json=two_d), 413, "12")


def test_typed_array_shape_is_counted_before_its_bytes(make_client: Any) -> None:
    client: ApiClient = make_client(max_elements=100)
    body = {
        "predictions": {"dtype": "float64", "shape": [10**9], "data": ""},
        "targets": [1.0],
    }
    assert_problem(client.post("/v1/losses/mse", json=body), 413, "1000000000")
    body["predictions"] = {"dtype": "float64", "shape": [50, 2], "data": ""}
    assert_problem(client.post("/v1/losses/mse", json=body), 413, "101")


def test_element_limit_counts_every_array_of_evaluate(make_client: Any) -> None:
    client: ApiClient = make_client(max_elements=6)
    body = {
        "predictions": [1.0, 2.0],
        "targets": [1.0, 2.0],
        "group_by": [1, 2],
        "regularization": {"weights": [0.5]},
        "losses": [{"name": "mse"}],
    }
    assert_problem(client.post("/v1/evaluate", json=body), 413, "7")


def test_typed_arrays_carry_big_inputs_within_the_body_limit(make_client: Any) -> None:
    client: ApiClient = make_client(max_body_bytes=LIMIT)
    values = bytes(8 * 4000)  # 4000 zeros: 32 kB raw, ~43 kB base64; ~12 kB per list in JSON
    typed = {"dtype": "float64", "shape": [4000], "data": base64.b64encode(values).decode()}
    response = client.post("/v1/losses/mse", json={"predictions": typed, "targets": typed})
    assert_problem(response, 413, str(LIMIT))
