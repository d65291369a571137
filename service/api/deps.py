"""The routes' dependencies (the settings, the API key check) and the raw request body.

`raw_body` is the only async step of a compute request: it reads the body off the socket under
the byte limit (and gunzips it), doing no parsing. Everything CPU-bound (JSON decoding, numpy,
the loss itself, encoding) happens afterwards. `compute.run_compute` calls it once the route knows
the loss, so that an unknown name costs no upload.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import ClientDisconnect

from ..config import Settings
from ..wire import ARROW, Codec, codec_for_accept, codec_for_content_type, content_coding, read_body
from .problems import ProblemException

__all__ = [
    "RawBody",
    "RequestCancelled",
    "SettingsDep",
    "get_settings",
    "raw_body",
    "require_api_key",
]


class RequestCancelled(Exception):
    """Nobody waits for this request any more (the client left, or the server is stopping)."""


@dataclass(frozen=True)
class RawBody:
    """A request body read in full, decompressed, with the codecs to read and answer it, and
    the flag that tells the work on it to stop."""

    data: bytearray
    codec: Codec
    response_codec: Codec
    cancelled: threading.Event = field(default_factory=threading.Event)
    # The query string's fields: the request's small fields when the body is an Arrow table.
    query: Mapping[str, str] = field(default_factory=dict)

    def checkpoint(self) -> None:
        """Raise RequestCancelled once nobody waits for the answer: called between the steps
        of a computation, each of them bounded by the request's limits."""
        if self.cancelled.is_set():
            raise RequestCancelled

    def release(self) -> None:
        """Free the body's bytes once decoded: the document no longer needs them, and a large
        request then holds its decoded form alone while it is computed."""
        self.data.clear()


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def require_api_key(request: Request, settings: SettingsDep) -> None:
    """With api_keys configured, require one in X-API-Key or Authorization: Bearer."""
    if not settings.api_keys:
        return
    given = request.headers.get("x-api-key")
    if given is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else None
    # compare_digest on every key: the time taken does not tell how much of a key matched.
    matched = False
    if given:
        for key in settings.api_keys:
            matched |= hmac.compare_digest(given.encode(), key.encode())
    if not matched:
        reason = "is missing" if not given else "is not valid"
        raise ProblemException(
            401,
            "unauthorized",
            f"the API key {reason}; send it as X-API-Key: <key> or Authorization: Bearer <key>",
            errors=[(("header", "x-api-key"), f"the API key {reason}")],
            headers={"WWW-Authenticate": 'Bearer realm="loss-service"'},
        )


async def raw_body(request: Request, settings: SettingsDep) -> RawBody:
    """The body, read under max_body_bytes: a declared Content-Length over the limit is refused
    before a byte is read, a streamed body is cut off as soon as it passes the limit, and a gzip
    body is limited by its decompressed size."""
    headers = request.headers
    codec = codec_for_content_type(headers.get("content-type"))
    coding = content_coding(headers.get("content-encoding"))
    try:
        # A deadline for the whole body, whatever server runs the app: a client trickling a
        # declared 10 MB at 1 KB/s does not hold a connection and its buffer for hours.
        async with asyncio.timeout(settings.body_timeout):
            data = await read_body(
                request.stream(),
                limit=settings.max_body_bytes,
                content_length=headers.get("content-length"),
                coding=coding,
            )
    except ClientDisconnect:
        raise ProblemException(
            400, "malformed-body", "the client disconnected before sending the whole body"
        ) from None
    except TimeoutError:
        raise ProblemException(
            408,
            "timeout",
            f"the body did not arrive within {settings.body_timeout:g} s (body_timeout); send "
            "it faster, or in smaller batches",
            headers={"Connection": "close"},
        ) from None
    # The query string carries the request's fields only beside an Arrow body.
    query = dict(request.query_params) if codec is ARROW else {}
    return RawBody(data, codec, codec_for_accept(headers.get("accept")), query=query)
