"""The /static mount: Starlette's StaticFiles, with its range errors answered as problems.

StaticFiles answers a malformed `Range` header (400) and a range past the end of the file (416)
with plain text from inside its FileResponse, where no exception handler sees them; every other
error of the mount (404, 405) is an HTTPException and meets the app's handlers already.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from .problems import PROBLEM_MEDIA_TYPE, problem_body
from .request_id import request_id

__all__ = ["StaticAssets"]

_KINDS = {400: "malformed-range", 416: "range-not-satisfiable"}


class StaticAssets(StaticFiles):
    """StaticFiles whose plain-text 400 and 416 leave as problem+json (keeping Content-Range)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: Message | None = None

        async def send_problem(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] in _KINDS:
                held = message  # answered once its plain-text body tells why
                return
            if held is None:
                await send(message)
                return
            status = held["status"]
            range_ = Headers(scope=scope).get("range", "")
            if status == 416:
                size = Headers(raw=held["headers"]).get("content-range", "").rpartition("/")[2]
                reason = f"Range {range_!r} starts past the end of the file ({size} bytes)"
            else:
                why = bytes(message.get("body", b"")).decode("utf-8", "replace").strip()
                reason = f"Range {range_!r} is malformed: {why or 'expected bytes=START-END'}"
            errors = [(("header", "range"), reason)]
            body = problem_body(status, _KINDS[status], reason, request_id(scope), errors)
            kept = [(key, value) for key, value in held["headers"] if key == b"content-range"]
            headers = MutableHeaders(raw=kept)
            headers["content-type"] = PROBLEM_MEDIA_TYPE
            headers["content-length"] = str(len(body))
            await send({"type": "http.response.start", "status": status, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await super().__call__(scope, receive, send_problem)
