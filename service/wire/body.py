"""Reading a request body under a byte limit: declared length, streamed chunks and gzip.

The limit is enforced three times, each as early as it can be: on a declared Content-Length
before any byte is read, on the bytes received as they stream in (a chunked body is cut off as
soon as it passes the limit), and on the decompressed bytes of a gzip body, which are produced
incrementally with a bound on each step so that a gzip bomb costs at most `limit` bytes of memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable

from .errors import BodyTooLargeError, MalformedBodyError, UnsupportedMediaTypeError

__all__ = ["GzipDecoder", "check_content_length", "content_coding", "read_body"]

# zlib's wbits for a gzip header and trailer (16 + the largest window).
_GZIP_WBITS = 16 + zlib.MAX_WBITS


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


class GzipDecoder:
    """Decompresses a gzip stream fed in pieces, never holding more than `limit` output bytes."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._inflate = zlib.decompressobj(wbits=_GZIP_WBITS)
        self._output = bytearray()

    def feed(self, data: bytes) -> None:
        """Decompress one piece of the compressed stream."""
        try:
            while data:
                # One byte more than the room left tells "exactly at the limit" from "over it".
                room = self._limit - len(self._output)
                self._output += self._inflate.decompress(data, room + 1)
                if len(self._output) > self._limit:
                    raise _too_large(self._limit, " once decompressed")
                data = self._inflate.unconsumed_tail
                if self._inflate.eof and self._inflate.unused_data:
                    # Concatenated gzip members are one valid gzip stream (RFC 1952).
                    data = self._inflate.unused_data
                    self._inflate = zlib.decompressobj(wbits=_GZIP_WBITS)
        except zlib.error as error:
            raise MalformedBodyError(f"the body is not a valid gzip stream: {error}") from None

    def finish(self) -> bytearray:
        """The whole decompressed body; a stream cut short is an error."""
        if not self._inflate.eof:
            raise MalformedBodyError("the gzip stream ends before its end marker: truncated body")
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
    body = bytearray()
    decoder = GzipDecoder(limit) if coding == "gzip" else None
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, "")
        if decoder is None:
            body += chunk
        else:
            decoder.feed(chunk)
    if decoder is not None:
        if received == 0:
            raise MalformedBodyError("the body is empty; expected a gzip stream")
        return decoder.finish()
    return body
