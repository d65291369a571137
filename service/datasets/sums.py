"""Mergeable sums: what one batch, one file or one Dask partition contributes to a result, and
the result made from them.

Each batch's count, weight sum and loss sum (per loss, per segment, per output column) is kept as
a partial; results add the partials with `math.fsum`, exactly rounded, so the same pieces give
the same numbers in any order: one process or a cluster of them. A mean is loss_sum / weight_sum
(its square root for RMSE), as one HTTP request computes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..losses import LossResult

__all__ = ["LossSums", "TableComposite", "TableGroup", "TableResult", "total_result"]

Key = tuple[Any, ...]


@dataclass(frozen=True)
class TableGroup:
    """One segment: its key `{column: value}` and its aggregates, as in an HTTP response."""

    key: dict[str, Any]
    count: int
    weight_sum: float
    loss_sum: float
    value: float | None


@dataclass(frozen=True)
class TableResult:
    """One loss over a whole table: the fields of one HTTP response on the same data (no
    per-sample arrays: a table's gradient is not what a monitoring pipeline wants)."""

    loss: str
    reduction: str
    value: float | None
    count: int
    weight_sum: float
    loss_sum: float
    omitted: int
    per_output: list[float] | None = None
    groups: list[TableGroup] | None = None

    def to_dict(self, *, weight: float | None = None) -> dict[str, Any]:
        """The HTTP response's fields, in its order."""
        document: dict[str, Any] = {"loss": self.loss}
        if weight is not None:
            document["weight"] = weight
        document |= {"reduction": self.reduction, "value": self.value}
        if self.per_output is not None:
            document["per_output"] = self.per_output
        if self.groups is not None:
            # TableGroup's fields are a response group's, in its order.
            document["groups"] = [asdict(group) for group in self.groups]
        document |= {
            "count": self.count,
            "weight_sum": self.weight_sum,
            "loss_sum": self.loss_sum,
            "omitted": self.omitted,
        }
        return document


@dataclass(frozen=True)
class TableComposite:
    """Several losses over a table and their weighted total, as `POST /v1/evaluate` answers."""

    results: list[TableResult]
    weights: list[float]
    total: TableResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [
                result.to_dict(weight=weight)
                for result, weight in zip(self.results, self.weights, strict=True)
            ],
            "total": self.total.to_dict(),
        }


@dataclass
class _GroupSums:
    count: int = 0
    weight_sums: list[float] = field(default_factory=list)
    loss_sums: list[float] = field(default_factory=list)


@dataclass
class LossSums:
    """The partial sums of one loss, batch after batch."""

    loss: str
    reduction: str
    root: bool  # the value is the square root of the mean (RMSE)
    count: int = 0
    omitted: int = 0
    weight_sums: list[float] = field(default_factory=list)
    loss_sums: list[float] = field(default_factory=list)
    column_sums: list[npt.NDArray[np.float64]] = field(default_factory=list)
    groups: dict[Key, _GroupSums] | None = None

    def add(self, result: LossResult, keys: Callable[[int], Key] | None) -> None:
        """One batch's result from the core; `keys`: a group's code to its segment key."""
        self.count += result.count
        self.omitted += result.omitted
        self.weight_sums.append(result.weight_sum)
        self.loss_sums.append(result.loss_sum)
        if result.per_output is not None:
            per_output = np.asarray(result.per_output, dtype=np.float64)
            if self.reduction == "mean":
                # Back from the reduced column values to their sums.
                per_output = (per_output**2 if self.root else per_output) * result.weight_sum
            self.column_sums.append(per_output)
        if result.groups is not None and keys is not None:
            if self.groups is None:
                self.groups = {}
            for group in result.groups:
                key = keys(int(group.key))
                sums = self.groups.setdefault(key, _GroupSums())
                sums.count += group.count
                sums.weight_sums.append(group.weight_sum)
                sums.loss_sums.append(group.loss_sum)

    def add_omitted(self, rows: int) -> None:
        """A batch whose every row held NaN under nan_policy="omit"."""
        self.omitted += rows

    def merge(self, other: LossSums) -> None:
        """Another piece's sums of the same loss (another file, another Dask partition)."""
        self.count += other.count
        self.omitted += other.omitted
        self.weight_sums += other.weight_sums
        self.loss_sums += other.loss_sums
        self.column_sums += other.column_sums
        if other.groups is not None:
            if self.groups is None:
                self.groups = {}
            for key, sums in other.groups.items():
                mine = self.groups.setdefault(key, _GroupSums())
                mine.count += sums.count
                mine.weight_sums += sums.weight_sums
                mine.loss_sums += sums.loss_sums

    def _value(self, loss_sum: float, weight_sum: float) -> float | None:
        if self.reduction == "sum":
            return loss_sum
        if weight_sum <= 0:
            return None
        mean = loss_sum / weight_sum
        return math.sqrt(mean) if self.root else mean

    def result(self, group_columns: tuple[str, ...]) -> TableResult:
        weight_sum = math.fsum(self.weight_sums)
        loss_sum = math.fsum(self.loss_sums)
        per_output = None
        if self.column_sums:
            columns = np.stack(self.column_sums)
            sums = [math.fsum(columns[:, k]) for k in range(columns.shape[1])]
            per_output = [self._value(total, weight_sum) or 0.0 for total in sums]
        groups = None
        if self.groups is not None:
            groups = []
            for key in sorted(self.groups, key=_sort_key):
                sums_of = self.groups[key]
                group_weight = math.fsum(sums_of.weight_sums)
                group_loss = math.fsum(sums_of.loss_sums)
                groups.append(
                    TableGroup(
                        key=dict(zip(group_columns, key, strict=True)),
                        count=sums_of.count,
                        weight_sum=group_weight,
                        loss_sum=group_loss,
                        value=self._value(group_loss, group_weight),
                    )
                )
        return TableResult(
            loss=self.loss,
            reduction=self.reduction,
            value=self._value(loss_sum, weight_sum),
            count=self.count,
            weight_sum=weight_sum,
            loss_sum=loss_sum,
            omitted=self.omitted,
            per_output=per_output,
            groups=groups,
        )


def _sort_key(key: Key) -> tuple[Any, ...]:
    """Segments in a stable order: by each value, nulls first, values of mixed types by type."""
    return tuple((value is not None, type(value).__name__, value) for value in key)


def total_result(results: list[TableResult], weights: list[float]) -> TableResult:
    """The weighted total of several losses over the same rows, as evaluate's `total`."""
    values = [result.value for result in results]
    value = (
        None
        if any(v is None for v in values)
        else math.fsum(w * v for w, v in zip(weights, values, strict=True) if v is not None)
    )
    first = results[0]
    return TableResult(
        loss="total",
        reduction=first.reduction,
        value=value,
        count=first.count,
        weight_sum=first.weight_sum,
        loss_sum=math.fsum(w * r.loss_sum for w, r in zip(weights, results, strict=True)),
        omitted=first.omitted,
    )
