"""Fixtures for the operations tests: apps with chosen settings, driven in-process through
httpx's ASGI transport (no sockets), called synchronously through an anyio portal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from service.api import create_app
from service.config import Settings

PROBLEM = "application/problem+json"


class Client:
    """A synchronous client of one in-process app."""

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


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as running:
        yield running


@pytest.fixture
def make_client(portal: BlockingPortal) -> Iterator[Callable[..., Client]]:
    """A client of a new app created with these settings (defaults otherwise)."""
    clients: list[Client] = []

    def make(**settings: Any) -> Client:
        client = Client(create_app(Settings(**settings)), portal)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
