"""Arrow IPC stream bodies: a table whose columns are the request's array fields.

`predictions`, `targets` and `sample_weight` are numeric columns, or list / fixed-size-list
columns for (N, K) arrays; `group_by` is a string (plain or dictionary-encoded) or integer
column. The other fields of the request travel as query parameters, which the API merges in.
The column buffers are views of the body (no copy for float64 without nulls); elements are
counted from the table's row count and list widths before any array is converted. pyarrow is
imported on the first Arrow request: a worker that never gets one does not pay its ~35 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pyarrow as pa

from .errors import ArrayFormatError, LimitError, MalformedBodyError, TooManyElementsError
from .fastjson import PLAIN, Decoding

__all__ = ["ARROW", "ARROW_STREAM", "ArrowCodec", "is_list_type", "is_number_type", "numbers_of"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
_NUMBER_COLUMNS = ("predictions", "targets", "sample_weight")
_COLUMNS = (*_NUMBER_COLUMNS, "group_by")
# Each record batch costs its metadata whatever its rows: a stream of a million one-row batches
# would cost far more than its body.
MAX_BATCHES = 4096


def is_list_type(kind: pa.DataType) -> bool:
    """A list, large list or fixed-size list: an (N, K) array's column."""
    import pyarrow as pa

    return bool(
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    )


def is_number_type(kind: pa.DataType) -> bool:
    """Integers, floats, booleans, or all nulls (NaN, as null is in a JSON array)."""
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def _width(column: pa.ChunkedArray) -> int:
    """K of a list column (each row's length; rows of another length are refused later)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_fixed_size_list(kind):
        return int(kind.list_size)
    for chunk in column.chunks:
        if len(chunk):
            return int(pc.list_value_length(chunk[:1]).to_numpy(zero_copy_only=False)[0] or 0)
    return 0


def _as_float(array: pa.Array) -> npt.NDArray[np.float64]:
    """A numeric array as float64, nulls as NaN (no copy for float64 without nulls)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.null_count and not pa.types.is_floating(array.type):
        array = pc.cast(array, pa.float64())
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def numbers_of(name: str, column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """A numeric column as a float64 (N,) array, or a list column as (N, K); nulls are NaN.
    Raises ArrayFormatError naming the column: a type that is not numbers, a null row or rows
    of different lengths in a list column (`loc` then ends with the row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if not is_number_type(kind.value_type if is_list_type(kind) else kind):
        raise ArrayFormatError(
            f"column {name} has type {kind}; expected numbers, or a list of numbers for (N, K)",
            loc=("body", name),
        )
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not is_list_type(kind):
        return _as_float(array)
    if array.null_count:
        raise ArrayFormatError(
            f"column {name} holds a null row; expected a list", loc=("body", name)
        )
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    width = int(lengths[0]) if len(lengths) else 0
    if (lengths != width).any():
        row = int(np.argmax(lengths != width))
        raise ArrayFormatError(
            f"column {name}[{row}] holds {int(lengths[row])} values; expected {width} as the "
            "first row holds (rows must all have the same length)",
            loc=("body", name, row),
        )
    return _as_float(pc.list_flatten(array)).reshape(len(array), width)


def _keys(column: pa.ChunkedArray) -> npt.NDArray[Any]:
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if column.null_count:
        raise ArrayFormatError(
            "column group_by holds nulls; expected a key per row", loc=("body", "group_by")
        )
    if pa.types.is_integer(kind):
        return np.asarray(column.to_numpy(), dtype=np.int64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        keys = np.empty(len(column), dtype=object)
        keys[:] = column.to_pylist()
        return keys
    raise ArrayFormatError(
        f"column group_by has type {kind}; expected strings or integers", loc=("body", "group_by")
    )


@dataclass(frozen=True)
class ArrowCodec:
    """Arrow IPC stream requests (responses stay JSON or MessagePack, as Accept asks)."""

    media_type: str = ARROW_STREAM
    binary: bool = True

    def decode(self, body: bytes | bytearray, decoding: Decoding = PLAIN) -> Any:
        import pyarrow as pa

        try:
            reader = pa.ipc.open_stream(pa.py_buffer(body))
            batches = []
            for batch in reader:
                batches.append(batch)
                if len(batches) > MAX_BATCHES:
                    raise LimitError(
                        f"the Arrow stream holds more than {MAX_BATCHES} record batches; send "
                        "the table in fewer, larger batches"
                    )
            table = pa.Table.from_batches(batches, schema=reader.schema)
        except (pa.ArrowException, OSError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
            raise MalformedBodyError(
                f"the body is not a valid Arrow IPC stream: {reason}"
            ) from None
        unknown = [name for name in table.column_names if name not in _COLUMNS]
        if unknown:
            raise ArrayFormatError(
                f"column {unknown[0]!r} is not an array field; the columns are "
                f"{', '.join(_COLUMNS)} (the other fields go in the query string)",
                loc=("body", unknown[0]),
            )
        counts = {
            name: table.num_rows
            * (_width(table.column(name)) if is_list_type(table.column(name).type) else 1)
            for name in table.column_names
        }
        max_numbers = decoding.max_numbers
        if max_numbers and sum(counts.values()) > max_numbers:
            sizes = ", ".join(f"{name}: {count}" for name, count in counts.items())
            raise TooManyElementsError(
                f"the request holds {sum(counts.values())} array elements ({sizes}); the limit "
                f"is {max_numbers} per request: split the batch"
            )
        document: dict[str, Any] = {}
        for name in table.column_names:
            column = table.column(name)
            document[name] = _keys(column) if name == "group_by" else numbers_of(name, column)
        return document

    def encode(self, document: Any) -> bytes:
        raise NotImplementedError("responses are JSON or MessagePack")


ARROW = ArrowCodec()
