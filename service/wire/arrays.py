"""Array codecs: nested lists and typed arrays in, nested lists or typed arrays out.

In: a nested list of numbers (null read as NaN) becomes float64 through one `np.asarray` (or
arrives as float64 already, when the JSON codec parsed it with simdjson); a typed
array `{dtype, shape, data}` becomes a view of its bytes through `np.frombuffer`, after its byte
count is checked against dtype and shape. Sizes are known before any conversion, so the element
limit is applied before a single array is built (`inspect_array`, then `ArrayInput.to_numpy`).
Out: an array is left to the codec (orjson writes numpy natively, MessagePack through numpy) or
wrapped as a typed array whose data is base64 text (JSON) or a view of the array's bytes
(MessagePack), with no copy of the array before the codec writes it.
"""

from __future__ import annotations

import binascii
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pybase64

from .errors import ArrayFormatError, LimitError, TooManyElementsError, WireError
from .limits import show

__all__ = [
    "DTYPES",
    "ArrayEncoding",
    "ArrayInput",
    "check_element_limit",
    "check_group_keys",
    "document_arrays",
    "encode_array",
    "inspect_array",
    "inspect_keys",
]

ArrayEncoding = Literal["json", "base64"]

# Wire dtype names -> little-endian numpy dtypes: the bytes mean the same on every machine.
DTYPES: dict[str, np.dtype[Any]] = {
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
}
_TYPED_KEYS = frozenset(("dtype", "shape", "data"))


def _name(loc: tuple[str | int, ...]) -> str:
    """`predictions`, `regularization.weights`: the field as a client wrote it."""
    return ".".join(str(part) for part in loc[1:])


@dataclass(frozen=True)
class ArrayInput:
    """One array field as received, with its element count known before conversion."""

    loc: tuple[str | int, ...]
    value: Any
    size: int
    dtype: np.dtype[Any] | None = None  # set for typed arrays
    shape: tuple[int, ...] = ()
    keys: bool = False  # group_by: strings or integers, not floats

    def to_numpy(self) -> npt.NDArray[Any]:
        """The numpy array: float64 for lists of numbers, the declared dtype for typed arrays."""
        if self.dtype is not None:
            return self._from_typed()
        if isinstance(self.value, np.ndarray):
            return self.value
        if self.keys:
            return self._keys_from_list()
        try:
            array = np.asarray(self.value, dtype=np.float64)
        except (ValueError, TypeError) as error:
            message = _explain_list(self.value, _name(self.loc), error)
            raise ArrayFormatError(message, loc=self.loc) from None
        if array.ndim and not _only_numbers(self.value, array.ndim):
            not_numbers = ValueError("only numbers and null are numbers")
            message = _explain_list(self.value, _name(self.loc), not_numbers)
            raise ArrayFormatError(message, loc=self.loc)
        return array

    def _from_typed(self) -> npt.NDArray[Any]:
        assert self.dtype is not None
        name = _name(self.loc)
        data = self.value
        if isinstance(data, str):
            try:
                # pybase64: SIMD, ~20x binascii on megabytes (bench/README.md).
                raw: bytes | bytearray | memoryview = pybase64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as error:
                raise ArrayFormatError(
                    f"{name}.data is not valid base64 ({error}); expected standard base64 "
                    "(RFC 4648, with padding) of the array's little-endian bytes",
                    loc=(*self.loc, "data"),
                ) from None
        elif isinstance(data, bytes | bytearray | memoryview):
            raw = data
        else:
            raise ArrayFormatError(
                f"{name}.data is {type(data).__name__}; expected base64 text (or raw bytes in "
                "MessagePack)",
                loc=(*self.loc, "data"),
            )
        needed = self.size * self.dtype.itemsize
        if len(raw) != needed:
            raise ArrayFormatError(
                f"{name}.data holds {len(raw)} bytes, but dtype {self.dtype.name} and shape "
                f"{list(self.shape)} need {needed} ({self.size} x {self.dtype.itemsize})",
                loc=(*self.loc, "data"),
            )
        return np.frombuffer(raw, dtype=self.dtype).reshape(self.shape)

    def _keys_from_list(self) -> npt.NDArray[Any]:
        """Strings as an object array (no padding to the longest key, NULs kept), integers as
        int64; anything else, or a mix, is refused."""
        value = self.value
        kinds = set(map(type, value))
        if kinds == {str}:
            keys = np.empty(len(value), dtype=object)
            keys[:] = value
            return keys
        if kinds == {int}:
            try:
                return np.asarray(value, dtype=np.int64)
            except OverflowError:
                raise ArrayFormatError(
                    f"{_name(self.loc)} holds an integer beyond int64; expected keys that fit "
                    "in 64 bits, or strings",
                    loc=self.loc,
                ) from None
        if bool in kinds:
            problem = "holds true or false"
        elif str in kinds and kinds != {str}:
            problem = "mixes strings with other values"
        else:
            problem = "is not a flat list of strings or of integers"
        raise ArrayFormatError(
            f"{_name(self.loc)} {problem}; expected one key per sample, all strings or all "
            "integers",
            loc=self.loc,
        )


def _explain_list(value: Any, name: str, error: Exception) -> str:
    """Why a nested list is not a rectangular array of numbers, naming the first bad element."""
    if not isinstance(value, list):
        return f"{name} is {_kind(value)}; expected an array (nested lists of numbers)"
    row_length = len(value[0]) if value and isinstance(value[0], list) else None
    for i, row in enumerate(value):
        if row_length is None:
            if not _is_number(row):
                return f"{name}[{i}] = {_show(row)}; expected a number or null"
            continue
        if not isinstance(row, list) or len(row) != row_length:
            got = f"a row of {len(row)}" if isinstance(row, list) else _show(row)
            return (
                f"{name}[{i}] is {got}; expected a row of {row_length} like {name}[0] "
                "(rows must all have the same length)"
            )
        for j, item in enumerate(row):
            if not _is_number(item):
                return f"{name}[{i}][{j}] = {_show(item)}; expected a number or null"
    return f"{name} is not a rectangular array of numbers: {error}"


def _element_types(value: Any, ndim: int) -> set[type]:
    """The types of the elements of a nested list `ndim` deep, in one C-level pass."""
    items: Iterable[Any] = value
    for _ in range(ndim - 1):
        items = itertools.chain.from_iterable(items)
    return set(map(type, items))


_NUMBER_TYPES = frozenset({float, int, type(None)})


def _only_numbers(value: Any, ndim: int) -> bool:
    """Whether a nested list holds only numbers and null: numpy would also read true and false
    as 1 and 0 and a numeric string such as "0" as a number."""
    return _element_types(value, ndim) <= _NUMBER_TYPES


def _is_number(item: Any) -> bool:
    return item is None or (isinstance(item, int | float) and not isinstance(item, bool))


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__} ({_show(value)})"


def _show(value: Any) -> str:
    return show(value, 40)


def _list_size(value: list[Any]) -> int:
    """Elements of a rectangular nested list, from the first item at each depth: O(depth).

    A ragged list may be miscounted here; `np.asarray` refuses it right after.
    """
    size = 1
    item: Any = value
    while isinstance(item, list):
        size *= len(item)
        if not item:
            break
        item = item[0]
    return size


def _list_depth(value: list[Any]) -> int:
    """How deep a nested list goes along its first items (a ragged list is refused later)."""
    depth = 0
    item: Any = value
    while isinstance(item, list):
        depth += 1
        if not item:
            break
        item = item[0]
    return depth


def _too_many_dimensions(name: str, ndim: int, limit: int, loc: tuple[str | int, ...]) -> None:
    if ndim > limit:
        raise LimitError(
            f"{name} has {ndim} dimensions; the limit is {limit} (max_dimensions)", loc=loc
        )


def inspect_array(
    value: Any, loc: tuple[str | int, ...], *, keys: bool = False, max_dimensions: int = 8
) -> ArrayInput:
    """Check an array field's form and count its elements, without converting it.

    keys: the field holds group keys (strings or integers), not numbers. max_dimensions: the
    most dimensions the array may have (a LimitError past it).
    """
    if isinstance(value, list):
        _too_many_dimensions(_name(loc), _list_depth(value), max_dimensions, loc)
        return ArrayInput(loc, value, _list_size(value), keys=keys)
    if isinstance(value, np.ndarray):
        # Numbers a codec already read as float64 (fastjson, fastmsgpack, Arrow), or keys that
        # an Arrow column already held as int64 or Python strings.
        return ArrayInput(loc, value, value.size, keys=keys)
    name = _name(loc)
    if isinstance(value, dict):
        typed = _inspect_typed(value, loc, name, keys=keys)
        _too_many_dimensions(name, len(typed.shape), max_dimensions, (*loc, "shape"))
        return typed
    if value is None:
        raise ArrayFormatError(f"{name} is null; expected an array", loc=loc)
    # A bare number too: the spec documents arrays only (a scalar `weights` would pass the core).
    raise ArrayFormatError(
        f"{name} is {_kind(value)}; expected an array (nested lists or a typed array)", loc=loc
    )


def _inspect_typed(
    value: dict[str, Any], loc: tuple[str | int, ...], name: str, *, keys: bool
) -> ArrayInput:
    missing = sorted(_TYPED_KEYS - value.keys())
    extra = sorted(value.keys() - _TYPED_KEYS)
    if missing or extra:
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(extra)}"
        raise ArrayFormatError(
            f"{name} is an object that {problem}; a typed array is exactly {{dtype, shape, data}}",
            loc=loc,
        )
    dtype_name = value["dtype"]
    allowed = ("int32", "int64") if keys else tuple(DTYPES)
    if dtype_name not in allowed:
        raise ArrayFormatError(
            f"{name}.dtype = {_show(dtype_name)}; expected one of: {', '.join(allowed)}",
            loc=(*loc, "dtype"),
        )
    shape = value["shape"]
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise ArrayFormatError(
            f"{name}.shape = {_show(shape)}; expected a list of integers >= 0",
            loc=(*loc, "shape"),
        )
    return ArrayInput(
        loc, value["data"], math.prod(shape), dtype=DTYPES[dtype_name], shape=tuple(shape)
    )


def inspect_keys(value: Any, loc: tuple[str | int, ...]) -> ArrayInput:
    """`inspect_array` for group keys: strings or integers, or an int32/int64 typed array."""
    return inspect_array(value, loc, keys=True)


def check_group_keys(
    keys: npt.NDArray[Any], loc: tuple[str | int, ...], *, max_groups: int, max_length: int
) -> None:
    """Refuse group keys longer than `max_length` characters, or more than `max_groups` distinct
    keys; one C-level pass each (a set of the keys, a map of len)."""
    name = _name(loc)
    if keys.dtype == object:
        longest = max(map(len, keys), default=0)
        if longest > max_length:
            position = next(i for i, key in enumerate(keys) if len(key) == longest)
            raise LimitError(
                f"{name}[{position}] is a key of {longest} characters; the limit is "
                f"{max_length} (max_group_key_length)",
                loc=(*loc, position),
            )
        distinct = len(set(keys))
    else:
        distinct = len(np.unique(keys))
    if distinct > max_groups:
        raise LimitError(
            f"{name} holds {distinct} distinct keys; the limit is {max_groups} (max_groups)",
            loc=loc,
        )


def document_arrays(document: dict[str, Any]) -> list[ArrayInput]:
    """Every array of a decoded request, sized before validation turns a parameter's items into
    Python floats: the array fields (as `inspect_array` will count them once validated; 0 where
    one is not an array, which validation explains later) and every list in a parameter
    (class_weight, in the request or in each term of an evaluate request's `losses`)."""
    fields: list[tuple[tuple[str | int, ...], Any]] = [
        (("body", name), document.get(name)) for name in _ARRAY_FIELDS[:4]
    ]
    regularization = document.get("regularization")
    if isinstance(regularization, dict):
        fields.append((("body", "regularization", "weights"), regularization.get("weights")))
    found = []
    for loc, value in fields:
        if value is None:  # absent, or null: validation says which is wrong
            found.append(ArrayInput(loc, None, 0))
            continue
        try:
            found.append(ArrayInput(loc, None, inspect_array(value, loc).size))
        except WireError:
            found.append(ArrayInput(loc, None, 0))
    scopes: list[tuple[tuple[str | int, ...], Any]] = [(("body",), document)]
    losses = document.get("losses")
    if isinstance(losses, list):
        scopes += [(("body", "losses", i), term) for i, term in enumerate(losses)]
    for loc, scope in scopes:
        for key, value in scope.items() if isinstance(scope, dict) else ():
            if isinstance(value, list) and key not in _ARRAY_FIELDS:
                # Parameters are 1-D: the items, and those of any list one level down.
                size = len(value) + sum(len(item) for item in value if isinstance(item, list))
                found.append(ArrayInput((*loc, key), value, size))
    return found


_ARRAY_FIELDS = ("predictions", "targets", "sample_weight", "group_by", "losses")


def check_element_limit(arrays: Sequence[ArrayInput], limit: int) -> None:
    """Refuse a request whose arrays hold more than `limit` elements in all, before converting;
    an empty typed array with an extent past the limit too (numpy could not make it)."""
    for array in arrays:
        if array.shape and max(array.shape) > limit:
            raise TooManyElementsError(
                f"{_name(array.loc)}.shape = {_show(list(array.shape))} has an extent past the "
                f"limit of {limit} elements per request"
            )
    total = sum(array.size for array in arrays)
    if total > limit:
        sizes = ", ".join(f"{_name(array.loc)}: {array.size}" for array in arrays)
        raise TooManyElementsError(
            f"the request holds {total} array elements ({sizes}); the limit is {limit} per "
            "request: split the batch"
        )


def encode_array(array: npt.NDArray[Any], encoding: ArrayEncoding, *, binary: bool) -> Any:
    """An array for a response document: the array itself (the codec writes nested lists), or a
    typed array `{dtype, shape, data}` with base64 text (`binary=False`) or a read-only view of
    the little-endian float64 bytes (`binary=True`: the codec copies them once, into its output).
    """
    contiguous = np.ascontiguousarray(array, dtype=DTYPES["float64"])
    if encoding == "json":
        return contiguous
    raw = contiguous.data.cast("B").toreadonly()
    return {
        "dtype": "float64",
        "shape": list(contiguous.shape),
        "data": raw if binary else pybase64.b64encode_as_string(raw),
    }
