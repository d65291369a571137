"""Reading a request body under a byte limit: declared length, streamed chunks and gzip.

The limit is enforced three times, each as early as it can be: on a declared Content-Length
before any byte is read, on the bytes received as they stream in (a chunked body is cut off as
soon as it passes the limit), and on the decompressed bytes of a gzip body, which are produced
incrementally with a bound on each step; past `GZIP_RETAIN_BYTES` they are only counted, so that
a gzip bomb costs a few megabytes of memory, not `limit`.

Responses are gzip-compressed (by the app's middleware) at `RESPONSE_GZIP_LEVEL` when the client
accepts gzip and they hold at least `RESPONSE_GZIP_MIN_BYTES`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Iterator

from .codecs import quality
from .errors import BodyTooLargeError, MalformedBodyError, UnsupportedMediaTypeError

__all__ = [
    "RESPONSE_GZIP_LEVEL",
    "RESPONSE_GZIP_MAX_REQUEST_BYTES",
    "RESPONSE_GZIP_MIN_BYTES",
    "RESPONSE_UNCOMPRESSED_TYPES",
    "GzipDecoder",
    "accepts_gzip",
    "check_content_length",
    "content_coding",
    "read_body",
    "refuses_identity",
]

# zlib's wbits for a gzip header and trailer (16 + the largest window).
_GZIP_WBITS = 16 + zlib.MAX_WBITS

# Level 1: a 1e6-gradient JSON response (22 MB) compresses 2.1x at ~110 MB/s; level 6 gets 2.3x
# at ~18 MB/s and Starlette's default 9 2.3x at ~8 MB/s (bench/README.md). Float digits and raw
# doubles gain little from the slower levels.
RESPONSE_GZIP_LEVEL = 1
# Below about one packet compression saves nothing worth its CPU.
RESPONSE_GZIP_MIN_BYTES = 1024
# Above this request size the response (whose arrays are the request's, as JSON text: ~1x to 2x
# its size) is not compressed unless the client refuses identity: gzip level 1 runs at ~60 MB/s
# here for 2x on float digits, which costs more time than it saves on any link faster than
# ~250 Mbit/s, and loopback or a data-centre link is faster (bench/README.md, issue 17).
RESPONSE_GZIP_MAX_REQUEST_BYTES = 64 * 1024
# Never worth compressing: raw doubles and Arrow buffers gain ~1.1x (PNG is Starlette's default).
RESPONSE_UNCOMPRESSED_TYPES = ("application/msgpack", "application/vnd.apache.arrow.stream")


def _too_large(limit: int, what: str) -> BodyTooLargeError:
    return BodyTooLargeError(
        f"the request body is larger than the limit of {limit} bytes{what}; send fewer values, "
        "typed arrays (base64 is denser than JSON lists), or split the batch"
    )


def check_content_length(header: str | None, limit: int) -> None:
    """Refuse a declared Content-Length over the limit, before any byte of the body is read."""
    if header is None:
        return
    try:
        length = int(header)
    except ValueError:
        raise MalformedBodyError(f"Content-Length = {header!r}; expected an integer") from None
    if length < 0:
        raise MalformedBodyError(f"Content-Length = {length}; expected an integer >= 0")
    if length > limit:
        raise BodyTooLargeError(
            f"Content-Length = {length} is larger than the limit of {limit} bytes; send fewer "
            "values, typed arrays (base64 is denser than JSON lists), or split the batch"
        )


def content_coding(header: str | None) -> str | None:
    """The body's content coding: None (identity) or "gzip"; anything else is a 415."""
    coding = (header or "").strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return "gzip"
    raise UnsupportedMediaTypeError(
        f"Content-Encoding = {header!r}; expected gzip or none", loc=("header", "content-encoding")
    )


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header names gzip (or x-gzip) with a q-value above 0."""
    for entry in (header or "").split(","):
        coding = entry.split(";", 1)[0].strip().lower()
        if coding in ("gzip", "x-gzip"):
            return quality(entry) > 0
    return False


def refuses_identity(header: str | None) -> bool:
    """Whether an Accept-Encoding header rules out an uncompressed answer (RFC 9110 12.5.3):
    identity;q=0, or *;q=0 without identity named."""
    star = None
    for entry in (header or "").split(","):
        coding = entry.split(";", 1)[0].strip().lower()
        if coding == "identity":
            return quality(entry) == 0
        if coding == "*":
            star = quality(entry)
    return star == 0


# Decompressed bytes a gzip body may occupy while it streams in; past this the decoder only
# counts them, and inflates the body again once it is known to fit (see GzipDecoder).
GZIP_RETAIN_BYTES = 8 * 2**20
_STEP = 2**20  # bytes of output per inflate call at most


class GzipDecoder:
    """Decompresses a gzip stream fed in pieces, refusing it once it expands past `limit`.

    Memory: up to `retain` decompressed bytes are kept as they come. A body that expands further
    is only counted from then on (its output is dropped as it comes) while its
    compressed pieces are kept; if the stream ends within the limit, those pieces are inflated
    again, once, into the body. So a gzip bomb costs its own size plus `retain` bytes, not
    `limit` (128 MiB by default), and a body that fits costs a second inflate only when it
    expands past `retain`.
    """

    def __init__(self, limit: int, retain: int = GZIP_RETAIN_BYTES) -> None:
        self._limit = limit
        self._retain = min(retain, limit)
        self._inflate = zlib.decompressobj(wbits=_GZIP_WBITS)
        self._output: bytearray | None = bytearray()  # None once counting
        self._size = 0  # decompressed bytes so far
        self._pieces: list[bytes] = []  # the compressed stream, for a second inflate

    def feed(self, data: bytes) -> None:
        """Decompress one piece of the compressed stream."""
        self._pieces.append(bytes(data))
        try:
            for piece in self._inflated(data):
                self._size += len(piece)
                if self._size > self._limit:
                    raise _too_large(self._limit, " once decompressed")
                if self._output is not None:
                    if self._size <= self._retain:
                        self._output += piece
                    else:
                        self._output = None  # from here on only count
        except zlib.error as error:
            raise MalformedBodyError(f"the body is not a valid gzip stream: {error}") from None

    def _inflated(self, data: bytes) -> Iterator[bytes]:
        """The output of `data`, in pieces of at most `_STEP` bytes and at most the room left
        plus one byte (which tells "exactly at the limit" from "over it")."""
        while True:
            step = min(_STEP, self._limit - self._size + 1)
            piece = self._inflate.decompress(data, step)
            if piece:
                yield piece
            data = self._inflate.unconsumed_tail
            if self._inflate.eof and self._inflate.unused_data:
                # Concatenated gzip members are one valid gzip stream (RFC 1952).
                data = self._inflate.unused_data
                self._inflate = zlib.decompressobj(wbits=_GZIP_WBITS)
            elif not data and len(piece) < step:
                return  # input used up and no output held back by the step

    def finish(self) -> bytearray:
        """The whole decompressed body; a stream cut short is an error."""
        if not self._inflate.eof:
            raise MalformedBodyError("the gzip stream ends before its end marker: truncated body")
        if self._output is None:
            # It fits: inflate the kept compressed stream again, this time keeping everything.
            again = GzipDecoder(self._limit, retain=self._limit)
            for piece in self._pieces:
                again.feed(piece)
            self._output = again.finish()
        self._pieces = []
        return self._output


async def read_body(
    chunks: AsyncIterable[bytes],
    *,
    limit: int,
    content_length: str | None = None,
    coding: str | None = None,
) -> bytearray:
    """The body from its chunks, decompressed when `coding` is "gzip", at most `limit` bytes.

    Raises BodyTooLargeError as soon as the limit is passed, without reading further.
    """
    check_content_length(content_length, limit)
    received = 0
    decoder = GzipDecoder(limit) if coding == "gzip" else None
    # A declared length is the body's size: one allocation of it, filled in place, rather than a
    # buffer grown (and moved, copying all it holds) chunk by chunk.
    declared = int(content_length) if content_length is not None and decoder is None else 0
    body = bytearray(declared)
    space: memoryview | None = memoryview(body)
    try:
        async for chunk in chunks:
            end = received + len(chunk)
            if end > limit:
                raise _too_large(limit, "")
            if decoder is not None:
                decoder.feed(chunk)
            elif space is not None and end <= declared:
                space[received:end] = chunk
            else:
                if space is not None:  # more than declared (the server should refuse it)
                    space.release()
                    space = None
                    del body[received:]
                body += chunk
            received = end
    finally:
        if space is not None:
            space.release()
    if decoder is not None:
        if received == 0:
            raise MalformedBodyError("the body is empty; expected a gzip stream")
        return decoder.finish()
    del body[received:]  # a stream that ended short of its declared length
    return body
