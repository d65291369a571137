"""Scoring on a Dask cluster: Dask's distributed scheduler runs `score_piece` where the data is,
and this process merges the pieces' sums. No scheduling of our own.

- files: each piece of a Parquet file (8 row groups) or CSV file is a task that reads its own
  columns on a worker;
- a dask DataFrame: each partition is a task that turns its pandas frame into Arrow and scores
  it, after whatever computation the DataFrame's graph holds.

`scheduler`: "local:N" starts a `distributed.LocalCluster` of N single-threaded worker processes
on 127.0.0.1 (stopped afterwards), "tcp://host:port" joins a running scheduler (its workers need
loss-service installed), a `distributed.Client` is used as it is, and None uses Dask's current
scheduler (a dask DataFrame only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from .columns import check_columns, required_columns
from .errors import DatasetError
from .scoring import PieceError, PieceSums, Plan, score_piece
from .sources import FilePiece, TablePiece, is_dask, prefetched, require_columns

__all__ = ["score_distributed"]


def _score_file(plan: Plan, piece: FilePiece) -> PieceSums | PieceError:
    try:
        return score_piece(plan, prefetched(piece.batches()))
    except DatasetError as error:
        return PieceError(-1, str(error))


def _score_partition(plan: Plan, frame: Any) -> PieceSums | PieceError:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return score_piece(plan, TablePiece(table).batches())


@contextlib.contextmanager
def _client(scheduler: Any) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DatasetError(
            "a Dask scheduler needs the datasets extra: pip install 'loss-service[datasets]'"
        ) from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if not isinstance(scheduler, str):
        raise DatasetError(
            f"scheduler = {scheduler!r}; expected local:N, tcp://host:port or a Client"
        )
    if scheduler.startswith("local:"):
        count = scheduler.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise DatasetError(f"scheduler = {scheduler!r}; expected local:N with N >= 1 workers")
        with (
            LocalCluster(
                n_workers=int(count),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if scheduler.startswith("tcp://"):
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as error:
            raise DatasetError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
        with client:
            yield client
        return
    raise DatasetError(f"scheduler = {scheduler!r}; expected local:N or tcp://host:port")


def score_distributed(
    table: Any, plan: Plan, scheduler: Any, progress: bool | None
) -> list[PieceSums | PieceError]:
    """Every piece of `table` scored by Dask, in the table's order."""
    from .tables import open_checked, progress_bar

    if is_dask(table):
        return _score_dask_frame(table, plan, scheduler, progress)
    source = open_checked(table, plan.columns)
    pieces = [piece for piece in source.pieces if isinstance(piece, FilePiece)]
    if len(pieces) != len(source.pieces):
        raise DatasetError(
            "a Dask scheduler reads files (or a dask DataFrame); for a table in memory, leave "
            "scheduler unset"
        )
    with _client(scheduler) as client, progress_bar(source.rows, progress) as shown:
        futures = client.map(_score_file, [plan] * len(pieces), pieces, pure=False)
        return _gather(client, futures, shown)


def _gather(client: Any, futures: list[Any], shown: Any) -> list[PieceSums | PieceError]:
    """The pieces' outcomes in the table's order, the progress bar moved as each arrives."""
    from distributed import as_completed

    for future in as_completed(futures):
        outcome = future.result()
        if isinstance(outcome, PieceSums):
            shown.update(outcome.rows)
    outcomes: list[PieceSums | PieceError] = client.gather(futures)
    return outcomes


def _score_dask_frame(
    frame: Any, plan: Plan, scheduler: Any, progress: bool | None
) -> list[PieceSums | PieceError]:
    import pandas as pd
    from dask.base import compute
    from dask.delayed import delayed

    from .tables import progress_bar

    columns = required_columns(plan.columns)
    require_columns(list(map(str, frame.columns)), columns, "the DataFrame")
    empty = pd.DataFrame({name: pd.Series(dtype=frame.dtypes[name]) for name in columns})
    check_columns(pa.Schema.from_pandas(empty, preserve_index=False), plan.columns)
    parts = frame[columns].to_delayed()
    tasks = [delayed(_score_partition)(plan, part) for part in parts]
    if scheduler is None:
        with progress_bar(None, progress):
            return list(compute(*tasks))
    with _client(scheduler) as client, progress_bar(None, progress) as shown:
        return _gather(client, client.compute(tasks), shown)
