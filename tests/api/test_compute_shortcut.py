"""The compute shortcut: POST to a compute route's own path reaches the route the router would
have picked, with the same answers; other requests, and requests under a root_path, take the
router."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.types import Message

from service.api import create_app
from service.api.middleware import ComputeShortcut
from service.config import Settings
from service.losses import LOSSES

from .support import post_scope


def shortcut_routes() -> tuple[Any, dict[str, Any]]:
    app = create_app(Settings())
    [middleware] = [entry for entry in app.user_middleware if entry.cls is ComputeShortcut]
    shortcut = ComputeShortcut(app, *middleware.args, **middleware.kwargs)
    return app, shortcut.routes


def routed(app: Any, path: str) -> Any:
    """The route FastAPI's own router picks for a POST to `path` (its handler's outcome aside)."""
    scope = {**post_scope(path), "app": app, "state": {}}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    # Without the app's exception middleware the empty body's error comes out here: only the
    # route the router put in the scope matters.
    with pytest.raises(Exception):  # noqa: B017, PT011
        asyncio.run(app.router(scope, receive, send))
    return scope["route"]


def test_the_shortcut_holds_every_compute_path_with_the_route_the_router_picks() -> None:
    app, routes = shortcut_routes()
    names = {name for spec in LOSSES.values() for name in (spec.name, *spec.aliases)}
    assert set(routes) == {f"/v1/losses/{name}" for name in names} | {"/v1/evaluate"}
    for path, route in routes.items():
        assert routed(app, path) is route, path


def test_a_request_under_a_root_path_takes_the_router() -> None:
    app = create_app(Settings())
    body = {"predictions": [1.0, 2.0], "targets": [1.0, 4.0]}

    async def post(root_path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(f"{root_path}/v1/losses/mse", json=body)

    direct, prefixed = asyncio.run(post("")), asyncio.run(post("/api"))
    assert (direct.status_code, prefixed.status_code) == (200, 200)
    assert prefixed.json() == direct.json()
