"""From a record batch to the core's inputs: the named columns as numpy arrays, and the group
columns as one integer code per row.

(N, K) inputs come from one list or fixed-size-list column, or from a list of K numeric columns.
Nulls in a numeric column are NaN (as `null` is in a JSON array), so `nan_policy` decides. A
segment is a distinct combination of the group columns' values: each column is dictionary-encoded,
and the codes combine into one int64 per row, which the core groups by; `GroupKeys` turns a code
back into its `{column: value}` key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DatasetError

__all__ = [
    "ColumnSpec",
    "GroupKeys",
    "check_columns",
    "group_codes",
    "numeric_array",
    "numeric_columns",
    "required_columns",
]

Columns = str | Sequence[str]


@dataclass(frozen=True)
class ColumnSpec:
    """Which columns feed the core: predictions and targets (one column, or K columns),
    sample weights, and the group columns."""

    predictions: Columns
    targets: Columns
    sample_weight: str | None = None
    group_by: tuple[str, ...] = ()


def _names(columns: Columns) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def required_columns(spec: ColumnSpec) -> list[str]:
    """Every column the scoring reads, each once, in order."""
    return list(dict.fromkeys([*numeric_columns(spec), *spec.group_by]))


def numeric_columns(spec: ColumnSpec) -> list[str]:
    """The columns read as numbers: predictions, targets and sample weights."""
    names = [*_names(spec.predictions), *_names(spec.targets)]
    if spec.sample_weight is not None:
        names.append(spec.sample_weight)
    return names


def check_columns(schema: pa.Schema, spec: ColumnSpec) -> None:
    """A column of a type the core cannot read names its type (the sources have made sure that
    every column is there)."""
    for name in numeric_columns(spec):
        kind = schema.field(name).type
        inner = kind.value_type if _is_list_type(kind) else kind
        if not _is_number_type(inner):
            raise DatasetError(
                f"column {name!r} has type {kind}; expected numbers (integers, floats or "
                "booleans), or a list of numbers for (N, K) inputs"
            )
    for name in spec.group_by:
        kind = schema.field(name).type
        if pa.types.is_nested(kind) or pa.types.is_floating(kind):
            raise DatasetError(
                f"group column {name!r} has type {kind}; expected strings, integers, booleans "
                "or dates"
            )


def _is_list_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    )


def _is_number_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def _as_float(array: pa.Array) -> npt.NDArray[np.float64]:
    """A numeric Arrow array as float64, nulls as NaN (zero copy for float64 with no nulls)."""
    if array.null_count and not pa.types.is_floating(array.type):
        array = pc.cast(array, pa.float64())
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def numeric_array(batch: pa.RecordBatch, columns: Columns) -> npt.NDArray[np.float64]:
    """(N,) from one numeric column, (N, K) from one list column or from K numeric columns."""
    if not isinstance(columns, str):
        return np.column_stack([_as_float(batch.column(name)) for name in columns])
    array = batch.column(columns)
    kind = array.type
    if not _is_list_type(kind):
        return _as_float(array)
    if array.null_count:
        raise DatasetError(f"column {columns!r} holds a null row; expected a list of numbers")
    if pa.types.is_fixed_size_list(kind):
        width = kind.list_size
    else:
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        width = int(lengths[0]) if len(lengths) else 0
        if len(lengths) and (lengths != width).any():
            row = int(np.argmax(lengths != width))
            raise DatasetError(
                f"column {columns!r} holds lists of different lengths ({width} and "
                f"{int(lengths[row])}); expected one length K for (N, K) inputs"
            )
    values = _as_float(pc.list_flatten(array))
    return values.reshape(len(array), width)


@dataclass
class GroupKeys:
    """The values behind the group codes of one batch: code = sum_j index_j * stride_j."""

    columns: tuple[str, ...]
    dictionaries: list[list[Any]]
    strides: list[int]

    def key(self, code: int) -> tuple[Any, ...]:
        values = []
        for dictionary, stride in zip(self.dictionaries, self.strides, strict=True):
            index, code = divmod(code, stride)
            values.append(dictionary[index])
        return tuple(values)


def _encode(column: pa.Array) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Each row's index into the column's distinct values (a null is a value of its own): the
    indices of a dictionary column as they are, an integer column's values less its minimum
    when they span a small range, else Arrow's dictionary encoding."""
    if pa.types.is_dictionary(column.type) and column.null_count == 0:
        return column.indices.to_numpy(zero_copy_only=False).astype(np.int64), (
            column.dictionary.to_pylist()
        )
    if pa.types.is_integer(column.type) and column.null_count == 0 and len(column):
        values = column.to_numpy(zero_copy_only=False).astype(np.int64)
        low, high = int(values.min()), int(values.max())
        if high - low <= 2 * len(values) + 1024:
            return values - low, list(range(low, high + 1))
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    return (
        encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        encoded.dictionary.to_pylist(),
    )


def group_codes(
    batch: pa.RecordBatch, columns: Sequence[str]
) -> tuple[npt.NDArray[np.int64], GroupKeys]:
    """One int64 code per row for the combination of the group columns' values (nulls are a
    value of their own), and the keys behind the codes."""
    indices, dictionaries = [], []
    for name in columns:
        index, dictionary = _encode(batch.column(name))
        indices.append(index)
        dictionaries.append(dictionary)
    sizes = [max(len(dictionary), 1) for dictionary in dictionaries]
    strides = [int(np.prod(sizes[position + 1 :], dtype=object)) for position in range(len(sizes))]
    if int(np.prod(sizes, dtype=object)) >= 2**62:
        raise DatasetError(
            f"the group columns {', '.join(columns)} have too many combinations to number in one "
            "batch; group by fewer columns"
        )
    codes = indices[0] * strides[0]
    for index, stride in zip(indices[1:], strides[1:], strict=True):
        codes += index * stride
    return codes, GroupKeys(tuple(columns), dictionaries, strides)
