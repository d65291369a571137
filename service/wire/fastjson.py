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

A body of SPLIT_MIN_BYTES or more has its top-level number arrays parsed one at a time, each from
its own span of the text, and the rest of the document (the arrays' text replaced by null, a few
bytes) by orjson. simdjson copies what it parses (pysimdjson always asks for a padded copy) and
adds a tape of 16 bytes a number: parsed whole, the body, its copy and the whole tape were alive
at once, the request's peak. The spans come from one scan for the structural bytes outside
strings, on bodies whose strings hold no backslash; anything else, or anything the parts do not
vouch for, goes the whole-document way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import simdjson

from .errors import LimitError

__all__ = [
    "FAST_JSON_MIN_BYTES",
    "PLAIN",
    "SPLIT_MIN_BYTES",
    "Decoding",
    "NumberArrays",
    "decode_number_arrays",
]

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
SPLIT_MIN_BYTES = 4 * 2**20
_NUMBERS_DENSITY = 64  # bytes per comma, at most, in a body worth splitting
_REST_MAX_BYTES = 64 * 1024  # the document around the arrays: small fields only
_QUOTE, _COLON, _BACKSLASH = ord('"'), ord(":"), ord("\\")
_CLOSE, _OPEN_OBJECT, _CLOSE_OBJECT = ord("]"), ord("{"), ord("}")
# The structural bytes the spans are found from, and the backslash that makes a body unsure.
_MARKS = np.zeros(256, dtype=np.bool_)
_MARKS[[_QUOTE, _COLON, _OPEN, _BACKSLASH, _CLOSE, _OPEN_OBJECT, _CLOSE_OBJECT]] = True
_DIGIT_9 = ord("9")  # every mark but the quote is above it; in a number only "e" and "E" are


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
    # Split only a body that is mostly numbers (a comma every few dozen bytes): there the tape is
    # as large as the text; a body of typed arrays or strings makes a small tape.
    if len(body) >= SPLIT_MIN_BYTES and commas * _NUMBERS_DENSITY >= len(body):
        split = _split(body, fields)
        if split is not None:
            return split
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


def _marks(body: bytes | bytearray) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """The positions and bytes of the structural marks (quote, colon, brackets, braces) of the
    body, a step at a time; None when it holds a backslash (its strings may hide a quote)."""
    view = np.frombuffer(body, dtype=np.uint8)
    above = np.empty(min(_SCAN_STEP, len(view)), dtype=np.bool_)
    quote = np.empty_like(above)
    found = []
    for start in range(0, len(view), _SCAN_STEP):
        chunk = view[start : start + _SCAN_STEP]
        hits, quotes = above[: len(chunk)], quote[: len(chunk)]
        # Two comparisons, not seven: in the numbers that fill the body, only "e" and "E" pass.
        np.greater(chunk, _DIGIT_9, out=hits)
        np.equal(chunk, _QUOTE, out=quotes)
        np.logical_or(hits, quotes, out=hits)
        candidates = np.flatnonzero(hits)
        found.append(candidates[_MARKS[chunk[candidates]]] + start)
    positions = np.concatenate(found) if found else np.empty(0, dtype=np.intp)
    kinds = view[positions]
    if np.any(kinds == _BACKSLASH):
        return None
    return positions, kinds


def _top_level_spans(
    body: bytes | bytearray, names: set[str]
) -> tuple[dict[str, tuple[int, int]], np.ndarray[Any, Any]] | None:
    """Where the top-level fields `names` hold arrays: their spans [start, end) of the text, and
    the positions of the "[" outside strings; None when unsure."""
    marked = _marks(body)
    if marked is None:
        return None
    positions, kinds = marked
    quotes = positions[kinds == _QUOTE]
    if len(quotes) % 2:
        return None
    # Outside strings: an even number of quotes before (no backslash, so every quote counts).
    others = kinds != _QUOTE
    outside = (np.searchsorted(quotes, positions[others]) % 2) == 0
    structural, structural_kinds = positions[others][outside], kinds[others][outside]
    if len(structural) == 0 or structural_kinds[0] != _OPEN_OBJECT:
        return None
    opening = (structural_kinds == _OPEN) | (structural_kinds == _OPEN_OBJECT)
    closing = (structural_kinds == _CLOSE) | (structural_kinds == _CLOSE_OBJECT)
    depth = np.cumsum(opening.astype(np.int64) - closing.astype(np.int64))
    spans: dict[str, tuple[int, int]] = {}
    seen: set[bytes] = set()
    for start, end in quotes.reshape(-1, 2).tolist():
        at = int(np.searchsorted(structural, start)) - 1
        if at < 0 or depth[at] != 1:
            continue  # inside a nested value
        after = at + 1
        if after >= len(structural) or structural_kinds[after] != _COLON:
            continue  # a string value, not a key
        colon = int(structural[after])
        if body[end + 1 : colon].strip():
            continue  # a string value, then more before the next key's colon
        key = bytes(body[start + 1 : end])
        if key in seen:
            return None  # orjson keeps the last of a key given twice: its way
        seen.add(key)
        name = key.decode("utf-8", "replace")
        if name not in names or after + 1 >= len(structural):
            continue
        value = after + 1
        if structural_kinds[value] != _OPEN or body[colon + 1 : int(structural[value])].strip():
            continue
        back = np.flatnonzero(depth[value:] == 1)
        if len(back) == 0 or structural_kinds[value + back[0]] != _CLOSE:
            return None
        spans[name] = (int(structural[value]), int(structural[value + back[0]]) + 1)
    return spans, structural[structural_kinds == _OPEN]


def _split(body: bytes | bytearray, fields: NumberArrays) -> dict[str, Any] | None:
    """The document with its top-level number arrays parsed one at a time (see the module doc);
    None when the parts cannot vouch for it, the body untouched."""
    names = {name for name, inner in fields.items() if inner is None}
    found = _top_level_spans(body, names)
    if not found or not found[0]:
        return None
    spans, opens = found
    if len(body) - sum(end - start for start, end in spans.values()) > _REST_MAX_BYTES:
        return None
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for name, (start, end) in sorted(spans.items(), key=lambda item: item[1][0] - item[1][1]):
        with memoryview(body) as whole, whole[start:end] as text:
            try:
                root = simdjson.Parser().parse(text)
            except (ValueError, RuntimeError, TypeError):
                return None
            parsed = _number_array(root) if isinstance(root, simdjson.Array) else None
            del root
        opened = int(np.count_nonzero((opens >= start) & (opens < end)))
        if parsed is None or parsed[1] != opened:
            return None  # not a rectangular array of numbers: the whole way decides
        arrays[name] = parsed[0]
    rest = bytearray()
    position = 0
    for start, end in sorted(spans.values()):
        rest += body[position:start]
        rest += b"null"
        position = end
    rest += body[position:]
    try:
        document = orjson.loads(rest)
    except orjson.JSONDecodeError:
        return None  # orjson explains, on the whole body
    if not isinstance(document, dict) or any(
        document.get(name, _OTHER) is not None for name in spans
    ):
        return None
    document.update(arrays)
    if isinstance(body, bytearray):
        body.clear()
    return document


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
