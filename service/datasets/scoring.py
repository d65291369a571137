"""Scoring a table batch by batch: the core on each record batch, merged through the sums.

A table is a sequence of pieces (`sources.Piece`: a file, a row group's worth of a file, a
DataFrame, a Dask partition), each a sequence of record batches. `score_piece` runs the core over
one piece's batches and returns its sums, or the first bad row as a `PieceError` (local to the
piece: the caller, which knows how many rows came before, names the global row). One process
calls it piece after piece; a Dask cluster calls it on its workers (`distributed.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from ..losses import (
    LOSSES,
    Group,
    LossError,
    LossResult,
    NonFiniteError,
    evaluate_many,
    get_loss,
)
from ..losses.evaluate import NAN_POLICIES, nan_samples
from ..losses.params import bind_params
from ..wire import ArrayFormatError
from .columns import ColumnSpec, group_codes, numeric_array
from .errors import DatasetError
from .sums import LossSums

__all__ = ["PieceError", "PieceSums", "Plan", "make_plan", "score_piece"]


@dataclass(frozen=True)
class Plan:
    """What to compute: the losses (canonical names, weights, parameters), the columns, the
    reduction and the NaN policy. Plain data, sent to Dask's workers as it is."""

    terms: tuple[Mapping[str, Any], ...]
    weights: tuple[float, ...]
    columns: ColumnSpec
    reduction: str
    nan_policy: str


def make_plan(
    losses: Sequence[Mapping[str, Any]],
    columns: ColumnSpec,
    reduction: str,
    nan_policy: str,
) -> Plan:
    """Check the losses and options before any data is read: an unknown loss, a reduction a
    loss does not support, or `none` (per-sample, which a table does not report) is an error."""
    if not losses:
        raise DatasetError("losses is empty; expected at least one loss")
    if reduction not in ("mean", "sum"):
        raise DatasetError(
            f"reduction = {reduction!r}; a table is scored with mean or sum (per-sample losses "
            "are an HTTP request's, with reduction none)"
        )
    if nan_policy not in NAN_POLICIES:
        raise DatasetError(
            f"nan_policy = {nan_policy!r}; expected one of: {', '.join(NAN_POLICIES)}"
        )
    terms, weights = [], []
    for position, entry in enumerate(losses):
        options = dict(entry)
        name = options.pop("name", None)
        weight = options.pop("weight", 1.0)
        if not isinstance(name, str):
            raise DatasetError(f"losses[{position}] has no name; expected a loss name")
        try:
            spec = get_loss(name)
        except LossError as error:
            raise DatasetError(error.message) from None
        if reduction not in spec.reductions:
            raise DatasetError(
                f"reduction = {reduction!r}; {spec.name} supports: {', '.join(spec.reductions)}"
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise DatasetError(f"losses[{position}].weight = {weight!r}; expected a number")
        try:
            bind_params(spec.name, spec.params, options)  # parameters checked before any data
        except LossError as error:
            raise DatasetError(error.message) from None
        terms.append({"name": spec.name, **options})
        weights.append(float(weight))
    return Plan(tuple(terms), tuple(weights), columns, reduction, nan_policy)


@dataclass(frozen=True)
class PieceError:
    """The first bad row of a piece: its index within the piece (-1: no row in particular), the
    core's message, and the index that message shows (the row within its batch)."""

    row: int
    message: str
    shown: int = -1


@dataclass
class PieceSums:
    """What one piece contributes: its rows and, per loss, its sums."""

    rows: int
    losses: list[LossSums]


def empty_sums(plan: Plan) -> PieceSums:
    return PieceSums(
        0,
        [
            LossSums(term["name"], plan.reduction, root=LOSSES[term["name"]].sqrt_of_mean)
            for term in plan.terms
        ],
    )


def score_piece(
    plan: Plan,
    batches: Iterable[pa.RecordBatch],
    scored: Callable[[pa.RecordBatch], None] | None = None,
) -> PieceSums | PieceError:
    """The sums of one piece's batches, or its first bad row; `scored` is told of each batch."""
    sums = empty_sums(plan)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        outcome = _score_batch(plan, batch, sums)
        if outcome is not None:
            row = sums.rows + outcome.row if outcome.row >= 0 else -1
            return PieceError(row, outcome.message, outcome.row)
        sums.rows += batch.num_rows
        if scored is not None:
            scored(batch)
    return sums


def _score_batch(plan: Plan, batch: pa.RecordBatch, sums: PieceSums) -> PieceError | None:
    columns = plan.columns
    try:
        predictions = numeric_array(batch, columns.predictions)
        targets = numeric_array(batch, columns.targets)
        weights = None
        if columns.sample_weight is not None:
            weights = numeric_array(batch, columns.sample_weight)
    except ArrayFormatError as error:
        row = error.loc[-1]
        return PieceError(row if isinstance(row, int) else -1, error.message)
    keys = codes = None
    if columns.group_by:
        codes, group_keys = group_codes(batch, columns.group_by)
        keys = group_keys.key
    # A batch whose weights are all 0 is valid in a table (not all of the table's are): it is
    # scored with weights 1, for its checks, counts and segments, and adds 0 to every sum.
    weightless = weights is not None and not weights.any()  # NaN is true: not weightless
    try:
        composite = evaluate_many(
            [dict(term) for term in plan.terms],
            predictions,
            targets,
            sample_weight=None if weightless else weights,
            reduction=plan.reduction,
            gradient=False,
            nan_policy=plan.nan_policy,
            group_by=codes,
        )
    except NonFiniteError as error:
        if plan.nan_policy == "omit" and error.message.startswith("all "):
            for loss_sums in sums.losses:
                loss_sums.add_omitted(batch.num_rows)
            return None
        return PieceError(_row_of(error, plan, predictions, targets, weights), error.message)
    except LossError as error:
        return PieceError(_row_of(error, plan, predictions, targets, weights), error.message)
    for loss_sums, result in zip(sums.losses, composite.results, strict=True):
        if weightless:
            result = _without_weight(result)
        loss_sums.add(result, keys)
    return None


def _row_of(
    error: LossError,
    plan: Plan,
    predictions: np.ndarray[Any, Any],
    targets: np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any] | None,
) -> int:
    """The batch row of the core's error: its first index, mapped back through the rows that
    nan_policy="omit" dropped; -1 when the error names no row."""
    if not error.index:
        return -1
    row = int(error.index[0])
    if plan.nan_policy == "omit":
        kept = np.flatnonzero(~nan_samples(predictions, targets, weights))
        if row < len(kept):
            row = int(kept[row])
    return row


def _without_weight(result: LossResult) -> LossResult:
    """A result with every sum 0: the batch's rows count, their weights and losses do not."""
    groups = None
    if result.groups is not None:
        groups = [Group(group.key, group.count, 0.0, 0.0, None) for group in result.groups]
    per_output = None if result.per_output is None else np.zeros_like(result.per_output)
    return replace(result, weight_sum=0.0, loss_sum=0.0, per_output=per_output, groups=groups)
