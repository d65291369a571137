"""gzip responses: Starlette's GZipMiddleware at the service's level and size, engaged only for
requests that accept gzip.

Starlette compresses a response of 128 KiB or more in a worker thread, so a large response never
blocks the event loop, and leaves alone responses that already have a Content-Encoding and
streamed ones' framing. For a request that does not accept gzip this middleware steps aside
entirely instead of wrapping the response in a pass-through (which costs a small request more
than its loss does); those identity responses then carry no `Vary: Accept-Encoding`, which only
matters to caches, and the API's responses to POST are not cacheable.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..wire import RESPONSE_GZIP_LEVEL, RESPONSE_GZIP_MIN_BYTES, accepts_gzip

__all__ = ["GzipResponses"]


class GzipResponses(GZipMiddleware):
    """Responses of at least RESPONSE_GZIP_MIN_BYTES, gzip-compressed at RESPONSE_GZIP_LEVEL
    when the request's Accept-Encoding allows gzip."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app, minimum_size=RESPONSE_GZIP_MIN_BYTES, compresslevel=RESPONSE_GZIP_LEVEL
        )
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and accepts_gzip(Headers(scope=scope).get("accept-encoding")):
            await super().__call__(scope, receive, send)
        else:
            await self.inner(scope, receive, send)
