"""What `loss-service serve` runs under uvicorn: httptools with request headers bounded in size
and in time, and a supervisor for `--workers N` that stops listening when the shutdown begins.

uvicorn reads a request line and headers with no bound on their size and no deadline (its
keep-alive timeout runs only between a response and the next request): served without a proxy,
one client could send a 20 MB header, or hold a connection and its buffer for hours by sending
one byte a minute. uvicorn takes the protocol class as a setting (`http=`); this one counts the
bytes of each request's line and headers as they arrive and starts a clock at the request's
first byte (or when the connection opens), and answers 431 or 408 as problem+json, closing the
connection, when either passes `max_header_bytes` or `header_timeout`. The body has its own
deadline in the app (`deps.raw_body`, `body_timeout`), which holds under any server. A request
httptools cannot parse, which uvicorn answers with a plain-text 400, gets a problem too.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from .api.problems import PROBLEM_MEDIA_TYPE, problem_body
from .config import Settings

__all__ = ["BoundedHttpToolsProtocol", "Supervisor"]


@functools.cache
def _limits() -> tuple[int, float]:
    settings = Settings()
    return settings.max_header_bytes, settings.header_timeout


_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def _refusal(status: int, kind: str, detail: str) -> bytes:
    """A whole HTTP/1.1 response: the problem document, and the connection closed after it."""
    # No request id: the request never reached the app that gives one.
    body = problem_body(status, kind, detail, "", [(("header",), detail)])
    head = (
        f"HTTP/1.1 {status} ".encode()
        + _REASONS[status]
        + f"\r\ncontent-type: {PROBLEM_MEDIA_TYPE}\r\ncontent-length: {len(body)}\r\n".encode()
        + b"connection: close\r\n\r\n"
    )
    return head + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `max_header_bytes` and `header_timeout` (see the module
    docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_header_bytes, self._header_timeout = _limits()
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            if self._header_deadline is None:
                self._start_clock()
            self._header_bytes += len(data)
        super().data_received(data)
        # Checked after parsing: a chunk that completes the headers also carries body bytes.
        if self._awaiting_headers and self._header_bytes > self._max_header_bytes:
            self._refuse(
                431,
                f"the request line and headers are larger than {self._max_header_bytes} bytes "
                "(max_header_bytes)",
            )

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request httptools cannot parse, as a problem."""
        detail = f"{msg.rstrip('.')}: not an HTTP/1.1 request this server can parse"
        self.transport.write(_refusal(400, "malformed-request", detail))
        self.transport.close()
        self._stop_clock()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._stop_clock()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request's headers, whenever its first byte comes (until then the keep-alive
        # timeout watches the idle connection).
        self._awaiting_headers = True

    def _start_clock(self) -> None:
        self._header_deadline = self.loop.call_later(self._header_timeout, self._too_slow)

    def _stop_clock(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if self._awaiting_headers:
            self._refuse(
                408,
                f"the request line and headers did not arrive within {self._header_timeout:g} s "
                "(header_timeout)",
            )

    def _refuse(self, status: int, detail: str) -> None:
        if self.transport.is_closing():
            return
        self.logger.warning("refused a request: %s", detail)
        self.transport.write(_refusal(status, "limit" if status == 431 else "timeout", detail))
        self.transport.close()
        self._stop_clock()


class Supervisor(Multiprocess):
    """uvicorn's supervisor of `serve --workers N`, which stops listening when the shutdown
    begins.

    The workers accept connections on the supervisor's listening socket, which they inherit.
    uvicorn's supervisor keeps its own copy open until every worker has exited, so after
    SIGTERM, once the workers had stopped accepting, the kernel still completed new connections
    into a queue that nobody read: their clients waited with their requests sent until the last
    request in flight was done. Closed here before the workers are told to stop, the socket ends
    with the workers' copies, and a new connection is refused.
    """

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()
