"""Document codecs by media type: JSON today (orjson), a slot for MessagePack (issue 4).

A codec turns a request body into Python objects (dicts, lists, numbers, strings; a typed array's
`data` as base64 text or raw bytes) and a response document into bytes. Response documents may
hold numpy arrays, which a codec writes without `tolist()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from .errors import MalformedBodyError, UnsupportedMediaTypeError

__all__ = [
    "CODECS",
    "JSON",
    "Codec",
    "JsonCodec",
    "codec_for_accept",
    "codec_for_content_type",
    "media_type",
]


class Codec(Protocol):
    """How documents travel in one media type."""

    @property
    def media_type(self) -> str:
        """The Content-Type this codec reads and writes."""
        ...

    @property
    def binary(self) -> bool:
        """Typed arrays carry raw bytes (True) or base64 text (False)."""
        ...

    def decode(self, body: bytes | bytearray) -> Any:
        """The document in `body`; raises MalformedBodyError."""
        ...

    def encode(self, document: Any) -> bytes:
        """`document` as bytes; numpy arrays inside it are written as nested lists."""
        ...


@dataclass(frozen=True)
class JsonCodec:
    """JSON through orjson: parsed in one pass, numpy arrays written natively.

    orjson rejects NaN and Infinity on input (they are not JSON) and writes them as null on
    output, so neither can ever reach a client as a bare token.
    """

    media_type: str = "application/json"
    binary: bool = False

    def decode(self, body: bytes | bytearray) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise MalformedBodyError(f"the body is not valid JSON: {error}") from None

    def encode(self, document: Any) -> bytes:
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


JSON = JsonCodec()

# Media type -> codec. Issue 4 adds application/msgpack here; nothing else changes.
CODECS: dict[str, Codec] = {JSON.media_type: JSON}


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type or Accept entry: lower case, no parameters."""
    return (header or "").split(";", 1)[0].strip().lower()


def codec_for_content_type(header: str | None) -> Codec:
    """The codec for a request's Content-Type; a missing Content-Type is read as JSON."""
    kind = media_type(header)
    if not kind:
        return JSON
    codec = CODECS.get(kind)
    if codec is None:
        accepted = ", ".join(CODECS)
        raise UnsupportedMediaTypeError(
            f"Content-Type = {header!r}; expected one of: {accepted} "
            "(a gzip body says so with Content-Encoding: gzip)",
            loc=("header", "content-type"),
        )
    return codec


def codec_for_accept(header: str | None) -> Codec:
    """The codec for a response, from the Accept header: the first known type, else JSON."""
    for entry in (header or "").split(","):
        codec = CODECS.get(media_type(entry))
        if codec is not None:
            return codec
    return JSON
