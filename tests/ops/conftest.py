"""Fixtures for the operations tests: apps with chosen settings, driven in-process through
httpx's ASGI transport (no sockets), called synchronously through an anyio portal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from api.support import PROBLEM, ApiClient

from service.api import create_app
from service.config import Settings

# The same in-process client as the API tests (tests/ and so the `api` package are on sys.path).
Client = ApiClient
__all__ = ["PROBLEM", "Client"]


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
