"""MessagePack bodies whose number arrays are plain arrays of float 64, read by numpy.

msgpack turns an array of a million floats into a million Python floats (32 bytes each with the
list slot, for 9 bytes on the wire) that `np.asarray` then reads back: 5.4x the body at its peak.
Every MessagePack library writes a float64 as the marker 0xcb and 8 big-endian bytes, so an array
of them is a record array that numpy can read in place (the mirror of `codecs.pack_float_array`).

`decode_number_arrays` walks the top-level map with msgpack's streaming Unpacker and, for the
named fields, looks at the bytes at the Unpacker's position: a (N,) array of float 64, or (N, K)
rows that each hold K of them, becomes a float64 numpy array and the Unpacker skips it; any other
value (ints, nulls, typed arrays, ragged rows) is unpacked by msgpack as usual, so the document
is the one `msgpack.unpackb` makes except for those arrays.
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


def _floats(body: memoryview, at: int, count: int) -> npt.NDArray[np.float64] | None:
    """`count` float 64 items from `at`, or None if any item is something else."""
    end = at + count * PACKED_FLOAT.itemsize
    if end > len(body):
        return None
    items = np.frombuffer(body[at:end], dtype=PACKED_FLOAT)
    if not np.all(items["marker"] == _FLOAT_MARKER):
        return None
    return items["value"].astype(np.float64)


def _number_array(body: memoryview, at: int) -> npt.NDArray[np.float64] | None:
    """The (N,) or (N, K) array of float 64 at `at`, or None."""
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
    return packed["items"]["value"].astype(np.float64)


class _Reader:
    """The body as a file for msgpack's Unpacker, read a piece at a time: fed the whole body,
    the Unpacker would copy it into its own buffer."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._at = 0

    def read(self, size: int) -> bytes:
        piece = bytes(self._view[self._at : self._at + size])
        self._at += len(piece)
        return piece


def decode_number_arrays(
    body: bytes | bytearray, fields: NumberArrays, *, max_keys: int = 0
) -> dict[str, Any] | None:
    """The MessagePack map in `body`, with the named fields' arrays of float 64 as float64
    numpy arrays; None when the body is not one map (msgpack.unpackb then explains). Raises what
    msgpack's Unpacker raises for a malformed body: the caller unpacks it again to explain."""
    with memoryview(body) as view:
        limits = {"max_map_len": max_keys} if max_keys else {}
        unpacker = msgpack.Unpacker(
            _Reader(view), raw=False, strict_map_key=True, max_buffer_size=len(body), **limits
        )
        if not 0x80 <= body[0] <= 0x8F and body[0] not in (0xDE, 0xDF):
            return None  # not a map
        count = unpacker.read_map_header()  # max_map_len does not reach this call
        if max_keys and count > max_keys:
            return None  # msgpack.unpackb refuses it, and says why
        document: dict[str, Any] = {}
        for _ in range(count):
            key = unpacker.unpack()
            if isinstance(key, str) and key in fields and fields[key] is None:
                array = _number_array(view, unpacker.tell())
                if array is not None:
                    unpacker.skip()
                    document[key] = array
                    continue
            document[key] = unpacker.unpack()
        if unpacker.tell() != len(body):
            return None  # extra data: msgpack.unpackb says so
        return document
