"""Fixtures for the API tests: apps with chosen settings, and a synchronous client that drives
them in-process through httpx's ASGI transport (no sockets)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from service.api import create_app
from service.config import Settings

from .support import LIVE_MAX_BODY, ApiClient


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


STARTUP_SECONDS = 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """`loss-service serve` on 127.0.0.1 and a free port, for the session: started, waited for
    and stopped within bounded time. Its body limit is LIVE_MAX_BODY."""
    port = free_port()
    env = {
        **os.environ,
        "LOSS_SERVICE_MAX_BODY_BYTES": str(LIVE_MAX_BODY),
        "LOSS_SERVICE_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
