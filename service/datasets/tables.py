"""`score` and `evaluate` over tables: in this process, batch by batch, or on a Dask cluster.

The numbers are those of one HTTP request on the same rows (`TableResult.to_dict()` has its
fields; a segment's key is `{column: value}`): the core scores each record batch, and the
batches' sums are merged (`sums.py`). Nothing partial is ever returned: the first bad row of the
table, in its order, is a `DatasetError` naming its global index.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
from tqdm import tqdm

from .columns import ColumnSpec, check_columns, numeric_columns, required_columns
from .errors import DatasetError
from .scoring import PieceError, PieceSums, Plan, empty_sums, make_plan, score_piece
from .sources import Source, is_dask, open_source, prefetched
from .sums import TableComposite, TableResult, total_result

__all__ = ["evaluate", "score"]

Columns = str | Sequence[str]


def score(
    table: Any,
    loss: str,
    *,
    predictions: Columns,
    targets: Columns,
    sample_weight: str | None = None,
    group_by: str | Sequence[str] = (),
    reduction: str = "mean",
    nan_policy: str = "raise",
    scheduler: Any = None,
    progress: bool | None = None,
    **params: Any,
) -> TableResult:
    """Score the rows of `table` with one loss, e.g. `score("day/*.parquet", "bce",
    predictions="p", targets="y", group_by=["model", "region"])`.

    table: a pyarrow Table or RecordBatchReader, a pandas, polars or dask DataFrame, or a path,
        glob or directory of Parquet or CSV files (or a list of them).
    predictions, targets: a column each; (N, K) inputs from a list column or a list of columns.
    sample_weight: a column of weights; group_by: one or more columns, a segment per distinct
        combination of their values. params: the loss's parameters (delta=2.0, ...).
    scheduler: None (this process; a dask DataFrame uses Dask's current scheduler), "local:N"
        (a distributed.LocalCluster of N worker processes), "tcp://host:port" (a running
        cluster), or a distributed.Client. progress: a progress bar on stderr (None: when it is
        a terminal).
    Raises DatasetError naming the column, file or row that cannot be scored.
    """
    composite = evaluate(
        table,
        [{"name": loss, **params}],
        predictions=predictions,
        targets=targets,
        sample_weight=sample_weight,
        group_by=group_by,
        reduction=reduction,
        nan_policy=nan_policy,
        scheduler=scheduler,
        progress=progress,
    )
    return composite.results[0]


def evaluate(
    table: Any,
    losses: Sequence[Mapping[str, Any]],
    *,
    predictions: Columns,
    targets: Columns,
    sample_weight: str | None = None,
    group_by: str | Sequence[str] = (),
    reduction: str = "mean",
    nan_policy: str = "raise",
    scheduler: Any = None,
    progress: bool | None = None,
) -> TableComposite:
    """Several losses over the rows of `table` in one pass, e.g. `[{"name": "bce", "weight":
    0.7}, {"name": "dice", "weight": 0.3}]`, and their weighted total, as `POST /v1/evaluate`
    answers; the arguments as `score`'s."""
    groups = (group_by,) if isinstance(group_by, str) else tuple(group_by)
    spec = ColumnSpec(predictions, targets, sample_weight, groups)
    plan = make_plan(losses, spec, reduction, nan_policy)
    if scheduler is not None or is_dask(table):
        from .distributed import score_distributed

        outcomes = score_distributed(table, plan, scheduler, progress)
    else:
        outcomes = _score_here(table, plan, progress)
    return finish(plan, outcomes)


def open_checked(table: Any, spec: ColumnSpec) -> Source:
    """The table's pieces, its columns there and of types the core reads."""
    source = open_source(table, required_columns(spec), numeric_columns(spec))
    check_columns(source.schema, spec)
    return source


def progress_bar(rows: int | None, enabled: bool | None) -> tqdm[Any]:
    """Rows (of the total where known), MB read and the time left, on stderr; by default only
    when stderr is a terminal."""
    disable = (not sys.stderr.isatty()) if enabled is None else not enabled
    return tqdm(
        total=rows, unit=" rows", unit_scale=True, disable=disable, file=sys.stderr, leave=False
    )


def _score_here(table: Any, plan: Plan, progress: bool | None) -> list[PieceSums | PieceError]:
    """The whole table as one stream of batches, the next read while this one is scored."""
    source = open_checked(table, plan.columns)
    rows, total_mb = source.rows, source.nbytes / 1e6
    batches = prefetched(batch for piece in source.pieces for batch in piece.batches())
    with progress_bar(rows, progress) as shown:

        def scored(batch: pa.RecordBatch) -> None:
            shown.update(batch.num_rows)
            if rows and total_mb:
                done = total_mb * shown.n / rows
                shown.set_postfix_str(f"{done:,.0f}/{total_mb:,.0f} MB", refresh=False)

        outcome = score_piece(plan, batches, scored)
        shown.refresh()  # the last state once, however fast the table was
        return [outcome]


def finish(plan: Plan, outcomes: Iterable[PieceSums | PieceError]) -> TableComposite:
    """The pieces' sums merged in table order; the first bad row as a DatasetError."""
    merged = empty_sums(plan)
    for outcome in outcomes:
        if isinstance(outcome, PieceError):
            raise DatasetError(_global_message(outcome, merged.rows))
        merged.rows += outcome.rows
        for mine, theirs in zip(merged.losses, outcome.losses, strict=True):
            mine.merge(theirs)
    first = merged.losses[0]
    if merged.rows == 0:
        raise DatasetError("the table has no rows")
    if first.count == 0 and first.omitted:
        raise DatasetError(f"all {first.omitted} rows hold NaN; nothing is left to score")
    results = [sums.result(plan.columns.group_by) for sums in merged.losses]
    if plan.columns.sample_weight is not None and results[0].weight_sum <= 0:
        raise DatasetError(
            f"column {plan.columns.sample_weight!r} is 0 in every row; expected a positive weight"
        )
    weights = list(plan.weights)
    return TableComposite(results, weights, total_result(results, weights))


def _global_message(error: PieceError, before: int) -> str:
    """The core's message with its row in the batch made the row in the table."""
    if error.row < 0:
        return error.message
    row = before + error.row
    message = error.message.replace(f"[{error.shown}]", f"[{row}]", 1)
    return f"row {row}: {message}"
