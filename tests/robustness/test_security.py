"""What the service gives away: no secrets or request data in its logs, no traceback or internal
path in any answer (500s included), no server version in its headers, no CORS unless configured.

tests/ops/test_logs.py checks the logs of an app in-process; here the real `loss-service serve`
process at log level debug, uvicorn's own loggers included, writes the log that is searched.
"""

from __future__ import annotations

import gzip
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest

import service
from service.api import create_app
from service.config import Settings

from .conftest import LiveServer, live_server

PROBLEM = "application/problem+json"
KEYS = ("sk-live-ALPHA-31415926", "sk-live-BRAVO-27182818")
MARKER = 271828.1828459045
GROUP_MARKER = "cohort-PRIVATE-7"
# Where the code lives: no answer may name these.
INTERNAL_PATHS = (str(Path(service.__file__).resolve().parent), sys.prefix, "site-packages")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("secured") / "server.log"
    env = {
        "LOSS_SERVICE_API_KEYS": ",".join(KEYS),
        "LOSS_SERVICE_LOG_LEVEL": "debug",
        "LOSS_SERVICE_MAX_BODY_BYTES": str(64 * 1024),
    }
    with live_server(log, env=env) as server:
        yield server


def test_keys_and_bodies_never_reach_the_server_log(secured: LiveServer) -> None:
    body = {
        "predictions": [MARKER, 1.0],
        "targets": [2.0, 1.0],
        "group_by": [GROUP_MARKER, "other"],
    }
    raw = orjson.dumps(body)
    with httpx.Client(base_url=secured.base_url, trust_env=False, timeout=10) as client:
        sent = [
            client.post("/v1/losses/mse", json=body, headers={"x-api-key": KEYS[0]}),
            client.post(
                "/v1/evaluate",
                json={**body, "losses": [{"name": "mae"}]},
                headers={"authorization": f"Bearer {KEYS[1]}"},
            ),
            client.post("/v1/losses/mse", json=body, headers={"x-api-key": KEYS[0][:-1]}),
            client.post("/v1/losses/mse", json=body, headers={"authorization": f"Basic {KEYS[1]}"}),
            client.post(  # malformed JSON, naming the marker
                "/v1/losses/mse",
                content=raw[:-2],
                headers={"x-api-key": KEYS[0], "content-type": "application/json"},
            ),
            client.post(  # a domain error whose detail names the value
                "/v1/losses/msle",
                json={"predictions": [-MARKER], "targets": [1.0]},
                headers={"x-api-key": KEYS[0]},
            ),
            client.post(  # gzip, and too large once decompressed
                "/v1/losses/mse",
                content=gzip.compress(raw + b" " * 70_000),
                headers={"x-api-key": KEYS[1], "content-encoding": "gzip"},
            ),
            client.get("/v1/losses/not-a-loss", headers={"x-api-key": KEYS[0]}),
        ]
    assert [response.status_code for response in sent] == [200, 200, 401, 401, 400, 422, 413, 404]
    # Log lines are written in batches (LOSS_SERVICE_LOG_FLUSH_INTERVAL, 1 s): wait for them.
    deadline = time.monotonic() + 10
    while secured.logs().count('"path":"/v1/losses/mse"') < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = secured.logs()
    assert log.count('"path":"/v1/losses/mse"') >= 4, log  # the requests were logged
    for secret in (*KEYS, KEYS[0][:-1], str(MARKER), f"{MARKER:g}", GROUP_MARKER):
        assert secret not in log, secret
    # ...and nothing about them in the answers beyond what the client sent.
    for response in sent:
        for key in KEYS:
            assert key not in response.text


def test_no_header_names_the_server_or_its_versions(live: LiveServer) -> None:
    with httpx.Client(base_url=live.base_url, trust_env=False, timeout=10) as client:
        responses = [
            client.get("/healthz"),
            client.get("/v1/losses"),
            client.post("/v1/losses/mse", json={"predictions": [1.0], "targets": [2.0]}),
            client.post("/v1/losses/mse", content=b"{"),
            client.get("/nowhere"),
            client.request("DELETE", "/v1/losses/mse"),
            client.get("/docs"),
            client.get("/static/swagger-ui.css"),
        ]
    for response in responses:
        names = {name.lower() for name in response.headers}
        assert "server" not in names, response.headers
        assert "x-powered-by" not in names
        for value in response.headers.values():
            assert "uvicorn" not in value.lower()
            assert "python" not in value.lower()


def call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return anyio.run(send)


def assert_nothing_internal(response: httpx.Response) -> None:
    text = response.text
    for leak in ("Traceback", 'File "', '.py", line', *INTERNAL_PATHS):
        assert leak not in text, (leak, text)


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("service.api.compute.evaluate", ZeroDivisionError),  # in the threadpool
        ("service.api.deps.read_body", OSError),  # in an async dependency
        ("service.api.compute.encode_array", MemoryError),  # while encoding the answer
    ],
)
def test_a_crash_is_a_generic_500_naming_nothing_internal(
    monkeypatch: pytest.MonkeyPatch, target: str, error: type[BaseException]
) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise error(f"boom in {Path(service.__file__).resolve()} at line 42")

    module, _, name = target.rpartition(".")
    monkeypatch.setattr(module + "." + name, crash)
    app = create_app(Settings())
    response = call(
        app, "POST", "/v1/losses/mse", json={"predictions": [1.0, 2.0], "targets": [1.0, 3.0]}
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith(":internal")
    assert problem["request_id"] == response.headers["x-request-id"]
    assert "boom" not in response.text
    assert error.__name__ not in response.text
    assert_nothing_internal(response)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/v1/losses/mse", {"content": b'{"predictions": [1,'}),
        (
            "POST",
            "/v1/losses/mse",
            {"content": b"\x1f\x8b\x08broken", "headers": {"content-encoding": "gzip"}},
        ),
        ("POST", "/v1/losses/mse", {"content": b"<xml/>", "headers": {"content-type": "text/xml"}}),
        (
            "POST",
            "/v1/losses/mse",
            {"json": {"predictions": [[1.0], [1.0, 2.0]], "targets": [1.0]}},
        ),
        ("POST", "/v1/losses/bce", {"json": {"predictions": [2.0], "targets": [1.0]}}),
        ("POST", "/v1/losses/mse", {"json": {"predictions": [1e308], "targets": [-1e308]}}),
        (
            "POST",
            "/v1/evaluate",
            {"json": {"predictions": [1.0], "targets": [1.0], "losses": [{}]}},
        ),
        ("GET", "/v1/losses/../../etc/passwd", {}),
        ("GET", "/static/../config.py", {}),
        ("PATCH", "/v1/evaluate", {}),
    ],
)
def test_errors_name_nothing_internal(method: str, path: str, kwargs: dict[str, Any]) -> None:
    response = call(create_app(Settings()), method, path, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM
    assert_nothing_internal(response)


PREFLIGHT = {
    "origin": "https://dashboard.example",
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type, x-api-key",
}


def test_cors_is_off_unless_configured() -> None:
    app = create_app(Settings())
    preflight = call(app, "OPTIONS", "/v1/losses/mse", headers=PREFLIGHT)
    assert preflight.status_code == 405
    simple = call(
        app,
        "POST",
        "/v1/losses/mse",
        json={"predictions": [1.0], "targets": [1.0]},
        headers={"origin": "https://dashboard.example"},
    )
    assert simple.status_code == 200
    for response in (preflight, simple):
        assert not [name for name in response.headers if name.lower().startswith("access-control")]


def test_cors_answers_only_the_configured_origins() -> None:
    app = create_app(Settings(cors_origins=("https://dashboard.example",)))
    preflight = call(app, "OPTIONS", "/v1/losses/mse", headers=PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://dashboard.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = call(
        app,
        "POST",
        "/v1/losses/mse",
        json={"predictions": [1.0], "targets": [1.0]},
        headers={"origin": "https://dashboard.example"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://dashboard.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    other = {**PREFLIGHT, "origin": "https://elsewhere.example"}
    refused = call(app, "OPTIONS", "/v1/losses/mse", headers=other)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    plain = call(
        app,
        "POST",
        "/v1/losses/mse",
        json={"predictions": [1.0], "targets": [1.0]},
        headers={"origin": "https://elsewhere.example"},
    )
    assert "access-control-allow-origin" not in plain.headers


def test_cors_origins_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().cors_origins == ()
    monkeypatch.setenv("LOSS_SERVICE_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ("https://a.example", "https://b.example")
    monkeypatch.setenv("LOSS_SERVICE_CORS_ORIGINS", '["*"]')
    assert Settings().cors_origins == ("*",)
