"""The app factory: settings, routers, error handlers, request context, metrics, docs assets,
OpenAPI, readiness that turns off as soon as SIGTERM arrives, and log lines written out when the
app shuts down."""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware

from ..config import Settings
from ..logs import stop_listeners, write_batches_every
from .assets import StaticAssets
from .compression import GzipResponses
from .deps import require_api_key
from .metrics import Metrics
from .middleware import RequestContextMiddleware
from .openapi import TITLE, build_openapi
from .problems import install_handlers
from .routes import evaluate, losses, operations, pictures

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


def _version() -> str:
    try:
        return version("loss-service")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def not_ready_on_sigterm(app: FastAPI) -> Callable[[], None]:
    """Chain a SIGTERM handler that turns /readyz to 503 before the server's own handler starts
    the graceful shutdown; returns the function that puts the server's handler back.

    Only in the main thread, and only over a server's Python handler: with the default action
    there is no graceful shutdown to announce, and the signal must still end the process.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return lambda: None
    server_handler = previous

    def on_sigterm(signum: int, frame: Any) -> None:
        app.state.ready = False
        server_handler(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, server_handler)

    return restore


# prctl's option for "send me this signal when my parent dies" (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def end_with_supervisor() -> bool:
    """In a worker process of `serve --workers N`: have the kernel send SIGTERM (a graceful
    stop) when the supervisor dies, so that a supervisor killed with SIGKILL leaves no worker
    behind listening. True when set; a no-op outside such a worker or off Linux."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    if os.getppid() != supervisor.pid:  # it died before the request reached the kernel
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application; `settings` default to the LOSS_SERVICE_* environment."""
    settings = settings if settings is not None else Settings()
    service_version = _version()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        end_with_supervisor()
        metrics.worker_started()
        restore_sigterm = not_ready_on_sigterm(app)
        app.state.ready = True
        writer = asyncio.create_task(write_batches_every())
        try:
            yield
        finally:
            writer.cancel()
            app.state.ready = False
            restore_sigterm()
            metrics.worker_stopped()
            # A worker of `serve --workers N` ends without atexit: write the lines queued now,
            # and the server's last ones as they come.
            stop_listeners()

    app = FastAPI(
        title=TITLE,
        version=service_version,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        separate_input_output_schemas=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.ready = True
    # The key check guards the loss routes when keys are configured; an open service does not
    # solve a dependency that would only return.
    guarded = [Depends(require_api_key)] if settings.api_keys else []
    app.include_router(losses.router, dependencies=guarded)
    app.include_router(pictures.router, dependencies=guarded)
    app.include_router(evaluate.router, dependencies=guarded)
    app.include_router(operations.router)
    app.include_router(pictures.page)
    app.mount("/static", StaticAssets(directory=STATIC), name="static")
    app.add_middleware(GzipResponses)
    install_handlers(app)
    if settings.cors_origins:
        # Off unless configured: without it browsers keep other origins' pages out.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Authorization",
                "Content-Encoding",
                "Content-Type",
                "X-API-Key",
                "X-Request-ID",
            ],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, settings, service_version)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
