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

from ..wire.arrow import is_list_type, is_number_type, numbers_of
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
        inner = kind.value_type if is_list_type(kind) else kind
        if not is_number_type(inner):
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


def numeric_array(batch: pa.RecordBatch, columns: Columns) -> npt.NDArray[np.float64]:
    """(N,) from one numeric column, (N, K) from one list column or from K numeric columns.
    Raises ArrayFormatError (the wire layer's reading of Arrow columns, the HTTP API's too)."""
    if isinstance(columns, str):
        return numbers_of(repr(columns), batch.column(columns))
    return np.column_stack([numbers_of(repr(name), batch.column(name)) for name in columns])


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
