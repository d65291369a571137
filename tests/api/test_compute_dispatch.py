"""How compute requests are routed and run: one templated route per kind of request, FastAPI's
own dependencies (so `dependency_overrides` reach them), small bodies on the event loop and large
ones in the threadpool."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from anyio.from_thread import BlockingPortal
from fastapi.routing import APIRoute

from service.api import compute as compute_module
from service.api import create_app
from service.api.compute import INLINE_BODY_BYTES
from service.api.deps import get_settings, require_api_key
from service.api.routes import evaluate, losses, operations
from service.config import Settings

from .support import ApiClient, assert_problem


def test_one_compute_route_per_kind_of_request() -> None:
    """The app's routers route POST /v1/losses/{name} and /v1/evaluate, not a route per loss and
    alias; the per-loss operations are documentation (`losses.documented`), not routes."""
    routes = [
        route
        for router in (losses.router, evaluate.router, operations.router)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    posts = sorted(route.path for route in routes if "POST" in route.methods)
    assert posts == ["/v1/evaluate", "/v1/losses/{name}"]
    gets = sorted(route.path for route in routes if "GET" in route.methods)
    heads = sorted(route.path for route in routes if "HEAD" in route.methods)
    assert gets == heads  # each GET's HEAD twin, hidden from the spec
    assert len(routes) == 2 + 2 * len(gets) == 2 + 2 * 7
    spec = create_app(Settings()).openapi()
    assert spec["paths"]["/v1/losses/huber"]["post"]["operationId"] == "huber"


def test_dependency_overrides_reach_the_compute_routes(portal: BlockingPortal) -> None:
    """A test (or an embedding app) swaps the settings and the key check as FastAPI documents."""
    app = create_app(Settings(api_keys=("secret",)))
    client = ApiClient(app, portal)
    try:
        body = {"predictions": [1.0, 2.0, 3.0], "targets": [1.0, 2.0, 2.0]}
        for path in ("/v1/losses/mse", "/v1/evaluate"):
            document = {**body, "losses": [{"name": "mse"}]} if "evaluate" in path else body
            assert client.post(path, json=document).status_code == 401
        app.dependency_overrides[require_api_key] = lambda: None
        app.dependency_overrides[get_settings] = lambda: Settings(max_elements=4)
        for path in ("/v1/losses/mse", "/v1/losses/MSE", "/v1/evaluate"):
            document = {**body, "losses": [{"name": "mse"}]} if "evaluate" in path else body
            assert_problem(client.post(path, json=document), 413, "the limit is 4")
        app.dependency_overrides[get_settings] = lambda: Settings()
        answer = client.post("/v1/losses/mse", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["value"] == pytest.approx(1 / 3)
    finally:
        client.close()


@pytest.mark.parametrize("path", ["/v1/losses/mse", "/v1/losses/MSE", "/v1/evaluate"])
@pytest.mark.parametrize(("size", "inline"), [(10, True), (INLINE_BODY_BYTES, False)])
def test_small_bodies_run_inline_and_large_ones_in_the_threadpool(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch, size: int, inline: bool, path: str
) -> None:
    threads: list[threading.Thread] = []
    name = "evaluate_many" if path == "/v1/evaluate" else "evaluate"
    real = getattr(compute_module, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(compute_module, name, recording)
    values = [0.5] * (size // 8)
    document: dict[str, Any] = {"predictions": values, "targets": values}
    if path == "/v1/evaluate":
        document["losses"] = [{"name": "mse"}]
    body = orjson.dumps(document)
    assert (len(body) <= INLINE_BODY_BYTES) == inline
    loop_thread: list[threading.Thread] = []

    async def probe() -> None:
        loop_thread.append(threading.current_thread())

    client._portal.call(probe)  # type: ignore[attr-defined]
    response = client.post(path, content=body)
    assert response.status_code == 200, response.text
    assert (threads[0] is loop_thread[0]) == inline
