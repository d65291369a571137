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
    weights: FloatArray,
    reduction: str,
    *,
    sqrt_of_mean: bool = False,
    group_keys: npt.NDArray[Any] | None = None,
) -> Reduced:
    """Weight and reduce per-sample losses and gradients.

    weights: (N,) sample weights, with 0 already set where the loss ignores a sample.
    sqrt_of_mean: the value is sqrt(weighted mean) (RMSE); only with reduction "mean".
    group_keys: (N,) segment keys; each distinct key gets its own aggregates.
    """
    used: BoolArray = np.ones(weights.shape, dtype=bool)
    if per_sample.ignored is not None:
        used = ~per_sample.ignored
    weighted = weights * per_sample.losses
    weight_sum = float(weights.sum())
    loss_sum = float(weighted.sum())
    scale = weights / weight_sum if reduction == "mean" else weights

    value: float | None = None
    if reduction == "mean":
        value = float(_finish(loss_sum / weight_sum, sqrt_of_mean=sqrt_of_mean))
    elif reduction == "sum":
        value = loss_sum

    gradient = None
    if per_sample.gradient is not None:
        gradient = per_sample.gradient * scale.reshape(
            (-1,) + (1,) * (per_sample.gradient.ndim - 1)
        )
        if sqrt_of_mean:
            # d sqrt(m) = dm / (2 sqrt(m)); at m = 0 sqrt has a kink and the gradient is 0.
            gradient = gradient / (2.0 * value) if value else np.zeros_like(gradient)

    per_output = None
    if per_sample.elementwise is not None and reduction != "none":
        column_sums = weights @ per_sample.elementwise
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
        count=int(used.sum()),
        weight_sum=weight_sum,
        loss_sum=loss_sum,
        groups=groups,
    )


def _groups(
    keys: npt.NDArray[Any],
    used: BoolArray,
    weights: FloatArray,
    weighted: FloatArray,
    reduction: str,
    sqrt_of_mean: bool,
) -> list[Group]:
    """Per-key count, weight sum, loss sum and value, by bincount over the key's index."""
    distinct, position = np.unique(keys, return_inverse=True)
    size = len(distinct)
    counts = np.bincount(position, weights=used.astype(np.float64), minlength=size)
    weight_sums = np.bincount(position, weights=weights, minlength=size)
    loss_sums = np.bincount(position, weights=weighted, minlength=size)
    groups = []
    for key, count, weight_sum, loss_sum in zip(
        distinct.tolist(), counts.tolist(), weight_sums.tolist(), loss_sums.tolist(), strict=True
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
