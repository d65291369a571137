"""The request context, a pure ASGI middleware: X-Request-ID in and out, one log line and the
metrics per request, and a generic 500 problem for an unexpected exception (logged, never shown).

The log line holds the method, path, status, duration, body bytes in and out, request id and
loss (which the compute routes put on `request.state`): never a header value or a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..losses import LossError, get_loss
from .metrics import UNMATCHED_ROUTE, Metrics
from .problems import PROBLEM_MEDIA_TYPE, problem_body
from .request_id import REQUEST_ID_HEADER, request_id

__all__ = ["RequestContextMiddleware", "route_label"]

access_logger = logging.getLogger("service.access")
error_logger = logging.getLogger("service.error")

LOSS_ROUTE = "/v1/losses/{name}"


def route_label(scope: Scope) -> str:
    """The route that answered, as a bounded label: its path template (`/v1/evaluate`,
    `/static/{path}`), a loss's own path under its canonical name (`/v1/losses/mse` counts as
    `/v1/losses/mean_squared_error`), or `unmatched`."""
    route: Any = scope.get("route")
    if route is None:
        # FastAPI names only its own APIRoutes in the scope: the app's plain routes (the spec,
        # the /static mount) are found again as the router found them.
        for candidate in scope["app"].routes:
            if isinstance(candidate, Mount) and scope["path"].startswith(f"{candidate.path}/"):
                return f"{candidate.path}/{{path}}"
            if isinstance(candidate, Route) and candidate.matches(scope)[0] == Match.FULL:
                return candidate.path
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    if path.startswith(LOSS_ROUTE):
        with contextlib.suppress(LossError):
            return path.replace("{name}", get_loss(scope["path_params"]["name"]).name)
    return path


class RequestContextMiddleware:
    """Honour or generate X-Request-ID, echo it, log and count the request, answer crashes
    with a 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identifier = request_id(scope)
        started = time.perf_counter()
        status = 500
        response_started = False
        bytes_in = bytes_out = 0

        async def counted_receive() -> Message:
            nonlocal bytes_in
            message = await receive()
            if message["type"] == "http.request":
                bytes_in += len(message.get("body", b""))
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started, bytes_out
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = identifier
            elif message["type"] == "http.response.body":
                bytes_out += len(message.get("body", b""))
            await send(message)

        async def answer(status_code: int, kind: str, detail: str, **headers: str) -> None:
            body = problem_body(status_code, kind, detail, identifier)
            response = Response(body, status_code, headers, PROBLEM_MEDIA_TYPE)
            await response(scope, receive, send_with_id)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, counted_receive, send_with_id)
        except asyncio.CancelledError:
            # The server cancels what still runs when the shutdown's bound is over: the client
            # gets a problem, not a bare 500; the task ends here, as the server wants, and a
            # planned stop leaves a warning in the log rather than a traceback.
            error_logger.warning(
                "request cancelled unfinished: the service is shutting down",
                extra={"request_id": identifier, "path": scope["path"]},
            )
            if not response_started:
                await answer(
                    503,
                    "unavailable",
                    "the service shut down before this request finished; send it again",
                    **{"Retry-After": "1", "Connection": "close"},
                )
        except Exception:
            error_logger.exception(
                "unhandled error", extra={"request_id": identifier, "path": scope["path"]}
            )
            if not response_started:
                await answer(
                    500,
                    "internal",
                    "the service failed to handle this request; the error is logged under "
                    "this request_id",
                )
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = route_label(scope)
            method = scope["method"]
            self.metrics.observe(method, route, status, seconds, bytes_in, bytes_out)
            access_logger.info(
                "%s %s %d",
                method,
                scope["path"],
                status,
                extra={
                    "request_id": identifier,
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "bytes_in": bytes_in,
                    "bytes_out": bytes_out,
                    "loss": scope["state"].get("loss"),
                },
            )
