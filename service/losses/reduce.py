"""Reductions, sample weights, groups and the square root of RMSE: in one place, for values and
gradients alike.

mean = sum_i w_i l_i / sum_i w_i (scikit-learn's weighted average), sum = sum_i w_i l_i,
none = the vector w_i l_i. The gradient is the derivative of whatever is returned: for mean
w_i / sum(w) * dl_i/dp_i, for sum and none w_i * dl_i/dp_i.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .base import BoolArray, FloatArray, PerSample

__all__ = ["Group", "Reduced", "reduce"]


@dataclass(frozen=True)
class Group:
    """The aggregates of one segment of a `group_by` request."""

    key: str | int
    count: int
    weight_sum: float
    loss_sum: float
    value: float | None


@dataclass(frozen=True)
class Reduced:
    """One loss reduced over the samples it kept (NaN-omitted samples are already gone)."""

    value: float | None
    losses: FloatArray | None
    gradient: FloatArray | None
    per_output: FloatArray | None
    count: int
    weight_sum: float
    loss_sum: float
    groups: list[Group] | None


def _finish(mean: Any, *, sqrt_of_mean: bool) -> Any:
    return np.sqrt(mean) if sqrt_of_mean else mean


def reduce(
    per_sample: PerSample,
    weights: FloatArray | None,
    reduction: str,
    *,
    sqrt_of_mean: bool = False,
    group_keys: npt.NDArray[Any] | None = None,
) -> Reduced:
    """Weight and reduce per-sample losses and gradients.

    weights: (N,) sample weights, with 0 already set where the loss ignores a sample; None for
        all 1, which skips the multiplications by 1 (the results are the same numbers).
    sqrt_of_mean: the value is sqrt(weighted mean) (RMSE); only with reduction "mean".
    group_keys: (N,) segment keys; each distinct key gets its own aggregates.
    """
    losses = per_sample.losses
    samples = losses.shape[0]
    used: BoolArray | None = None if per_sample.ignored is None else ~per_sample.ignored
    if weights is None:
        # 1 * l_i is l_i and the sum of N ones is N exactly: no weights array, no product.
        weighted = losses
        weight_sum = float(samples)
    else:
        weighted = weights * losses
        weight_sum = float(weights.sum())
    loss_sum = float(weighted.sum())

    value: float | None = None
    if reduction == "mean":
        value = float(_finish(loss_sum / weight_sum, sqrt_of_mean=sqrt_of_mean))
    elif reduction == "sum":
        value = loss_sum

    gradient = None
    if per_sample.gradient is not None:
        if sqrt_of_mean and not value:
            # d sqrt(m) = dm / (2 sqrt(m)); at m = 0 sqrt has a kink and the gradient is 0.
            gradient = np.zeros_like(per_sample.gradient)
        else:
            # The square root's 1 / (2 sqrt(m)) joins the constant factors of the one pass.
            root = 2.0 * value if sqrt_of_mean and value else 1.0
            scaled = per_sample._replace(gradient_scale=per_sample.gradient_scale / root)
            gradient = _scale_gradient(scaled, weights, weight_sum, reduction)

    all_ones: FloatArray | None = None
    if weights is None and per_sample.elementwise is not None:
        all_ones = np.ones(samples)

    per_output = None
    if per_sample.elementwise is not None and reduction != "none":
        column_sums = _or(weights, all_ones) @ per_sample.elementwise
        per_output = (
            _finish(column_sums / weight_sum, sqrt_of_mean=sqrt_of_mean)
            if reduction == "mean"
            else column_sums
        )

    groups = None
    if group_keys is not None:
        groups = _groups(group_keys, used, weights, weighted, reduction, sqrt_of_mean)

    return Reduced(
        value=value,
        losses=weighted if reduction == "none" else None,
        gradient=gradient,
        per_output=per_output,
        count=samples if used is None else int(used.sum()),
        weight_sum=weight_sum,
        loss_sum=loss_sum,
        groups=groups,
    )


def _or(weights: FloatArray | None, all_ones: FloatArray | None) -> FloatArray:
    array = weights if weights is not None else all_ones
    assert array is not None
    return array


def _scale_gradient(
    per_sample: PerSample, weights: FloatArray | None, weight_sum: float, reduction: str
) -> FloatArray:
    """w_i / sum(w) * dl_i/dp (mean) or w_i * dl_i/dp (sum, none), row by row.

    The loss's gradient is a fresh array that nothing else holds, so it is scaled in place when
    it owns its memory: one temporary fewer. Without weights the factor is the scalar 1 / N
    (the same number `ones / N` holds in every element), or nothing at all for sum and none.
    """
    gradient = per_sample.gradient
    assert gradient is not None
    constant = per_sample.gradient_scale
    if weights is None:
        if reduction == "mean":
            constant /= weight_sum
        if constant == 1.0:
            return gradient
        factor: Any = constant
    else:
        scale = weights * (constant / weight_sum if reduction == "mean" else constant)
        factor = scale.reshape((-1,) + (1,) * (gradient.ndim - 1))
    own = (
        gradient.dtype == np.float64
        and gradient.flags.owndata
        and gradient.flags.writeable
        and gradient is not per_sample.losses
        and gradient is not per_sample.elementwise
    )
    if own:
        gradient *= factor
        return gradient
    scaled: FloatArray = gradient * factor
    return scaled


def _groups(
    keys: npt.NDArray[Any],
    used: BoolArray | None,
    weights: FloatArray | None,
    weighted: FloatArray,
    reduction: str,
    sqrt_of_mean: bool,
) -> list[Group]:
    """Per-key count, weight sum, loss sum and value, by bincount over the key's index (no
    weights where every sample counts, or weighs, 1)."""
    distinct, position = factorize(keys)
    size = len(distinct)
    samples = np.bincount(position, minlength=size)
    counts = samples if used is None else np.bincount(position, weights=used, minlength=size)
    weight_sums = (
        samples.astype(np.float64)
        if weights is None
        else np.bincount(position, weights=weights, minlength=size)
    )
    loss_sums = np.bincount(position, weights=weighted, minlength=size)
    groups = []
    for key, count, weight_sum, loss_sum in zip(
        distinct, counts.tolist(), weight_sums.tolist(), loss_sums.tolist(), strict=True
    ):
        value: float | None
        if reduction == "sum":
            value = loss_sum
        elif weight_sum > 0:
            value = float(_finish(loss_sum / weight_sum, sqrt_of_mean=sqrt_of_mean))
        else:
            value = None
        groups.append(Group(key, int(count), weight_sum, loss_sum, value))
    return groups


def factorize(keys: npt.NDArray[Any]) -> tuple[list[Any], npt.NDArray[np.intp]]:
    """The distinct keys in sorted order, and each sample's position among them.

    Strings (an object array) are numbered through a dict, then the few distinct keys sorted: one
    hash per key, where np.unique would sort all N strings with Python comparisons; numbers and
    numpy strings go through np.unique.
    """
    if keys.dtype.kind in "iu" and keys.size:
        low, high = int(keys.min()), int(keys.max())
        if high - low <= 2 * keys.size + 1024:
            # Dense integers (codes, small ids): counted, not sorted; O(N) where np.unique is
            # O(N log N).
            offset = keys - low
            present = np.flatnonzero(np.bincount(offset, minlength=high - low + 1))
            rank = np.zeros(high - low + 1, dtype=np.intp)
            rank[present] = np.arange(len(present))
            return (present + low).tolist(), rank[offset]
    if keys.dtype != object:
        distinct, position = np.unique(keys, return_inverse=True)
        return distinct.tolist(), position.reshape(-1)
    codes: dict[Any, int] = {}
    first = np.fromiter(
        (codes.setdefault(key, len(codes)) for key in keys), dtype=np.intp, count=len(keys)
    )
    ordered = sorted(codes)
    rank = np.empty(len(codes), dtype=np.intp)
    rank[[codes[key] for key in ordered]] = np.arange(len(ordered))
    return ordered, rank[first]
