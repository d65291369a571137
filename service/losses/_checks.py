"""Input checks shared by every loss: dtype, shape, finiteness, domain, labels and simplex rows.

Every check names the field, the index of the first offending element and its value, in the
form "got X, expected Y", and raises an error from `service.losses.errors`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ._numerics import row_sum
from .errors import DomainError, NonFiniteError, ShapeError

FloatArray = npt.NDArray[np.float64]

# Tolerance for "sums to 1" on rows of a distribution, as the contract states.
SIMPLEX_ATOL = 1e-3


def first_index(mask: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    """The index of the first True element of `mask`, in C order."""
    flat = int(np.argmax(mask.ravel()))
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def format_value(value: Any) -> str:
    """A short, exact rendering of one element for error messages."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def float_of(number: int | float) -> float:
    """float(number), with an int beyond float64's range as the infinity of its sign (float()
    raises OverflowError there), so that a finiteness check refuses it as it refuses inf."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def where(field: str, index: tuple[int, ...]) -> str:
    """`field[i, j]` for messages."""
    return f"{field}[{', '.join(str(i) for i in index)}]"


def as_float_array(values: Any, field: str) -> FloatArray:
    """Convert array-like input of a real numeric dtype to float64; refuse anything else."""
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise ShapeError(
            f"{field} is not a rectangular array of numbers: {error}", field=field
        ) from error
    if array.dtype.kind not in "biuf":
        raise ShapeError(f"{field} must hold real numbers, got dtype {array.dtype}", field=field)
    return np.asarray(array, dtype=np.float64)


def check_ndim(array: FloatArray, field: str, allowed: tuple[int, ...]) -> None:
    """The array has one of the allowed numbers of dimensions and at least one sample."""
    if array.ndim not in allowed:
        expected = " or ".join({1: "(N,)", 2: "(N, K)"}[n] for n in allowed)
        raise ShapeError(
            f"{field} has shape {array.shape}, expected {expected}",
            field=field,
            value=list(array.shape),
        )
    if array.shape[0] == 0:
        raise ShapeError(f"{field} is empty, expected at least one sample", field=field)
    if array.ndim == 2 and array.shape[1] == 0:
        raise ShapeError(f"{field} has shape {array.shape}, expected K >= 1", field=field)


def check_same_shape(predictions: FloatArray, targets: FloatArray) -> None:
    """Predictions and targets have the same shape."""
    if predictions.shape != targets.shape:
        raise ShapeError(
            f"predictions has shape {predictions.shape} but targets has shape "
            f"{targets.shape}; expected the same shape",
            field="targets",
            value=list(targets.shape),
        )


def check_finite(array: FloatArray, field: str, *, allow_nan: bool = False) -> None:
    """No infinity anywhere, and no NaN unless `allow_nan` (NaN is then handled by the caller)."""
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if bad.any():
        index = first_index(bad)
        count = int(bad.sum())
        what = "infinite" if allow_nan else "non-finite (NaN or infinity)"
        raise NonFiniteError(
            f"{field} holds {count} {what} value(s), the first at {where(field, index)} = "
            f"{format_value(array[index])}; expected finite numbers"
            + ("" if allow_nan else " (nan_policy='omit' drops samples with NaN)"),
            field=field,
            index=index,
            value=format_value(array[index]),
        )


def check_range(
    array: FloatArray,
    field: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    expected: str,
) -> None:
    """Every element lies between low and high (either side may be unbounded, and either end
    open: excluded)."""
    below = np.less_equal if low_open else np.less
    above = np.greater_equal if high_open else np.greater
    # Nothing out of range is the common case: one reduction per bound tells, with no mask built.
    # fmin and fmax skip NaN, which the comparisons below
    # never flag either; `initial` lets an empty array pass, as it always has.
    if (low is None or not below(np.fmin.reduce(array, axis=None, initial=np.inf), low)) and (
        high is None or not above(np.fmax.reduce(array, axis=None, initial=-np.inf), high)
    ):
        return
    bad = np.zeros(array.shape, dtype=bool)
    if low is not None:
        bad |= below(array, low)
    if high is not None:
        bad |= above(array, high)
    if bad.any():
        index = first_index(bad)
        raise DomainError(
            f"{where(field, index)} = {format_value(array[index])}; expected {expected}",
            field=field,
            index=index,
            value=format_value(array[index]),
        )


def _row_sums(array: FloatArray) -> FloatArray:
    """The sums along the last axis; for rows, through BLAS (`_numerics.row_sum`)."""
    if array.ndim == 2:
        return row_sum(array)
    sums: FloatArray = array.sum(axis=-1)
    return sums


def check_simplex_rows(array: FloatArray, field: str, *, hint: str = "") -> None:
    """Each row is a distribution: non-negative entries summing to 1 within SIMPLEX_ATOL. A NaN
    or an infinity fails both tests (NaN propagates through the minimum and the sums) and gets
    `check_finite`'s error."""
    sums = _row_sums(array)
    close = np.abs(sums - 1.0) <= SIMPLEX_ATOL
    if np.minimum.reduce(array, axis=None, initial=np.inf) >= 0.0 and close.all():
        return
    check_finite(array, field)
    check_range(array, field, low=0.0, high=None, expected=f"non-negative probabilities{hint}")
    bad = ~close
    if bad.any():
        row = first_index(bad)
        raise DomainError(
            f"row {field}[{row[0]}] sums to {format_value(sums[row])}; expected a "
            f"distribution summing to 1 (within {SIMPLEX_ATOL}){hint}",
            field=field,
            index=row,
            value=format_value(sums[row]),
        )


def check_labels(array: FloatArray, field: str, num_classes: int) -> None:
    """Every element is an integer class label in [0, num_classes); a NaN or an infinity gets
    `check_finite`'s error."""
    bad = (array != np.floor(array)) | (array < 0) | (array >= num_classes)
    if bad.any():
        check_finite(array, field)
        index = first_index(bad)
        raise DomainError(
            f"{where(field, index)} = {format_value(array[index])}; expected an integer "
            f"class label in [0, {num_classes})",
            field=field,
            index=index,
            value=format_value(array[index]),
        )


def check_one_hot(array: FloatArray, field: str) -> None:
    """Every row is one-hot: entries in {0, 1} with exactly one 1; a NaN or an infinity gets
    `check_finite`'s error."""
    bad = (array != 0.0) & (array != 1.0)
    if bad.any():
        check_finite(array, field)
        index = first_index(bad)
        raise DomainError(
            f"{where(field, index)} = {format_value(array[index])}; expected one-hot rows "
            "(entries 0 or 1)",
            field=field,
            index=index,
            value=format_value(array[index]),
        )
    ones = _row_sums(array)
    bad_rows = ones != 1.0
    if bad_rows.any():
        row = first_index(bad_rows)
        raise DomainError(
            f"row {field}[{row[0]}] has {format_value(ones[row])} ones; expected one-hot rows "
            "with exactly one 1",
            field=field,
            index=row,
            value=format_value(ones[row]),
        )


def check_values_in(array: FloatArray, field: str, allowed: tuple[float, ...]) -> None:
    """Every element is one of `allowed`."""
    bad = ~np.isin(array, allowed)
    if bad.any():
        index = first_index(bad)
        choices = ", ".join(format_value(a) for a in allowed)
        raise DomainError(
            f"{where(field, index)} = {format_value(array[index])}; expected one of {{{choices}}}",
            field=field,
            index=index,
            value=format_value(array[index]),
        )
