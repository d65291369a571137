"""Document codecs by media type: JSON (orjson) and MessagePack (msgpack).

A codec turns a request body into Python objects (dicts, lists, numbers, strings; a typed array's
`data` as base64 text or raw bytes; the JSON codec's large number arrays as float64 numpy arrays)
and a response document into bytes. Response documents may
hold numpy arrays, which a codec writes without `tolist()`: orjson natively, MessagePack by
writing the float64 array's bytes in MessagePack's own layout with numpy (`pack_float_array`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import msgpack
import numpy as np
import numpy.typing as npt
import orjson

from .arrow import ARROW
from .errors import LimitError, MalformedBodyError, NumberRangeError, UnsupportedMediaTypeError
from .fastjson import FAST_JSON_MIN_BYTES, PLAIN, Decoding, decode_number_arrays
from .fastmsgpack import PACKED_FLOAT
from .fastmsgpack import decode_number_arrays as fast_msgpack

# Below this, msgpack alone is as fast: the number arrays are small.
FAST_MSGPACK_MIN_BYTES = 64 * 1024

__all__ = [
    "CODECS",
    "JSON",
    "MSGPACK",
    "REQUEST_CODECS",
    "Codec",
    "JsonCodec",
    "MsgpackCodec",
    "codec_for_accept",
    "codec_for_content_type",
    "media_type",
    "pack_float_array",
    "quality",
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

    def decode(self, body: bytes | bytearray, decoding: Decoding = PLAIN) -> Any:
        """The document in `body`, read as `decoding` says; raises MalformedBodyError, or a
        LimitError or NumberRangeError (422) for a body that is well-formed but past what can be
        read."""
        ...

    def encode(self, document: Any) -> bytes:
        """`document` as bytes; numpy arrays inside it are written as nested lists."""
        ...


@dataclass(frozen=True)
class JsonCodec:
    """JSON through orjson: parsed in one pass, numpy arrays written natively. A large body's
    number arrays are parsed by simdjson straight into float64 instead (`fastjson`).

    orjson rejects NaN and Infinity on input (they are not JSON) and writes them as null on
    output, so neither can ever reach a client as a bare token.
    """

    media_type: str = "application/json"
    binary: bool = False

    def decode(self, body: bytes | bytearray, decoding: Decoding = PLAIN) -> Any:
        number_arrays, max_keys = decoding.number_arrays, decoding.max_keys
        if number_arrays and len(body) >= FAST_JSON_MIN_BYTES:
            document = decode_number_arrays(
                body, number_arrays, max_numbers=decoding.max_numbers, max_keys=max_keys
            )
            if document is not None:
                return document
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            message = str(error)
            if message.startswith("number is infinity"):
                # Valid JSON (RFC 8259 sets no range) that float64 cannot hold: a 422, not a 400.
                where = message.partition(": ")[2]
                raise NumberRangeError(
                    f"a number in the body is beyond float64's range (about 1.8e308) and would "
                    f"be infinity ({where}); send finite numbers"
                ) from None
            if message.startswith("depth limit exceeded"):
                raise LimitError(
                    "the body is nested more than 1024 deep; the limit is max_nesting_depth"
                ) from None
            raise MalformedBodyError(f"the body is not valid JSON: {error}") from None

    def encode(self, document: Any) -> bytes:
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


JSON = JsonCodec()


def _array_header(length: int) -> bytes:
    """The MessagePack header of an array of `length` items (fixarray, array 16 or array 32)."""
    if length < 16:
        return bytes((0x90 | length,))
    if length < 2**16:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


def _bin_header(length: int) -> bytes:
    """The MessagePack header of `length` raw bytes (bin 8, bin 16 or bin 32)."""
    if length < 2**8:
        return b"\xc4" + length.to_bytes(1, "big")
    if length < 2**16:
        return b"\xc5" + length.to_bytes(2, "big")
    return b"\xc6" + length.to_bytes(4, "big")


def pack_float_array(array: npt.NDArray[Any]) -> bytes:
    """A (N,) or (N, K) array as nested MessagePack arrays of float 64, written by numpy: the
    same bytes as `msgpack.packb(array.tolist())`, without a Python float per element."""
    return b"".join(_float_array_pieces(array))


def _float_array_pieces(array: npt.NDArray[Any]) -> list[bytes | memoryview]:
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 1:
        items = np.empty(values.shape, dtype=PACKED_FLOAT)
        items["marker"] = 0xCB
        items["value"] = values
        return [_array_header(len(values)), items.data.cast("B")]
    if values.ndim == 2:
        # Every row has the same header, so the rows are records of (header, K floats).
        rows, columns = values.shape
        header = np.frombuffer(_array_header(columns), dtype=np.uint8)
        record = np.dtype([("header", "u1", (len(header),)), ("items", PACKED_FLOAT, (columns,))])
        packed = np.empty(rows, dtype=record)
        packed["header"] = header
        packed["items"]["marker"] = 0xCB
        packed["items"]["value"] = values
        return [_array_header(rows), packed.data.cast("B")]
    return [msgpack.packb(values.tolist())]


@dataclass(frozen=True)
class MsgpackCodec:
    """MessagePack through msgpack: typed arrays carry raw bytes (bin), not base64.

    Decoding copies each bin once into a bytes object, which `np.frombuffer` then views; in a
    large body, plain arrays of float 64 in the number fields are read by numpy (`fastmsgpack`),
    not as a Python float per element. Encoding
    writes numpy arrays with `pack_float_array` and large raw bytes without packing them twice:
    the document is packed piece by piece and joined once.
    """

    media_type: str = "application/msgpack"
    binary: bool = True

    def decode(self, body: bytes | bytearray, decoding: Decoding = PLAIN) -> Any:
        number_arrays, max_keys = decoding.number_arrays, decoding.max_keys
        if number_arrays and len(body) >= FAST_MSGPACK_MIN_BYTES:
            try:
                document = fast_msgpack(body, number_arrays, max_keys=max_keys)
            except Exception:
                document = None
            if document is not None:
                return document
        limits = {"max_map_len": max_keys} if max_keys else {}
        try:
            return msgpack.unpackb(body, raw=False, strict_map_key=True, **limits)
        except msgpack.StackError:
            raise LimitError(
                "the body is nested deeper than MessagePack's parser goes; the limit is "
                "max_nesting_depth"
            ) from None
        except (ValueError, TypeError) as error:
            reason = str(error) or type(error).__name__
            # msgpack's own default bound (the body's length) makes a truncated map say so too.
            if max_keys and f"exceeds max_map_len({max_keys})" in reason:
                raise LimitError(
                    f"the body holds an object of {reason.split()[0]} keys; the limit is "
                    f"{max_keys} (max_object_keys)"
                ) from None
            raise MalformedBodyError(f"the body is not valid MessagePack: {reason}") from None

    def encode(self, document: Any) -> bytes:
        return b"".join(self.encode_pieces(document))

    def encode_pieces(self, document: Any) -> list[bytes | memoryview]:
        """The document's bytes as pieces to write one after the other: large raw bytes are the
        caller's own memory, not copied (a client streams them as they are)."""
        pieces: list[bytes | memoryview] = []
        _pack_into(pieces, document, msgpack.Packer(autoreset=True))
        return pieces


# Raw bytes larger than this are joined into the output as they are, not copied by the packer.
_LARGE_BIN = 4096


def _pack_into(pieces: list[bytes | memoryview], value: Any, packer: msgpack.Packer) -> None:
    if isinstance(value, dict):
        pieces.append(packer.pack_map_header(len(value)))
        for key, item in value.items():
            pieces.append(packer.pack(key))
            _pack_into(pieces, item, packer)
    elif isinstance(value, list | tuple):
        if value and isinstance(value[0], str | int | float | bool) and _pack_whole(pieces, value):
            return
        pieces.append(packer.pack_array_header(len(value)))
        for item in value:
            _pack_into(pieces, item, packer)
    elif isinstance(value, np.ndarray):
        pieces.extend(_float_array_pieces(value))
    elif isinstance(value, memoryview | bytes | bytearray) and len(value) > _LARGE_BIN:
        data = memoryview(value).cast("B")
        pieces.append(_bin_header(len(data)))
        pieces.append(data)
    else:
        pieces.append(packer.pack(value))


def _pack_whole(pieces: list[bytes | memoryview], value: list[Any] | tuple[Any, ...]) -> bool:
    """A list of scalars (group keys, a class_weight) packed by msgpack in one call, rather than
    one piece per element; False if it holds something msgpack cannot pack itself."""
    try:
        pieces.append(msgpack.packb(value))
    except TypeError:
        return False
    return True


MSGPACK = MsgpackCodec()

# Media type -> codec. application/msgpack is the one documented; the older unregistered and the
# vendor spellings are read as well.
CODECS: dict[str, Codec] = {
    JSON.media_type: JSON,
    MSGPACK.media_type: MSGPACK,
    "application/x-msgpack": MSGPACK,
    "application/vnd.msgpack": MSGPACK,
}
_DOCUMENTED = (JSON.media_type, MSGPACK.media_type, ARROW.media_type)
# Request bodies may also be Arrow IPC streams (tables); responses are JSON or MessagePack.
REQUEST_CODECS: dict[str, Codec] = {**CODECS, ARROW.media_type: ARROW}


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type or Accept entry: lower case, no parameters."""
    return (header or "").split(";", 1)[0].strip().lower()


def codec_for_content_type(header: str | None) -> Codec:
    """The codec for a request's Content-Type; a missing Content-Type is read as JSON, as
    FastAPI reads a JSON body, on every route that takes one."""
    kind = media_type(header)
    if not kind:
        return JSON
    codec = REQUEST_CODECS.get(kind)
    if codec is None:
        accepted = ", ".join(_DOCUMENTED)
        # curl -d labels any body a form unless told otherwise: the commonest way here.
        hint = (
            "; curl -d sends this unless given -H 'Content-Type: application/json'"
            if kind == "application/x-www-form-urlencoded"
            else ""
        )
        raise UnsupportedMediaTypeError(
            f"Content-Type = {header!r}; expected one of: {accepted} "
            f"(a gzip body says so with Content-Encoding: gzip){hint}",
            loc=("header", "content-type"),
        )
    return codec


def quality(entry: str) -> float:
    """The q parameter of one Accept or Accept-Encoding entry (1 when absent or unreadable)."""
    for parameter in entry.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0


def codec_for_accept(header: str | None) -> Codec:
    """The codec for a response, from the Accept header: the known type of highest quality (the
    first listed among equals), else JSON; errors are problem+json whatever the header says."""
    best: Codec = JSON
    best_quality = 0.0
    for entry in (header or "").split(","):
        codec = CODECS.get(media_type(entry))
        weight = quality(entry)
        if codec is not None and weight > best_quality:
            best, best_quality = codec, weight
    return best
