"""The app factory: settings, routers, error handlers, request context, docs assets, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from ..config import Settings
from .middleware import RequestContextMiddleware
from .openapi import TITLE, build_openapi
from .problems import install_handlers
from .routes import evaluate, losses, operations

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


def _version() -> str:
    try:
        return version("loss-service")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application; `settings` default to the LOSS_SERVICE_* environment."""
    settings = settings if settings is not None else Settings()
    service_version = _version()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = True
        yield
        app.state.ready = False

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
    app.state.ready = True
    app.include_router(losses.router)
    app.include_router(evaluate.router)
    app.include_router(operations.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, settings, service_version)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
