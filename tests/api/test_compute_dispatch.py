"""How compute requests run: the lean ComputeRoute with its fixed dependencies, small bodies on
the event loop and large ones in the threadpool."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

from service.api import compute as compute_module
from service.api.compute import INLINE_BODY_BYTES, ComputeRoute
from service.api.deps import get_settings, raw_body, require_api_key
from service.api.routes import evaluate as evaluate_routes
from service.api.routes import losses as loss_routes
from service.losses import LOSSES

from .support import ApiClient


def test_compute_routes_use_the_lean_route_with_exactly_its_dependencies() -> None:
    """ComputeRoute calls get_settings, require_api_key and raw_body itself: a compute route with
    any other dependency would have it skipped, so there must be none."""
    routers = (loss_routes.router, evaluate_routes.router)
    routes = [
        route for router in routers for route in router.routes if isinstance(route, ComputeRoute)
    ]
    aliases = sum(len(spec.aliases) for spec in LOSSES.values())
    assert len(routes) == len(LOSSES) + aliases + 1
    allowed = {get_settings, require_api_key, raw_body}
    for router in routers:
        assert {dependency.dependency for dependency in router.dependencies} <= allowed
    for route in routes:
        calls = set()
        pending = list(route.dependant.dependencies)
        while pending:
            dependant = pending.pop()
            calls.add(dependant.call)
            pending.extend(dependant.dependencies)
        assert calls == allowed, route.path


@pytest.mark.parametrize("path", ["/v1/losses/mse", "/v1/losses/MSE"])
@pytest.mark.parametrize(("size", "inline"), [(10, True), (INLINE_BODY_BYTES, False)])
def test_small_bodies_run_inline_and_large_ones_in_the_threadpool(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch, size: int, inline: bool, path: str
) -> None:
    """Both kinds of compute route: the lean ComputeRoute (mse) and the by-name one (MSE)."""
    threads: list[threading.Thread] = []
    real = compute_module.evaluate

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(compute_module, "evaluate", recording)
    values = [0.5] * (size // 8)
    body = orjson.dumps({"predictions": values, "targets": values})
    assert (len(body) <= INLINE_BODY_BYTES) == inline
    loop_thread: list[threading.Thread] = []

    async def probe() -> None:
        loop_thread.append(threading.current_thread())

    client._portal.call(probe)  # type: ignore[attr-defined]
    response = client.post(path, content=body)
    assert response.status_code == 200, response.text
    assert (threads[0] is loop_thread[0]) == inline
