"""Tables of every kind as a list of pieces, each read in record batches of the named columns.

A piece is plain, picklable data (a file and its row groups, or an Arrow table) so that Dask's
workers can read it where they run: `FilePiece` opens its Parquet row groups or its CSV file
itself, only the named columns, `BATCH_ROWS` rows at a time, so memory is bounded by the batch,
not the file. pandas and polars DataFrames become one Arrow table (zero copy where the types
allow); a RecordBatchReader is read as it streams. A file that cannot be read is named.
"""

from __future__ import annotations

import glob
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .errors import DatasetError

__all__ = [
    "BATCH_ROWS",
    "FilePiece",
    "Source",
    "TablePiece",
    "is_dask",
    "open_source",
    "prefetched",
    "require_columns",
]

# Rows per record batch: ~8 MB per float64 column, a few columns' worth of core temporaries.
BATCH_ROWS = 1 << 20
# Row groups per piece (a Dask task): enough that a worker reads the next batch while it scores
# this one, few enough that a file of a hundred row groups spreads over many workers.
GROUPS_PER_PIECE = 8
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


_DONE = object()


def prefetched(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`batches`, the next one read by a thread while the caller scores this one: pyarrow's
    decoding and numpy's loops both release the GIL, so reading and scoring overlap on two
    cores, at the cost of one batch more in memory (never more: the thread reads a batch only
    once the caller has taken the last). An error while reading is raised here."""
    ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
    turn = threading.Semaphore(1)  # the reader may hold one batch the caller has not taken
    stop = threading.Event()

    def read() -> None:
        source = iter(batches)
        try:
            while True:
                turn.acquire()
                if stop.is_set():
                    return
                batch = next(source, _DONE)
                ready.put(batch)
                if batch is _DONE:
                    return
        except BaseException as error:
            ready.put(error)

    reader = threading.Thread(target=read, name="loss-service batch reader", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            turn.release()
            yield item
    finally:
        stop.set()
        turn.release()  # a reader waiting for its turn sees stop and returns
        reader.join()


@dataclass(frozen=True)
class FilePiece:
    """Row groups of a Parquet file (all of them when None), or a whole CSV file."""

    path: str
    columns: tuple[str, ...]
    row_groups: tuple[int, ...] | None = None
    rows: int | None = None
    nbytes: int = 0
    numeric: tuple[str, ...] = ()  # CSV: read as float64 whatever the first rows look like

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            if self.path.endswith(_CSV_SUFFIXES):
                options = pacsv.ConvertOptions(
                    include_columns=list(self.columns),
                    column_types={name: pa.float64() for name in self.numeric},
                )
                parse = pacsv.ParseOptions(delimiter="\t" if self.path.endswith(".tsv") else ",")
                reader = pacsv.open_csv(
                    self.path,
                    read_options=pacsv.ReadOptions(block_size=1 << 24),
                    parse_options=parse,
                    convert_options=options,
                )
                yield from reader
                return
            parquet = pq.ParquetFile(self.path)
            yield from parquet.iter_batches(
                batch_size=BATCH_ROWS,
                row_groups=None if self.row_groups is None else list(self.row_groups),
                columns=list(self.columns),
                use_threads=False,
            )
        except (pa.ArrowException, OSError) as error:
            raise DatasetError(f"cannot read {self.path}: {_first_line(error)}") from None


@dataclass(frozen=True)
class TablePiece:
    """An Arrow table held in memory (a DataFrame's, or one partition of one)."""

    table: pa.Table

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes)

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self.table.to_batches(max_chunksize=BATCH_ROWS)


@dataclass(frozen=True)
class _ReaderPiece:
    """A RecordBatchReader: read once, as it streams (one process only)."""

    reader: pa.RecordBatchReader
    columns: tuple[str, ...]
    rows: int | None = None
    nbytes: int = 0

    def batches(self) -> Iterator[pa.RecordBatch]:
        for batch in self.reader:
            yield batch.select(list(self.columns))


Piece = FilePiece | TablePiece | _ReaderPiece


@dataclass(frozen=True)
class Source:
    """A table as pieces, with its schema (of the named columns) and, where known, its size."""

    pieces: list[Piece]
    schema: pa.Schema

    @property
    def rows(self) -> int | None:
        counts = [piece.rows for piece in self.pieces]
        return None if any(count is None for count in counts) else sum(c or 0 for c in counts)

    @property
    def nbytes(self) -> int:
        return sum(piece.nbytes for piece in self.pieces)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def open_source(table: Any, columns: Sequence[str], numeric: Sequence[str] = ()) -> Source:
    """The pieces of `table`: an Arrow Table or RecordBatchReader, a pandas or polars
    DataFrame, or a path, glob or directory of Parquet or CSV files (or a list of them).
    numeric: the columns a CSV file's reader reads as float64."""
    wanted = tuple(columns)
    if isinstance(table, pa.Table):
        return _table_source(table, wanted)
    if isinstance(table, pa.RecordBatchReader):
        schema = table.schema
        _require(schema, wanted, "the table")
        piece = _ReaderPiece(table, wanted)
        return Source([piece], _select(schema, wanted))
    if isinstance(table, str | os.PathLike) or (
        isinstance(table, list | tuple)
        and table
        and all(isinstance(p, str | os.PathLike) for p in table)
    ):
        paths = [table] if isinstance(table, str | os.PathLike) else list(table)
        files = _expand([os.fspath(path) for path in paths])
        return _file_source(files, wanted, tuple(numeric))
    module = type(table).__module__.split(".")[0]
    if module == "pandas":
        require_columns(list(map(str, table.columns)), wanted, "the DataFrame")
        arrow = pa.Table.from_pandas(table[list(wanted)], preserve_index=False)
        return _table_source(arrow, wanted)
    if module == "polars":
        require_columns(list(table.columns), wanted, "the DataFrame")
        return _table_source(table.select(list(wanted)).to_arrow(), wanted)
    raise DatasetError(
        f"cannot read a {type(table).__name__} as a table; expected a pyarrow Table or "
        "RecordBatchReader, a pandas, polars or dask DataFrame, or Parquet or CSV paths"
    )


def is_dask(table: Any) -> bool:
    """Whether `table` is a dask collection (scored by Dask's scheduler, not read here)."""
    return type(table).__module__.split(".")[0] == "dask"


def _table_source(table: pa.Table, wanted: tuple[str, ...]) -> Source:
    _require(table.schema, wanted, "the table")
    selected = table.select(list(wanted))
    return Source([TablePiece(selected)], selected.schema)


def _expand(paths: list[str]) -> list[str]:
    """Globs expanded, directories walked (their Parquet and CSV files, sorted)."""
    files: list[str] = []
    for path in paths:
        if glob.has_magic(path):
            matched = sorted(glob.glob(path, recursive=True))
            if not matched:
                raise DatasetError(f"no file matches {path}")
            files += [match for match in matched if os.path.isfile(match)]
        elif os.path.isdir(path):
            found = sorted(
                str(file)
                for file in Path(path).rglob("*")
                if file.is_file() and file.name.endswith(_PARQUET_SUFFIXES + _CSV_SUFFIXES)
            )
            if not found:
                raise DatasetError(f"no Parquet or CSV file in the directory {path}")
            files += found
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise DatasetError(f"no such file: {path}")
    return files


def _file_source(files: list[str], wanted: tuple[str, ...], numeric: tuple[str, ...]) -> Source:
    pieces: list[Piece] = []
    schema: pa.Schema | None = None
    for path in files:
        if path.endswith(_CSV_SUFFIXES):
            file_schema = _csv_schema(path, wanted, numeric)
            pieces.append(FilePiece(path, wanted, nbytes=os.path.getsize(path), numeric=numeric))
        else:
            try:
                metadata = pq.read_metadata(path)
                file_schema = metadata.schema.to_arrow_schema()
            except (pa.ArrowException, OSError) as error:
                raise DatasetError(f"cannot read {path}: {_first_line(error)}") from None
            _require(file_schema, wanted, path)
            size = os.path.getsize(path)
            total = max(metadata.num_rows, 1)
            for first in range(0, metadata.num_row_groups, GROUPS_PER_PIECE):
                groups = tuple(range(first, min(first + GROUPS_PER_PIECE, metadata.num_row_groups)))
                rows = sum(metadata.row_group(group).num_rows for group in groups)
                pieces.append(FilePiece(path, wanted, groups, rows, size * rows // total))
            if metadata.num_row_groups == 0:
                pieces.append(FilePiece(path, wanted, (), 0, size))
        if schema is None:
            schema = _select(file_schema, wanted)
    if schema is None:
        raise DatasetError("no file to read")
    return Source(pieces, schema)


def _csv_schema(path: str, wanted: tuple[str, ...], numeric: tuple[str, ...]) -> pa.Schema:
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 20),
            parse_options=pacsv.ParseOptions(delimiter="\t" if path.endswith(".tsv") else ","),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.float64() for name in numeric}
            ),
        )
        schema = reader.schema
        reader.close()
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(f"cannot read {path}: {_first_line(error)}") from None
    _require(schema, wanted, path)
    return schema


def _require(schema: pa.Schema, wanted: Sequence[str], where: str) -> None:
    require_columns(schema.names, wanted, where)


def require_columns(present: Sequence[str], wanted: Sequence[str], where: str) -> None:
    """A missing column names it and lists the columns there are."""
    for name in wanted:
        if name not in present:
            shown = ", ".join(present[:50]) + (", ..." if len(present) > 50 else "")
            raise DatasetError(f"no column {name!r} in {where}; its columns are: {shown}")


def _select(schema: pa.Schema, wanted: Sequence[str]) -> pa.Schema:
    return pa.schema([schema.field(name) for name in wanted])
