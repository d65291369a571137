"""Every dimension of work a request can ask for is bounded: what a hostile client found, driven
against live servers on 127.0.0.1.

Each case asserts the status and problem body, the time to the answer, and the growth of the
server's peak RSS, which must stay within max(64 MiB, 4 x the body) (`memory_bound`). Each one
failed before the limits: a 500, minutes of CPU, gigabytes of memory, or a connection held forever.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgpack
import numpy as np
import orjson
import pytest

from .conftest import LiveServer, PeakRss, live_server

MIB = 2**20
PROBLEM = "application/problem+json"


def memory_bound(body: bytes) -> int:
    return max(64 * MIB, 4 * len(body))


def typed(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "dtype": str(values.dtype),
        "shape": list(values.shape),
        "data": base64.b64encode(values.tobytes()).decode(),
    }


def post(
    server: LiveServer, path: str, body: bytes, content_type: str = "application/json"
) -> tuple[httpx.Response, float, int]:
    """POST on a warm connection: the response, the seconds it took and the server's RSS growth."""
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=60) as client:
        client.get("/healthz")
        with PeakRss(server.pid) as rss:
            started = time.monotonic()
            response = client.post(path, content=body, headers={"content-type": content_type})
            seconds = time.monotonic() - started
    return response, seconds, rss.growth


def assert_problem(response: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    for needle in needles:
        assert needle in problem["detail"], problem["detail"]
    return problem


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with short deadlines for headers and bodies."""
    log = tmp_path_factory.mktemp("tight") / "server.log"
    env = {"LOSS_SERVICE_HEADER_TIMEOUT": "1", "LOSS_SERVICE_BODY_TIMEOUT": "1"}
    with live_server(log, env=env) as server:
        yield server


# 1. Group keys


def test_a_long_group_key_is_refused_early(live: LiveServer) -> None:
    """Found: one 3,000-character key among 1e5 made a fixed-width array of 1.2 GB."""
    n = 100_000
    values = typed(np.linspace(0.0, 1.0, n))
    keys = [f"g{i % 100}" for i in range(n)]
    keys[n // 2] = "x" * 3000
    body = orjson.dumps({"predictions": values, "targets": values, "group_by": keys})
    response, seconds, growth = post(live, "/v1/losses/mse", body)
    problem = assert_problem(response, 422, "max_group_key_length", f"group_by[{n // 2}]")
    assert problem["errors"][0]["loc"] == ["body", "group_by", n // 2]
    assert seconds < 2
    assert growth < memory_bound(body), f"grew by {growth / MIB:.0f} MiB"


def test_group_keys_are_not_padded_to_the_longest(live: LiveServer) -> None:
    """Keys within the limit cost their own size: one key of 250 characters among 2e5 used to
    pad every key to 250 (200 MB of UCS-4)."""
    n = 200_000
    values = typed(np.linspace(0.0, 1.0, n))
    keys = [f"g{i % 100}" for i in range(n)]
    keys[0] = "y" * 250
    body = orjson.dumps(
        {"predictions": values, "targets": values, "group_by": keys, "gradient": False}
    )
    response, _, growth = post(live, "/v1/losses/mse", body)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["groups"]) == 101
    assert growth < memory_bound(body), f"grew by {growth / MIB:.0f} MiB"


def test_a_nul_in_a_key_makes_another_group(live: LiveServer) -> None:
    body = orjson.dumps(
        {"predictions": [1.0, 2.0], "targets": [0.0, 0.0], "group_by": ["a", "a\u0000"]}
    )
    response, _, _ = post(live, "/v1/losses/mse", body)
    assert response.status_code == 200, response.text
    groups = {group["key"]: group["loss_sum"] for group in response.json()["groups"]}
    assert groups == {"a": 1.0, "a\u0000": 4.0}


def test_distinct_groups_are_bounded(live: LiveServer) -> None:
    n = 70_000
    values = typed(np.zeros(n))
    body = orjson.dumps({"predictions": values, "targets": values, "group_by": list(range(n))})
    response, seconds, _ = post(live, "/v1/losses/mse", body)
    assert_problem(response, 422, "70000 distinct keys", "max_groups")
    assert seconds < 2


# 2. Losses per evaluate request, and losses x elements


def test_a_thousand_losses_are_refused_before_any_is_scored(live: LiveServer) -> None:
    """Found: 1,000 x mse on 1e5 values answered 1.86 GB after 58 s."""
    values = typed(np.linspace(0.0, 1.0, 100_000))
    body = orjson.dumps(
        {"predictions": values, "targets": values, "losses": [{"name": "mse"}] * 1000}
    )
    response, seconds, growth = post(live, "/v1/evaluate", body)
    assert_problem(response, 422, "1000 losses", "max_evaluate_losses")
    assert seconds < 2
    assert growth < memory_bound(body)


def test_losses_times_elements_are_bounded(live: LiveServer) -> None:
    values = typed(np.linspace(0.0, 1.0, 1_000_000))
    body = orjson.dumps(
        {"predictions": values, "targets": values, "losses": [{"name": "mse"}] * 16}
    )
    response, seconds, growth = post(live, "/v1/evaluate", body)
    assert_problem(response, 413, "16000000 in all", "max_scored_elements")
    assert seconds < 2
    assert growth < memory_bound(body)


# 3. Keys: linear parsing, capped errors


@pytest.mark.parametrize("wire", ["json", "msgpack"])
def test_a_million_keys_are_refused_in_linear_time(live: LiveServer, wire: str) -> None:
    """Found: 40,000 unknown keys took 5 s and 1e6 never finished; the 422 listed every one.

    MessagePack refuses the map while parsing; JSON counts the keys in the body's bytes before
    parsing it (before: a keys-only body cost simdjson's tape, ~5.5x its size).
    """
    document: dict[str, Any] = {"predictions": [1.0], "targets": [1.0]}
    document.update((f"k{i}", 1) for i in range(1_000_000))
    if wire == "json":
        body, content_type = orjson.dumps(document), "application/json"
    else:
        body, content_type = msgpack.packb(document), "application/msgpack"
    response, seconds, growth = post(live, "/v1/losses/mse", body, content_type)
    counted = "1000002 keys" if wire == "msgpack" else "at least 1000002 object keys"
    assert_problem(response, 422, counted, "max_object_keys")
    assert len(response.content) < 2048
    assert seconds < 3
    assert growth < memory_bound(body), f"grew by {growth / MIB:.0f} MiB"


def test_unknown_keys_under_the_limit_are_explained_a_few_at_a_time(live: LiveServer) -> None:
    document: dict[str, Any] = {"predictions": [1.0], "targets": [1.0]}
    document.update((f"k{i}", 1) for i in range(200))
    response, _, _ = post(live, "/v1/losses/mse", orjson.dumps(document))
    problem = assert_problem(response, 422, "k0 is not a field", "and 197 more")
    assert len(problem["errors"]) == 20


# 4. Shapes that answered 500

# One float64 in 65 dimensions: more than numpy can make.
ONE_IN_65_DIMENSIONS = {"dtype": "float64", "shape": [1] * 65, "data": "AAAAAAAA8D8="}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"predictions": ONE_IN_65_DIMENSIONS, "targets": [1.0]}, 422, "max_dimensions"),
        (
            {
                "predictions": [1.0],
                "targets": [1.0],
                "regularization": {"weights": ONE_IN_65_DIMENSIONS, "l2": 0.1},
            },
            422,
            "max_dimensions",
        ),
        (
            {
                "predictions": {"dtype": "float64", "shape": [0, 2**62, 2**62], "data": ""},
                "targets": [1.0],
            },
            413,
            "extent",
        ),
        (
            b'{"predictions": [1, ' + b"[" * 1000 + b"1" + b"]" * 1000 + b'], "targets": [1, 1]}',
            422,
            "max_nesting_depth",
        ),
        (b'{"predictions": [' + b"1" + b"0" * 400 + b'], "targets": [1.0]}', 422, "float64"),
        (b'{"predictions": [1e400], "targets": [1.0]}', 422, "float64"),
    ],
    ids=["65-dims", "weights-65-dims", "huge-empty-shape", "deep-list", "10**400", "1e400"],
)
def test_shapes_that_were_500s_are_4xx(
    live: LiveServer, body: dict[str, Any] | bytes, status: int, needle: str
) -> None:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response, _, _ = post(live, "/v1/losses/mse", content)
    assert_problem(response, status, needle)


# 5. Every array counts, parameters too


def test_class_weight_counts_against_the_element_limit(tmp_path: Path) -> None:
    """Found: 1.2e7 class_weight values were not counted (+666 MB); here with a limit of 1e4."""
    with live_server(tmp_path / "server.log", env={"LOSS_SERVICE_MAX_ELEMENTS": "10000"}) as server:
        term = {"name": "cce", "class_weight": [1.0] * 20_000}
        body = orjson.dumps(
            {"predictions": [[0.5, 0.5]], "targets": [[1.0, 0.0]], "losses": [term]}
        )
        response, _, _ = post(server, "/v1/evaluate", body)
        assert_problem(response, 413, "losses.0.class_weight: 20000")
        body = orjson.dumps(
            {"predictions": [[0.5, 0.5]], "targets": [[1.0, 0.0]], "class_weight": [1.0] * 20_000}
        )
        response, _, _ = post(server, "/v1/losses/cce", body)
        assert_problem(response, 413, "class_weight: 20000")


@pytest.mark.parametrize("arrays", ["lists", "typed"])
def test_a_64_mb_msgpack_request_peaks_within_4x_its_body(live: LiveServer, arrays: str) -> None:
    """Found: valid 64 MB MessagePack requests peaked at 5-10x their size (a Python float per
    element of a plain array)."""
    n = 3_500_000
    predictions = np.linspace(0.0, 1.0, n)
    targets = predictions[::-1].copy()
    if arrays == "lists":
        document: dict[str, Any] = {
            "predictions": predictions.tolist(),
            "targets": targets.tolist(),
        }
    else:
        document = {
            "predictions": {"dtype": "float64", "shape": [n], "data": predictions.tobytes()},
            "targets": {"dtype": "float64", "shape": [n], "data": targets.tobytes()},
            "array_encoding": "base64",
        }
    body = msgpack.packb(document)
    del document
    response, _, growth = post(live, "/v1/losses/mse", body, "application/msgpack")
    assert response.status_code == 200, response.text[:300]
    assert response.json()["value"] == pytest.approx(np.mean((predictions - targets) ** 2))
    assert growth < 4 * len(body), f"grew by {growth / MIB:.0f} MiB for {len(body) / MIB:.0f}"


# 6. Headers and bodies: size and time


def read_reply(connection: socket.socket) -> bytes:
    reply = b""
    try:
        while chunk := connection.recv(65536):
            reply += chunk
    except OSError:
        pass
    return reply


def test_a_20_mb_header_is_a_431(live: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            for _ in range(400):
                connection.sendall(b"a" * 50_000)
        except OSError:  # the server closed the connection once the limit was passed
            pass
        reply = read_reply(connection)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert b"max_header_bytes" in reply
    assert PROBLEM.encode() in reply


@pytest.mark.parametrize(
    "request_",
    [b"NOT HTTP AT ALL\r\n\r\n", b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"],
)
def test_an_unparsable_request_is_a_400_problem(live: LiveServer, request_: bytes) -> None:
    """uvicorn answers these itself, in plain text, before any app sees them."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as connection:
        connection.sendall(request_)
        reply = read_reply(connection)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert f"content-type: {PROBLEM}".encode() in head
    assert b"connection: close" in head
    problem = json.loads(body)
    assert problem["status"] == 400
    assert problem["type"].endswith(":malformed-request")
    assert problem["detail"].startswith("Invalid HTTP request received: ")


def test_twenty_connections_holding_headers_cost_little(live: LiveServer) -> None:
    """Found: 20 connections holding 5 MB of unfinished headers pinned +87 MB."""
    connections = [
        socket.create_connection(("127.0.0.1", live.port), timeout=10) for _ in range(20)
    ]
    try:
        with PeakRss(live.pid) as rss:
            for connection in connections:
                connection.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: ")
                try:
                    for _ in range(100):
                        connection.sendall(b"a" * 50_000)
                except OSError:
                    pass
            replies = [read_reply(connection) for connection in connections]
    finally:
        for connection in connections:
            connection.close()
    assert all(reply.startswith(b"HTTP/1.1 431 ") for reply in replies)
    assert rss.growth < 32 * MIB, f"grew by {rss.growth / MIB:.0f} MiB"


def test_slow_headers_are_a_408(tight: LiveServer) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", tight.port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        reply = read_reply(connection)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"header_timeout" in reply
    assert 0.9 < time.monotonic() - started < 3


def test_a_slow_body_is_a_408(tight: LiveServer) -> None:
    """Found: 10 MB declared, sent at 1 KB/s, held the connection for as long as it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", tight.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/losses/mse HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        for _ in range(3):
            connection.sendall(b"[" * 1000)
            time.sleep(0.5)
        reply = read_reply(connection)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"body_timeout" in reply
    assert time.monotonic() - started < 4


# 7. Echoed values are cut short


def test_a_long_loss_name_is_echoed_by_a_prefix(live: LiveServer) -> None:
    name = "x" * 60_000
    response, seconds, _ = post(live, f"/v1/losses/{name}", b"{}")
    assert_problem(response, 404, "(60000 characters)")
    assert len(response.content) < 1024
    assert seconds < 1
    body = orjson.dumps({"predictions": [1.0], "targets": [1.0], "losses": [{"name": "y" * 10**6}]})
    response, seconds, _ = post(live, "/v1/evaluate", body)
    assert_problem(response, 422, "(1000000 characters)")
    assert len(response.content) < 1024
    assert seconds < 1


# Work that nobody waits for stops


def heavy_evaluate(samples: int, losses: int) -> bytes:
    values = np.linspace(0.0, 1.0, samples)
    array = {"dtype": "float64", "shape": [samples], "data": values.tobytes()}
    return msgpack.packb(
        {"predictions": array, "targets": array, "losses": [{"name": "log_cosh"}] * losses}
    )


def send_request(port: int, body: bytes) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(
        b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/msgpack\r\n"
        b"Accept: application/msgpack\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )
    return connection


HEAVY = {"LOSS_SERVICE_MAX_EVALUATE_LOSSES": "64", "LOSS_SERVICE_MAX_SCORED_ELEMENTS": str(2**27)}


def test_a_disconnect_stops_the_work(tmp_path: Path) -> None:
    """64 losses over 1e6 values take seconds of CPU; the client leaves after 0.5 s, and the
    worker stops at its next checkpoint (between two losses)."""
    body = heavy_evaluate(1_000_000, 64)
    with live_server(tmp_path / "server.log", env=HEAVY) as server:
        before = cpu_seconds(server.pid)
        started = time.monotonic()
        connection = send_request(server.port, body)
        time.sleep(0.5)
        connection.close()
        time.sleep(1.0)
        spent = cpu_seconds(server.pid) - before
        idle = cpu_seconds(server.pid)
        time.sleep(0.5)
        assert cpu_seconds(server.pid) - idle < 0.2  # nothing runs on
        # The whole request, for comparison, when the client waits.
        connection = send_request(server.port, body)
        full_started = time.monotonic()
        reply = connection.recv(64)
        full = time.monotonic() - full_started
        connection.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert spent < 0.5 * full + 0.5, (spent, full, time.monotonic() - started)
        server.terminate()
        assert '"status": 499' in server.logs() or " 499" in server.logs()


def test_sigterm_ends_a_busy_worker_within_the_shutdown_timeout(tmp_path: Path) -> None:
    body = heavy_evaluate(1_000_000, 64)
    env = {**HEAVY, "LOSS_SERVICE_SHUTDOWN_TIMEOUT": "1"}
    with live_server(tmp_path / "server.log", env=env) as server:
        connection = send_request(server.port, body)
        time.sleep(0.3)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        stopped = time.monotonic() - started
        connection.close()
    assert code == 0
    assert stopped < 2.5, f"took {stopped:.1f} s"
