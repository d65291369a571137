"""Helpers for the API tests: a synchronous in-process client and the problem assertion."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI

PROBLEM = "application/problem+json"
# max_body_bytes of the live server (the `server` fixture).
LIVE_MAX_BODY = 4096


class ApiClient:
    """httpx.AsyncClient over ASGITransport, called synchronously through an anyio portal."""

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self.app = app
        self._portal = portal
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._client.aclose)


def post_scope(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The ASGI scope of an HTTP/1.1 POST to `path` on 127.0.0.1, for driving an app directly."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """The response is a problem+json of this status whose detail holds every word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "errors", "request_id"}
    assert problem["status"] == status
    assert problem["type"].startswith("urn:loss-service:problem:")
    assert problem["request_id"] == response.headers["x-request-id"]
    for word in words:
        assert word in problem["detail"], (word, problem["detail"])
    assert "Traceback" not in response.text
    return problem
