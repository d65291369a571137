"""The request context: X-Request-ID in and out, one log line per request, and the last line of
defence that turns an unexpected exception into a generic 500 problem (logged, never shown).

A pure ASGI middleware: no per-request task or body buffering, unlike BaseHTTPMiddleware.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import PROBLEM_MEDIA_TYPE, problem_body

__all__ = ["RequestContextMiddleware"]

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept if it is short and plain: it goes into logs and headers verbatim.
_VALID_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")

access_logger = logging.getLogger("service.access")
error_logger = logging.getLogger("service.error")


class RequestContextMiddleware:
    """Honour or generate X-Request-ID, echo it, log the request, answer crashes with a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = incoming if incoming and _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_logger.exception(
                "unhandled error", extra={"request_id": request_id, "path": scope["path"]}
            )
            if not response_started:
                body = problem_body(
                    500,
                    "internal",
                    "the service failed to handle this request; the error is logged under "
                    "this request_id",
                    request_id,
                )
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": body})
        finally:
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
