"""JSON bodies with large number arrays, parsed by simdjson straight into float64 arrays.

orjson turns a list of a million numbers into a million Python floats (24 bytes each, plus an
8-byte list slot) that `np.asarray` then reads back; simdjson parses the text into its tape and
`Array.as_buffer` copies the numbers out as doubles, so no Python float is ever made: faster
than orjson + `np.asarray` on large bodies, in about half the memory (bench/README.md).

`decode_number_arrays` is an optimisation only: it returns the document orjson would have made,
except that the named fields that hold rectangular arrays of numbers, 1 or 2 deep, are float64
arrays. It returns None for the bodies it leaves to orjson, which owns every error message:

- anything simdjson refuses or parses differently from orjson: invalid JSON, a byte order mark,
  numbers beyond float64 or int64, a top level that is not an object;
- more numbers than `max_numbers`, counted from the commas before anything is parsed, so that a
  body of "0,0,0,..." cannot make simdjson's tape (16 bytes a number) outgrow the element limit.

Where it cannot vouch for the arrays, the fields stay the Python lists orjson would have made:

- a key given twice where it looks keys up (simdjson finds the first, orjson keeps the last);
- a nested shape it cannot see: `as_buffer` flattens nested arrays, so `[1, [2]]` would read as
  `[1, 2]`. Every "[" in the body must be accounted for: one per 1-deep array, one per row plus
  one for a 2-deep array whose rows are all arrays of the first row's length, and one per list
  in the rest of the document, whose strings must hold no "[" at all. Any other count means a
  deeper array somewhere, and the lists keep the exact shape for the list path to judge.

The parser is created per call and dropped with the document: a parser keeps its input copy and
tape at the size of the largest document it has seen, which would hold ~2.5 times the largest
body in every worker for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import simdjson

from .errors import LimitError

__all__ = ["FAST_JSON_MIN_BYTES", "PLAIN", "Decoding", "NumberArrays", "decode_number_arrays"]

# Below this, orjson is as fast and simpler: the proxies cost more than a few Python floats.
FAST_JSON_MIN_BYTES = 64 * 1024

# The fields to read as arrays of numbers: a name, or a name with the fields inside it.
NumberArrays = Mapping[str, "NumberArrays | None"]


@dataclass(frozen=True)
class Decoding:
    """How a codec reads a request body.

    number_arrays: fields the codec may hand back as float64 numpy arrays when they hold
    rectangular arrays of numbers (JSON through simdjson and MessagePack's plain arrays of float
    64, in large bodies); max_numbers: the element limit, above which the codec must not build
    them (0: none); max_keys: keys per object (0: no limit), refused while parsing where the
    parser can, else by `limits.check_document`.
    """

    number_arrays: NumberArrays | None = None
    max_numbers: int = 0
    max_keys: int = 0


PLAIN = Decoding()


_OPEN = ord("[")
_COMMA = ord(",")
_SCAN_STEP = 1 << 18  # bytes compared per step when counting brackets and commas
_MAX_DEPTH = 64  # the rest of a request is shallow; deeper documents go to orjson
_MAX_KEYS = 64  # a request object has a few dozen fields; more go to orjson
_NUMBER_TYPES = frozenset({int, float})
_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
_OTHER = object()  # a field that is not one of the number arrays


def _count_brackets_and_commas(body: bytes | bytearray) -> tuple[int, int]:
    """The "[" and "," bytes of the body, counted a step at a time with numpy, with no
    body-sized temporary."""
    view = np.frombuffer(body, dtype=np.uint8)
    scratch = np.empty(min(_SCAN_STEP, len(view)), dtype=np.bool_)
    brackets = commas = 0
    for start in range(0, len(view), _SCAN_STEP):
        chunk = view[start : start + _SCAN_STEP]
        matches = scratch[: len(chunk)]
        np.equal(chunk, _OPEN, out=matches)
        brackets += int(np.count_nonzero(matches))
        np.equal(chunk, _COMMA, out=matches)
        commas += int(np.count_nonzero(matches))
    return brackets, commas


class _Unsure(Exception):
    """The fast path cannot vouch for this body."""


def decode_number_arrays(
    body: bytes | bytearray, fields: NumberArrays, *, max_numbers: int, max_keys: int = 0
) -> dict[str, Any] | None:
    """The JSON object in `body` with `fields` holding number arrays as float64 numpy arrays
    ((N,) or (N, K)); None when orjson should decode the body instead (see the module doc).

    A bytearray body is cleared once simdjson has parsed its own copy, so that the request does
    not hold the text twice while the arrays are built; from then on the answer is never None:
    where the arrays cannot be vouched for, the whole document is converted as orjson would
    have made it (after a successful parse, simdjson's values are orjson's).
    """
    if body[:3] == b"\xef\xbb\xbf":
        return None
    brackets, commas = _count_brackets_and_commas(body)
    if commas > max_numbers + 1024:
        return None
    try:
        root = simdjson.Parser().parse(body)
    except (ValueError, RuntimeError, TypeError):  # simdjson refused it: orjson explains
        return None
    if not isinstance(root, simdjson.Object):
        return None
    if isinstance(body, bytearray):
        body.clear()
    try:
        document, expected = _object(root, fields, depth=0, max_keys=max_keys)
        if expected == brackets:
            return document
    except _Unsure:
        pass
    converted: dict[str, Any] = root.as_dict()
    return converted


def _object(
    node: Any, fields: NumberArrays, *, depth: int, max_keys: int
) -> tuple[dict[str, Any], int]:
    """An object's fields as Python values, and the "[" its text holds if no array in it is
    deeper than it looks. An object of more than `max_keys` keys (0: no limit) is refused here,
    from simdjson's tape, before a Python object is made for any of them."""
    if max_keys and len(node) > max_keys:
        raise LimitError(
            f"the body holds an object of {len(node)} keys; the limit is {max_keys} "
            "(max_object_keys)"
        )
    keys = list(node.keys())
    # node[key] looks a key up linearly: many keys are left to orjson, which is linear in them.
    if len(keys) > _MAX_KEYS or len(set(keys)) != len(keys) or any("[" in key for key in keys):
        raise _Unsure
    document: dict[str, Any] = {}
    brackets = 0
    for key in keys:
        value = node[key]
        inner = fields.get(key, _OTHER)
        if inner is None and isinstance(value, simdjson.Array):
            array = _number_array(value)
            if array is not None:
                document[key], opened = array
                brackets += opened
                continue
        if isinstance(inner, Mapping) and isinstance(value, simdjson.Object):
            document[key], opened = _object(value, inner, depth=depth + 1, max_keys=max_keys)
            brackets += opened
            continue
        document[key] = _python(value)
        brackets += _lists_in(document[key], depth + 1)
    return document, brackets


def _number_array(node: Any) -> tuple[np.ndarray[Any, Any], int] | None:
    """A (N,) or (N, K) array of numbers as float64, with the "[" it opens; None when the array
    holds anything else (null, true, strings, objects, ragged or deeper rows)."""
    rows = len(node)
    if rows == 0:
        return None
    first = node[0]
    if type(first) in _NUMBER_TYPES:
        shape: tuple[int, ...] = (rows,)
        opened = 1
    elif isinstance(first, simdjson.Array):
        columns = len(first)
        if columns == 0 or not all(
            isinstance(row, simdjson.Array) and len(row) == columns for row in node
        ):
            return None
        shape = (rows, columns)
        opened = 1 + rows
    else:
        return None
    try:
        values = np.frombuffer(node.as_buffer(of_type="d"), dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):  # null, true or a string among the numbers
        return None
    if values.size != rows * (shape[1] if len(shape) == 2 else 1):
        return None
    return values.reshape(shape), opened


def _python(value: Any) -> Any:
    """A simdjson value as the Python value orjson would have made."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _lists_in(value: Any, depth: int) -> int:
    """The lists in a decoded value (each opened one "["); _Unsure if a string holds "[" or the
    value is deeper than a request's small fields ever are."""
    if depth > _MAX_DEPTH:
        raise _Unsure
    if isinstance(value, str):
        if "[" in value:
            raise _Unsure
        return 0
    if isinstance(value, list):
        kinds = set(map(type, value))
        if kinds <= _SCALAR_TYPES:
            return 1
        if kinds == {str}:
            if any("[" in item for item in value):
                raise _Unsure
            return 1
        return 1 + sum(_lists_in(item, depth + 1) for item in value)
    if isinstance(value, dict):
        if any("[" in key for key in value):
            raise _Unsure
        return sum(_lists_in(item, depth + 1) for item in value.values())
    return 0
