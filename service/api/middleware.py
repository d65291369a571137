"""The request context: X-Request-ID in and out, one log line and the metrics per request, and
the last line of defence that turns an unexpected exception into a generic 500 problem (logged,
never shown). Also the shortcut that takes a compute request straight to its route.

Pure ASGI middlewares: no per-request task or body buffering, unlike BaseHTTPMiddleware.
The log line holds the method, the path, the status, the duration, the body bytes in and out,
the request id and the loss: never a header value (API keys) or a body (payloads).

A small request costs the framework more than its loss, so the per-request path here reads the
scope's raw header list instead of building Headers objects, keeps the metrics' labelled series
(`Metrics.observe`), and makes the log record only when the access logger is on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..losses import LossError, get_loss
from .logs import AccessLine
from .metrics import UNMATCHED_ROUTE, Metrics, RequestRecord, current_request
from .problems import PROBLEM_MEDIA_TYPE, problem_body

__all__ = ["ComputeShortcut", "RequestContextMiddleware", "new_request_id"]

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = b"x-request-id"
# A client's id is kept if it is short and plain: it goes into logs and headers verbatim.
_VALID_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
LOSS_ROUTES = "/v1/losses/"

access_logger = logging.getLogger("service.access")
error_logger = logging.getLogger("service.error")
# The request line: its message's arguments are the method, the path and the status.
access_line = AccessLine(
    access_logger.name,
    "%s %s %d",
    (
        "request_id",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "bytes_in",
        "bytes_out",
        "loss",
    ),
)


def new_request_id() -> str:
    """32 random hex digits, as uuid4().hex but without building a UUID (a third of the cost)."""
    return os.urandom(16).hex()


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID if it is usable, else a new one."""
    for key, value in headers:
        if key == _REQUEST_ID_KEY:
            incoming = value.decode("latin-1")
            return incoming if _VALID_ID.fullmatch(incoming) else new_request_id()
    return new_request_id()


def set_header(message: Message, key: bytes, value: bytes) -> None:
    """Set a header of a response start message as MutableHeaders does: any header of that name
    is replaced (the first in place, the others dropped), else it is appended."""
    headers = message["headers"] = list(message.get("headers", ()))
    found = [index for index, (name, _) in enumerate(headers) if name == key]
    for index in reversed(found[1:]):
        del headers[index]
    if found:
        headers[found[0]] = (key, value)
    else:
        headers.append((key, value))


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (`/v1/losses/{name}`), not the raw path:
    a bounded set of values for the metrics' labels."""
    route: Any = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def loss_of_route(scope: Scope, route: str) -> str | None:
    """The canonical loss a POST /v1/losses/... request names, if it names one."""
    if scope["method"] != "POST" or not route.startswith(LOSS_ROUTES):
        return None
    name = scope.get("path_params", {}).get("name") or route.removeprefix(LOSS_ROUTES)
    try:
        return get_loss(name).name
    except LossError:
        return None


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
        request_id = request_id_of(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        bytes_in = bytes_out = 0
        record = RequestRecord(self.metrics)

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
                set_header(message, _REQUEST_ID_KEY, request_id.encode("latin-1"))
            elif message["type"] == "http.response.body":
                bytes_out += len(message.get("body", b""))
            await send(message)

        async def answer(status_code: int, kind: str, detail: str, **headers: str) -> None:
            body = problem_body(status_code, kind, detail, request_id)
            head = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
            head += [(b"content-length", str(len(body)).encode())]
            head += [(name.encode(), value.encode()) for name, value in headers.items()]
            await send_with_id(
                {"type": "http.response.start", "status": status_code, "headers": head}
            )
            await send_with_id({"type": "http.response.body", "body": body})

        in_flight = self.metrics.in_flight
        in_flight.inc()
        try:
            with current_request(record):
                await self.app(scope, counted_receive, send_with_id)
        except asyncio.CancelledError:
            # The server cancels what is still running when the graceful shutdown's bound
            # (LOSS_SERVICE_SHUTDOWN_TIMEOUT) is over: the client gets a problem, not a bare 500.
            # The cancellation is not raised on: the task ends here, as the server wants, and a
            # planned stop leaves a warning in the log rather than a traceback.
            error_logger.warning(
                "request cancelled unfinished: the service is shutting down",
                extra={"request_id": request_id, "path": scope["path"]},
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
                "unhandled error", extra={"request_id": request_id, "path": scope["path"]}
            )
            if not response_started:
                await answer(
                    500,
                    "internal",
                    "the service failed to handle this request; the error is logged under "
                    "this request_id",
                )
        finally:
            in_flight.dec()
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(method, route, status, seconds, bytes_in)
            if access_logger.isEnabledFor(logging.INFO):
                path = scope["path"]
                access_logger.handle(
                    access_line.record(
                        (method, path, status),
                        {
                            "request_id": request_id,
                            "method": method,
                            "path": path,
                            "route": route,
                            "status": status,
                            "duration_ms": round(seconds * 1000, 3),
                            "bytes_in": bytes_in,
                            "bytes_out": bytes_out,
                            "loss": record.loss or loss_of_route(scope, route),
                        },
                    )
                )


def _serve(route: APIRoute) -> ASGIApp:
    """The route's request handler as an ASGI app: request in, response out.

    What FastAPI wraps around it (`request_response`: exit stacks for dependencies with `yield`
    and a second exception wrapper; AsyncExitStackMiddleware, for uploaded files) serves nothing
    here: a ComputeRoute solves no dependencies and reads its body itself.
    """
    handler = route.get_route_handler()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class ComputeShortcut:
    """POST to a compute route's own path (`/v1/losses/huber`, `/v1/evaluate`) goes straight to
    that route; every other request goes through the app's router as usual.

    FastAPI's router tries its routes one after the other through the included routers' contexts,
    ~40 us a request here: more than scoring 16 values. A compute route's path is fixed, so a dict
    finds it. The route then runs inside the same inner stack FastAPI builds around its router
    (ExceptionMiddleware with the app's exception handlers, AsyncExitStackMiddleware), with the
    scope keys the router would have set, so its errors become the same problem responses.
    Requests under a root_path, or with FastAPI's telemetry on (which records the route the router
    picked), take the router.

    Install it as the innermost middleware: outside it, the request context, CORS and gzip apply
    to these requests as to any other.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI, routes: Iterable[APIRoute]) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.routes = {
            route.path: route
            for route in routes
            if route.methods == {"POST"} and not route.param_convertors
        }
        self._apps: dict[str, tuple[APIRoute, ASGIApp]] | None = None

    def _build(self) -> dict[str, tuple[APIRoute, ASGIApp]]:
        # The handlers as FastAPI gives them to its own ExceptionMiddleware (500 and Exception
        # go to ServerErrorMiddleware); read at the first request, once all are installed.
        handlers = {
            key: handler
            for key, handler in self.fastapi_app.exception_handlers.items()
            if key not in (500, Exception)
        }
        debug = self.fastapi_app.debug
        return {
            path: (route, ExceptionMiddleware(_serve(route), handlers, debug))
            for path, route in self.routes.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and scope.get("fastapi.telemetry") is None
        ):
            apps = self._apps
            if apps is None:
                apps = self._apps = self._build()
            found = apps.get(scope["path"])
            if found is not None:
                route, app = found
                scope["router"] = self.fastapi_app.router
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                scope["route"] = route
                await app(scope, receive, send)
                return
        await self.app(scope, receive, send)
