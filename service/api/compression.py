"""gzip responses: Starlette's GZipMiddleware at the service's level and size, engaged only where
compression pays.

Starlette compresses a response of 128 KiB or more in a worker thread, so a large response never
blocks the event loop, and leaves alone responses that already have a Content-Encoding, streamed
ones' framing, and the media types it is told to exclude: here MessagePack and Arrow (raw doubles
gain ~1.1x) besides its own image defaults.

Where it pays: every client library and browser asks for gzip by default, and gzip of a
megabyte-sized array response costs more time than it saves on a fast link (bench/README.md,
issue 17). So a request larger than RESPONSE_GZIP_MAX_REQUEST_BYTES (whose response carries
arrays as large as its own) is answered uncompressed unless its Accept-Encoding refuses
identity; small ones, the catalogue, the spec, the docs and the plots are compressed. For a
request that is not compressed this middleware steps aside entirely instead of wrapping the
response in a pass-through (which costs a small request more than its loss does); those
responses then carry no `Vary: Accept-Encoding`, which only matters to caches, and the API's
responses to POST are not cacheable.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..wire import (
    RESPONSE_GZIP_LEVEL,
    RESPONSE_GZIP_MAX_REQUEST_BYTES,
    RESPONSE_GZIP_MIN_BYTES,
    RESPONSE_UNCOMPRESSED_TYPES,
    accepts_gzip,
    refuses_identity,
)

__all__ = ["GzipResponses", "compresses"]


def compresses(headers: Headers) -> bool:
    """Whether a request with these headers gets a gzip response (when one is worth making)."""
    accept_encoding = headers.get("accept-encoding")
    if not accepts_gzip(accept_encoding):
        return False
    length = headers.get("content-length")
    small = length is None or (length.isdigit() and int(length) <= RESPONSE_GZIP_MAX_REQUEST_BYTES)
    # A body of unknown length (chunked) may be of any size: treated as large.
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    return (small and not chunked) or refuses_identity(accept_encoding)


class GzipResponses(GZipMiddleware):
    """Responses of at least RESPONSE_GZIP_MIN_BYTES, gzip-compressed at RESPONSE_GZIP_LEVEL
    for requests that `compresses` admits."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app,
            minimum_size=RESPONSE_GZIP_MIN_BYTES,
            compresslevel=RESPONSE_GZIP_LEVEL,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *RESPONSE_UNCOMPRESSED_TYPES),
        )
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and compresses(Headers(scope=scope)):
            await super().__call__(scope, receive, send)
        else:
            await self.inner(scope, receive, send)
