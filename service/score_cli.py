"""`loss-service score PATH...`: score Parquet or CSV files from the command line.

A table of the segments on the terminal, the whole result in `--output` (JSON: the HTTP
response's fields; CSV or Parquet: one row per segment and one for all rows). Bad input is one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["add_score_command"]

USAGE_ERROR = 2


class _OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block): the command's error contract."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def add_score_command(commands: Any) -> None:
    score = commands.add_parser(
        "score",
        help="score Parquet or CSV files (in this process, or on a Dask cluster)",
        description="Score the rows of Parquet or CSV files with a loss: the numbers one HTTP "
        "request on the same rows would give, per segment of --group-by columns.",
    )
    score.__class__ = _OneLineParser
    score.add_argument("paths", nargs="+", metavar="PATH", help="files, globs or directories")
    score.add_argument("--loss", required=True, help="a loss name or alias, e.g. bce")
    score.add_argument(
        "--predictions", required=True, help="the column; COL1,COL2,... for (N, K) inputs"
    )
    score.add_argument("--targets", required=True, help="the column (or columns, as above)")
    score.add_argument("--sample-weight", help="a column of sample weights")
    score.add_argument(
        "--group-by", action="append", default=[], metavar="COL", help="a segment column (repeat)"
    )
    score.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a loss parameter; VALUE is read as JSON where it can be (2, true, [1, 2])",
    )
    score.add_argument("--reduction", default="mean", choices=("mean", "sum"))
    score.add_argument("--nan-policy", default="raise", choices=("raise", "omit"))
    score.add_argument(
        "--scheduler", help="local:N (a LocalCluster of N workers) or tcp://HOST:PORT (Dask)"
    )
    score.add_argument("--output", type=Path, help="FILE.json, FILE.csv or FILE.parquet")
    score.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    score.set_defaults(run=_score)


def _columns(text: str) -> str | list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names[0] if len(names) == 1 else names


def _params(pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or not key:
            raise ValueError(f"--param {pair!r}; expected KEY=VALUE")
        try:
            params[key.strip()] = json.loads(text)
        except ValueError:
            params[key.strip()] = text
    return params


def _fail(message: str) -> int:
    sys.stderr.write(f"loss-service score: error: {' '.join(message.split())}\n")
    return USAGE_ERROR


def _score(args: argparse.Namespace) -> int:
    from .datasets import DatasetError, TableResult, score

    suffix = None if args.output is None else args.output.suffix.lower()
    if suffix not in (None, ".json", ".csv", ".parquet"):
        return _fail(f"--output {args.output}; expected a .json, .csv or .parquet file")
    try:
        params = _params(args.param)
        result = score(
            args.paths,
            args.loss,
            predictions=_columns(args.predictions),
            targets=_columns(args.targets),
            sample_weight=args.sample_weight,
            group_by=args.group_by,
            reduction=args.reduction,
            nan_policy=args.nan_policy,
            scheduler=args.scheduler,
            progress=args.progress,
            **params,
        )
    except (DatasetError, ValueError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return _fail("interrupted")
    print(_segments_table(result, tuple(args.group_by)))
    if args.output is not None:
        try:
            _write(result, args.output, tuple(args.group_by))
        except OSError as error:
            return _fail(f"cannot write {args.output}: {error.strerror or error}")
    assert isinstance(result, TableResult)
    return 0


def _number(value: float | None) -> str:
    return "null" if value is None else f"{value:.6g}"


def _rows(result: Any, group_columns: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for group in result.groups or []:
        rows.append(
            {
                "segment": "group",
                **{column: group.key[column] for column in group_columns},
                "loss": result.loss,
                "count": group.count,
                "weight_sum": group.weight_sum,
                "loss_sum": group.loss_sum,
                "value": group.value,
            }
        )
    rows.append(
        {
            "segment": "all",
            **dict.fromkeys(group_columns),
            "loss": result.loss,
            "count": result.count,
            "weight_sum": result.weight_sum,
            "loss_sum": result.loss_sum,
            "value": result.value,
        }
    )
    return rows


def _segments_table(result: Any, group_columns: tuple[str, ...]) -> str:
    """The segments, then all rows, as an aligned text table."""
    header = [*group_columns, "count", "weight_sum", "value"]
    lines = []
    for row in _rows(result, group_columns):
        keys = ["all" if row["segment"] == "all" else str(row[c]) for c in group_columns]
        lines.append([*keys, str(row["count"]), _number(row["weight_sum"]), _number(row["value"])])
    if not group_columns:
        lines[-1] = [str(result.count), _number(result.weight_sum), _number(result.value)]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, ["-" * width for width in widths], *lines]
    ]
    summary = f"{result.loss} ({result.reduction}) over {result.count} rows"
    if result.omitted:
        summary += f", {result.omitted} omitted (NaN)"
    return "\n".join([summary, *text])


def _write(result: Any, path: Path, group_columns: tuple[str, ...]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        import orjson

        path.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    import pyarrow as pa

    table = pa.Table.from_pylist(_rows(result, group_columns))
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)
