"""`loss-service score`: a table of segments on the terminal, the whole result in --output, and
bad input as one line on stderr with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from service import datasets
from service.cli import main

RNG = np.random.default_rng(5)
N = 20_000


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    probabilities = RNG.uniform(0.02, 0.98, N)
    data = pd.DataFrame(
        {
            "p": probabilities,
            "y": (RNG.uniform(size=N) < probabilities).astype(np.float64),
            "w": RNG.integers(1, 3, N).astype(np.float64),
            "region": np.array(["north", "south"])[RNG.integers(0, 2, N)],
            "model": RNG.integers(0, 2, N),
        }
    )
    path = tmp_path_factory.mktemp("cli") / "day.parquet"
    pq.write_table(pa.Table.from_pandas(data, preserve_index=False), path, row_group_size=5_000)
    return path


ARGS = ["--loss", "bce", "--predictions", "p", "--targets", "y", "--sample-weight", "w"]


def test_segments_on_the_terminal_and_the_result_in_a_json_file(
    data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "result.json"
    code = main(
        [
            "score",
            str(data_file),
            *ARGS,
            "--group-by",
            "region",
            "--group-by",
            "model",
            "--output",
            str(output),
        ]
    )
    assert code == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == f"binary_cross_entropy (mean) over {N} rows"
    assert shown[1].split() == ["region", "model", "count", "weight_sum", "value"]
    assert len(shown) == 3 + 4 + 1  # summary, header, rule, 4 segments, all rows
    assert shown[-1].startswith("all")
    expected = datasets.score(
        data_file,
        "bce",
        predictions="p",
        targets="y",
        sample_weight="w",
        group_by=["region", "model"],
    )
    assert orjson.loads(output.read_bytes()) == orjson.loads(orjson.dumps(expected.to_dict()))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet_outputs_hold_a_row_per_segment(
    data_file: Path, tmp_path: Path, suffix: str
) -> None:
    output = tmp_path / f"result{suffix}"
    assert (
        main(["score", str(data_file), *ARGS, "--group-by", "region", "--output", str(output)]) == 0
    )
    table = pacsv.read_csv(output) if suffix == ".csv" else pq.read_table(output)
    rows = table.to_pylist()
    assert [row["segment"] for row in rows] == ["group", "group", "all"]
    assert sum(row["count"] for row in rows[:-1]) == rows[-1]["count"] == N
    assert {row["region"] for row in rows[:-1]} == {"north", "south"}


def test_parameters_and_a_local_cluster(
    data_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["score", str(data_file), *ARGS, "--param", "label_smoothing=0.1"]) == 0
    here = capsys.readouterr().out
    assert (
        main(
            [
                "score",
                str(data_file),
                *ARGS,
                "--param",
                "label_smoothing=0.1",
                "--scheduler",
                "local:2",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == here


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--predictions", "q"], "no column 'q' in"),
        (["--param", "delta=2"], "unknown parameter 'delta'"),
        (["--param", "label_smoothing=2"], "label_smoothing = 2"),
        (["--param", "nonsense"], "expected KEY=VALUE"),
        (["--loss", "cross_entropy"], "unknown loss 'cross_entropy'"),
        (["--output", "result.txt"], "expected a .json, .csv or .parquet file"),
        (["--scheduler", "local:zero"], "expected local:N"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    data_file: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["score", str(data_file), *ARGS, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("loss-service score: error: ")
    assert message in captured.err


def test_bad_files_and_rows_from_a_real_process(data_file: Path, tmp_path: Path) -> None:
    """As a user runs it: exit status 2, one line, no traceback."""
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet at all")
    bad = pq.read_table(data_file).to_pandas()
    bad.loc[12_345, "p"] = -0.5
    bad_file = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False), bad_file, row_group_size=5_000)
    cases = [
        ([str(corrupt)], f"cannot read {corrupt}"),
        ([str(bad_file)], "row 12345: predictions[12345] = -0.5"),
        ([str(tmp_path / "nothing-*.parquet")], "no file matches"),
    ]
    for paths, message in cases:
        completed = subprocess.run(
            [sys.executable, "-m", "service.cli", "score", *paths, *ARGS],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 2, completed.stderr
        assert completed.stdout == ""
        assert completed.stderr.count("\n") == 1, completed.stderr
        assert message in completed.stderr
        assert "Traceback" not in completed.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "service.cli", "score", str(data_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2
    assert usage.stderr.count("\n") == 1
    assert "required: --loss, --predictions, --targets" in usage.stderr
