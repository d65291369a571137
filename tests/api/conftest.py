"""Fixtures for the API tests: apps with chosen settings, and a synchronous client that drives
them in-process through httpx's ASGI transport (no sockets)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from service.api import create_app
from service.config import Settings

from .support import ApiClient


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as running:
        yield running


@pytest.fixture(scope="session")
def make_client(portal: BlockingPortal) -> Iterator[Callable[..., ApiClient]]:
    """A client for an app created with these settings (defaults otherwise)."""
    clients: list[ApiClient] = []

    def make(**settings: Any) -> ApiClient:
        client = ApiClient(create_app(Settings(**settings)), portal)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def client(make_client: Callable[..., ApiClient]) -> ApiClient:
    """A client for an app with the default settings."""
    return make_client()
