"""MessagePack bodies whose number arrays numpy reads: plain arrays of float 64, typed arrays.

msgpack turns an array of a million floats into a million Python floats (32 bytes each with the
list slot, for 9 bytes on the wire) that `np.asarray` then reads back: 5.4x the body at its peak.
Every MessagePack library writes a float64 as the marker 0xcb and 8 big-endian bytes, so an array
of them is a record array that numpy can read in place (the mirror of `codecs.pack_float_array`).

`decode_number_arrays` walks the top-level map with msgpack's streaming Unpacker and, for the
named fields, looks at the bytes at the Unpacker's position: a (N,) array of float 64, or (N, K)
rows that each hold K of them, becomes a float64 numpy array; a typed array's bin is copied
once, straight from the body. A new Unpacker starts after either, so msgpack never reads
them. Any other value (ints, nulls, ragged rows) is unpacked by msgpack as usual, so the
document is the one `msgpack.unpackb` makes except for those arrays.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import numpy.typing as npt

from .fastjson import NumberArrays

__all__ = ["PACKED_FLOAT", "decode_number_arrays"]

# One MessagePack float 64: the 0xcb marker, then the big-endian IEEE 754 double (the codec
# writes arrays of them with the same dtype).
PACKED_FLOAT = np.dtype([("marker", "u1"), ("value", ">f8")])
_FLOAT_MARKER = 0xCB
# Below this many values an array is left to msgpack: the numpy views cost more.
_MIN_VALUES = 1024


def _array_header(body: memoryview, at: int) -> tuple[int, int] | None:
    """(items, header bytes) of the MessagePack array starting at `at`, or None."""
    if at >= len(body):
        return None
    first = body[at]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F, 1
    if first == 0xDC and at + 3 <= len(body):
        return int.from_bytes(body[at + 1 : at + 3], "big"), 3
    if first == 0xDD and at + 5 <= len(body):
        return int.from_bytes(body[at + 1 : at + 5], "big"), 5
    return None


def _floats(body: memoryview, at: int, count: int) -> tuple[npt.NDArray[np.float64], int] | None:
    """`count` float 64 items from `at`, and where they end; None if any item is something
    else."""
    end = at + count * PACKED_FLOAT.itemsize
    if end > len(body):
        return None
    items = np.frombuffer(body[at:end], dtype=PACKED_FLOAT)
    if not np.all(items["marker"] == _FLOAT_MARKER):
        return None
    return items["value"].astype(np.float64), end


def _number_array(body: memoryview, at: int) -> tuple[npt.NDArray[np.float64], int] | None:
    """The (N,) or (N, K) array of float 64 at `at`, and where it ends; or None."""
    header = _array_header(body, at)
    if header is None or header[0] == 0:
        return None
    rows, size = header
    start = at + size
    if body[start] == _FLOAT_MARKER:
        if rows < _MIN_VALUES:
            return None
        return _floats(body, start, rows)
    row = _array_header(body, start)
    if row is None or row[0] == 0 or rows * row[0] < _MIN_VALUES:
        return None
    columns, row_header = row
    # Every row alike: (its header, K floats) as one record of a structured array.
    header_bytes = bytes(body[start : start + row_header])
    record = np.dtype([("header", "u1", (row_header,)), ("items", PACKED_FLOAT, (columns,))])
    end = start + rows * record.itemsize
    if end > len(body):
        return None
    packed = np.frombuffer(body[start:end], dtype=record)
    expected = np.frombuffer(header_bytes, dtype=np.uint8)
    if not (
        np.all(packed["header"] == expected) and np.all(packed["items"]["marker"] == _FLOAT_MARKER)
    ):
        return None
    return packed["items"]["value"].astype(np.float64), end


# A bin's marker, then its length in 1, 2 or 4 big-endian bytes.
_BIN_LENGTH_BYTES = {0xC4: 1, 0xC5: 2, 0xC6: 4}


def _bin_span(body: memoryview, at: int) -> tuple[int, int] | None:
    """(start, end) of the bytes of the bin at `at`, or None if there is no whole bin there."""
    width = _BIN_LENGTH_BYTES.get(body[at]) if at < len(body) else None
    if width is None or at + 1 + width > len(body):
        return None
    start = at + 1 + width
    end = start + int.from_bytes(body[at + 1 : start], "big")
    return (start, end) if end <= len(body) else None


def _typed_array(body: memoryview, at: int) -> tuple[dict[str, Any], int] | None:
    """The typed array map at `at` ({dtype, shape, data}), and where it ends; or None if there
    is no small map there. Its bin is copied once, straight from the body, into a bytearray:
    through the Unpacker it would be copied three times (the reader, the Unpacker's buffer, the
    bytes)."""
    if not 0x80 <= body[at] <= 0x8F:
        return None
    base = at
    unpacker = _unpacker(body, base)
    typed: dict[str, Any] = {}
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        span = _bin_span(body, base + unpacker.tell()) if key == "data" else None
        if span is None:
            typed[key] = unpacker.unpack()
            continue
        typed[key] = bytearray(body[span[0] : span[1]])  # an array may own it, writable
        base = span[1]
        unpacker = _unpacker(body, base)
    return typed, base + unpacker.tell()


class _Reader:
    """The body from `at` on, as a file for msgpack's Unpacker, read a piece at a time: fed the
    whole body, the Unpacker would copy it into its own buffer."""

    def __init__(self, view: memoryview, at: int) -> None:
        self._view = view
        self._at = at

    def read(self, size: int) -> bytes:
        piece = bytes(self._view[self._at : self._at + size])
        self._at += len(piece)
        return piece


def _unpacker(body: memoryview, at: int, max_keys: int = 0) -> msgpack.Unpacker:
    """msgpack's streaming Unpacker over the body from `at`; its tell() counts from `at`."""
    limits = {"max_map_len": max_keys} if max_keys else {}
    return msgpack.Unpacker(
        _Reader(body, at), raw=False, strict_map_key=True, max_buffer_size=len(body), **limits
    )


def decode_number_arrays(
    body: bytes | bytearray, fields: NumberArrays, *, max_keys: int = 0
) -> dict[str, Any] | None:
    """The MessagePack map in `body`, with the named fields' arrays of float 64 as float64
    numpy arrays; None when the body is not one map (msgpack.unpackb then explains). Raises what
    msgpack's Unpacker raises for a malformed body: the caller unpacks it again to explain.

    A named field read here (a number array, or a typed array's bin) is not read by the
    Unpacker at all: a new one starts after it."""
    with memoryview(body) as view:
        if not 0x80 <= body[0] <= 0x8F and body[0] not in (0xDE, 0xDF):
            return None  # not a map
        base = 0
        unpacker = _unpacker(view, base, max_keys)
        count = unpacker.read_map_header()  # max_map_len does not reach this call
        if max_keys and count > max_keys:
            return None  # msgpack.unpackb refuses it, and says why
        document: dict[str, Any] = {}
        for _ in range(count):
            key = unpacker.unpack()
            if isinstance(key, str) and key in fields and fields[key] is None:
                at = base + unpacker.tell()
                found = _number_array(view, at) or _typed_array(view, at)
                if found is not None:
                    document[key], base = found
                    unpacker = _unpacker(view, base, max_keys)
                    continue
            document[key] = unpacker.unpack()
        if base + unpacker.tell() != len(body):
            return None  # extra data: msgpack.unpackb says so
        return document
