"""Request logs: one JSON line per request with method, path, status, duration, bytes, request id
and loss; a text format for a terminal; X-Request-ID honoured or generated, echoed and in every
error body; API keys and request bodies in no log line."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from service.config import Settings
from service.logs import JsonFormatter, TextFormatter, logging_config

from .conftest import PROBLEM, Client

HUBER = {"predictions": [2.5, 0.0, 2.0, 8.0], "targets": [3.0, -0.5, 2.0, 7.0], "delta": 1.0}


class Captured:
    """Every record of the service's loggers (and the root's), kept and formatted both ways."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []

    def json_lines(self, logger: str = "service.access") -> list[dict[str, Any]]:
        formatter = JsonFormatter()
        return [
            orjson.loads(formatter.format(record))
            for record in self.records
            if record.name == logger
        ]

    def everything(self) -> str:
        """All records as JSON and as text, plus their raw attributes."""
        out = io.StringIO()
        for record in self.records:
            out.write(JsonFormatter().format(record) + "\n")
            out.write(TextFormatter().format(record) + "\n")
            out.write(repr(record.__dict__) + "\n")
        return out.getvalue()


@pytest.fixture
def captured() -> Iterator[Captured]:
    capture = Captured()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            # Held by several loggers, it sees a propagated record more than once.
            if not any(kept is record for kept in capture.records):
                capture.records.append(record)

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("", "service", "uvicorn", "httpx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_one_json_line_per_request_with_every_field(
    make_client: Callable[..., Client], captured: Captured
) -> None:
    client = make_client()
    content = orjson.dumps(HUBER)
    response = client.post(
        "/v1/losses/huber",
        content=content,
        headers={"content-type": "application/json", "x-request-id": "trace-42"},
    )
    assert response.status_code == 200
    [line] = captured.json_lines()
    assert line["message"] == "POST /v1/losses/huber 200"
    assert line["level"] == "info"
    assert line["method"] == "POST"
    assert line["path"] == "/v1/losses/huber"
    assert line["route"] == "/v1/losses/huber"
    assert line["status"] == 200
    assert 0 < line["duration_ms"] < 60_000
    assert line["bytes_in"] == len(content)
    assert line["bytes_out"] == len(response.content)
    assert line["request_id"] == "trace-42"
    assert line["loss"] == "huber"
    assert isinstance(line["pid"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


@pytest.mark.parametrize(
    ("path", "body", "status", "loss"),
    [
        ("/v1/losses/mse", {"predictions": [1.0], "targets": [2.0]}, 200, "mean_squared_error"),
        (
            "/v1/losses/Log-Loss",
            {"predictions": [0.5], "targets": [1.0]},
            200,
            "binary_cross_entropy",
        ),
        ("/v1/losses/huber", {"predictions": [1.0, 2.0], "targets": [1.0]}, 422, "huber"),
        ("/v1/losses/nope", {}, 404, None),
        (
            "/v1/evaluate",
            {"predictions": [0.5], "targets": [1.0], "losses": [{"name": "bce"}, {"name": "mse"}]},
            200,
            "binary_cross_entropy,mean_squared_error",
        ),
    ],
)
def test_the_loss_is_logged_by_its_canonical_name(
    make_client: Callable[..., Client],
    captured: Captured,
    path: str,
    body: dict[str, Any],
    status: int,
    loss: str | None,
) -> None:
    assert make_client().post(path, json=body).status_code == status
    [line] = captured.json_lines()
    assert (line["status"], line["loss"]) == (status, loss)


def test_text_format_for_a_terminal(make_client: Callable[..., Client], captured: Captured) -> None:
    make_client().post("/v1/losses/huber", json=HUBER, headers={"x-request-id": "t-1"})
    [record] = [record for record in captured.records if record.name == "service.access"]
    text = TextFormatter().format(record)
    assert "\n" not in text
    assert re.match(r"\d{4}-\d\d-\d\dT\S+Z INFO +service\.access POST /v1/losses/huber 200  ", text)
    for part in ("request_id=t-1", "route=/v1/losses/huber", "loss=huber", "duration_ms="):
        assert part in text
    assert "method=" not in text  # already in the message
    config = logging_config(Settings(log_format="text"))
    assert config["formatters"]["default"]["()"] == "service.logs.TextFormatter"
    config = logging_config(Settings(log_format="json", log_level="warning"))
    assert config["formatters"]["default"]["()"] == "service.logs.JsonFormatter"
    assert config["loggers"]["service"]["level"] == "WARNING"


def test_json_lines_carry_tracebacks_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("service.error").makeRecord(
            "service.error", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in orjson.loads(line)["exception"]


# status, method, path, body, content type; every request but the 401's carries the key.
ERRORS: list[tuple[int, str, str, bytes, str]] = [
    (400, "POST", "/v1/losses/mse", b"{", "application/json"),
    (401, "POST", "/v1/losses/mse", b"{}", "application/json"),
    (404, "GET", "/v1/losses/hubr", b"", ""),
    (404, "GET", "/nothing/here", b"", ""),
    (405, "PUT", "/v1/losses/huber", b"", ""),
    (413, "POST", "/v1/losses/mse", b"x" * 2000, "application/json"),
    (415, "POST", "/v1/losses/mse", b"a,b", "text/csv"),
    (422, "POST", "/v1/losses/mse", b'{"predictions": [1.0]}', "application/json"),
]


@pytest.mark.parametrize(("status", "method", "path", "content", "content_type"), ERRORS)
def test_every_error_body_carries_the_request_id(
    make_client: Callable[..., Client],
    status: int,
    method: str,
    path: str,
    content: bytes,
    content_type: str,
) -> None:
    client = make_client(api_keys=("k",), max_body_bytes=1000)
    headers = {"x-api-key": "k"} if status != 401 else {}
    if content_type:
        headers["content-type"] = content_type

    def send(request_id: str) -> Any:
        return client.request(
            method, path, content=content, headers={**headers, "x-request-id": request_id}
        )

    response = send(f"err-{status}")
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == f"err-{status}"
    assert response.json()["request_id"] == f"err-{status}"
    # Without a usable id, one is generated, echoed and put in the body just the same.
    again = send("spaces are not allowed")
    generated = again.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert again.json()["request_id"] == generated


def test_503_and_500_bodies_carry_the_request_id(
    make_client: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()
    client.app.state.ready = False
    response = client.get("/readyz", headers={"x-request-id": "drain-1"})
    assert (response.status_code, response.json()["request_id"]) == (503, "drain-1")
    import service.api.compute as compute

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(compute, "evaluate", explode)
    body = {"predictions": [1.0], "targets": [2.0]}
    response = client.post("/v1/losses/mse", json=body, headers={"x-request-id": "crash-1"})
    assert (response.status_code, response.json()["request_id"]) == (500, "crash-1")
    assert response.headers["x-request-id"] == "crash-1"


KEYS = ("key-AAAA-0123456789", "key-BBBB-9876543210")
MARKER = 987654.3125


def test_keys_and_bodies_never_reach_the_logs(
    make_client: Callable[..., Client], captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(api_keys=KEYS)
    body = {
        "predictions": [MARKER, 1.0],
        "targets": [2.0, 1.0],
        "group_by": ["cohort-MARKER", "cohort-OTHER"],
    }
    assert (
        client.post("/v1/losses/mse", json=body, headers={"x-api-key": KEYS[0]}).status_code == 200
    )
    bearer = {"authorization": f"Bearer {KEYS[1]}"}
    assert client.post("/v1/losses/mae", json=body, headers=bearer).status_code == 200
    wrong = {"x-api-key": "key-WRONG-5555555555"}
    assert client.post("/v1/losses/mse", json=body, headers=wrong).status_code == 401
    basic = {"authorization": "Basic a2V5LUFBQUE="}
    assert client.post("/v1/losses/mse", json=body, headers=basic).status_code == 401
    # A refused body names its value in the response, never in the log.
    bad = {"predictions": [MARKER, float("nan")], "targets": [1.0, 1.0]}
    refused = client.post(
        "/v1/losses/mse",
        content=orjson.dumps(bad, option=orjson.OPT_SERIALIZE_NUMPY).replace(b"null", b"NaN"),
        headers={"x-api-key": KEYS[0], "content-type": "application/json"},
    )
    assert refused.status_code == 400
    assert (
        client.post(
            "/v1/losses/msle",
            json={"predictions": [-MARKER], "targets": [1.0]},
            headers={"x-api-key": KEYS[0]},
        ).status_code
        == 422
    )
    # And a crash logs its traceback under the request id, but not the request.
    import service.api.compute as compute

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no payload here")

    monkeypatch.setattr(compute, "evaluate", explode)
    assert (
        client.post("/v1/losses/mse", json=body, headers={"x-api-key": KEYS[1]}).status_code == 500
    )

    logged = captured.everything()
    assert len(captured.json_lines()) == 7
    assert "no payload here" in logged
    for secret in (*KEYS, "key-WRONG", "a2V5LUFBQUE", str(MARKER), "cohort-MARKER"):
        assert secret not in logged, secret
