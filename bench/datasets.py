"""Datasets benchmark: scoring Parquet files against the least work it needs, against what a user
writes today, on one and two Dask workers, and tables over HTTP. Ratios from one run.

    python bench/datasets.py [--rows 100000000] [--small-rows 10000000] [--repeat 3]

1. BCE with sample weights and two group columns (100 segments) over `--rows` rows of Parquet made
   here: `score` against the floor (pyarrow reading the same columns batch by batch plus one numpy
   pass over them: their sums), target <= 1.5; and against pandas `read_parquet` + `groupby` +
   scikit-learn `log_loss` per group (the same numbers), target >= 5x faster.
2. Peak RSS of a fresh process scoring `--small-rows` and `--rows` rows: the larger within 1.2x of
   the smaller (memory bounded by the batch, not the file).
3. `--scheduler local:2` over `local:1` on the same file (same numbers), beside the ceiling these
   cores allow: the floor read by two processes at once, each over half the row groups, over the
   floor in one.
4. Arrow IPC body over HTTP, 2 x 1e6 float64 and a string group column, against the same request in
   MessagePack (typed arrays, keys as strings), both through `LossClient`, against a
   `loss-service serve` started here on 127.0.0.1: target <= 1.2.

Times are medians of `--repeat` runs. The files go to a temporary folder, removed at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory comes first on sys.path, and bench/http.py beside this file
# would stand in for the standard library's http package, which httpx imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from service import datasets

BATCH = 1 << 20
COLUMNS = ["p", "y", "w", "model", "region"]
SCORE = {
    "predictions": "p",
    "targets": "y",
    "sample_weight": "w",
    "group_by": ["model", "region"],
}


def make_parquet(path: Path, rows: int, seed: int = 0) -> None:
    """p uniform in (0, 1), y drawn from it, w in {1, 2, 3}, 10 models x 10 regions."""
    rng = np.random.default_rng(seed)
    models = pa.array([f"model-{i}" for i in range(10)])
    schema = pa.schema(
        [
            ("p", pa.float64()),
            ("y", pa.int8()),
            ("w", pa.float64()),
            ("model", pa.dictionary(pa.int8(), pa.string())),
            ("region", pa.int16()),
        ]
    )
    chunk = 10_000_000
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            p = rng.uniform(0.001, 0.999, n)
            table = pa.table(
                {
                    "p": p,
                    "y": (rng.uniform(size=n) < p).astype(np.int8),
                    "w": rng.integers(1, 4, n).astype(np.float64),
                    "model": pa.DictionaryArray.from_arrays(
                        pa.array(rng.integers(0, 10, n).astype(np.int8)), models
                    ),
                    "region": rng.integers(0, 10, n).astype(np.int16),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=BATCH)


def median_time(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def floor(path: Path, row_groups: list[int] | None = None) -> float:
    """Read the scored columns batch by batch and make one numpy pass over each: their sums."""
    total = 0.0
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(
        batch_size=BATCH, columns=COLUMNS, row_groups=row_groups, use_threads=False
    ):
        for name in ("p", "y", "w", "region"):
            total += float(np.add.reduce(batch.column(name).to_numpy(zero_copy_only=False)))
        total += float(np.add.reduce(batch.column("model").indices.to_numpy()))
    return total


def floor_in_two(path: Path) -> float:
    groups = list(range(pq.ParquetFile(path).num_row_groups))
    halves = [groups[::2], groups[1::2]]
    with ProcessPoolExecutor(2) as pool:
        return sum(pool.map(floor, [path, path], halves))


def pandas_sklearn(path: Path) -> dict[tuple[str, int], float]:
    """What a user writes today: the whole file into pandas, then log_loss per group."""
    import pandas as pd
    from sklearn.metrics import log_loss

    frame = pd.read_parquet(path, columns=COLUMNS)
    values = {}
    for key, group in frame.groupby(["model", "region"], observed=True):
        values[key] = log_loss(group["y"], group["p"], sample_weight=group["w"], labels=[0, 1])
    return values


def peak_rss_mb(path: Path) -> float:
    """Peak RSS of a fresh process that scores `path`."""
    # VmHWM, not ru_maxrss: Linux carries the forking parent's high-water mark over an exec into
    # ru_maxrss, and this parent held the pandas baseline.
    code = (
        "from pathlib import Path\n"
        "from service import datasets\n"
        f"datasets.score({str(path)!r}, 'bce', **{SCORE!r})\n"
        "status = Path('/proc/self/status').read_text().splitlines()\n"
        "print(next(line.split()[1] for line in status if line.startswith('VmHWM:')))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=3600
    )
    return int(completed.stdout.strip().splitlines()[-1]) / 1024


def on_cluster(path: Path, workers: int, repeat: int) -> tuple[float, Any]:
    """Scoring on a LocalCluster of `workers` processes, started beforehand (as `local:N` does,
    without its start-up in the time)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        datasets.score(path, "bce", scheduler=client, **SCORE)  # warm the workers
        return median_time(lambda: datasets.score(path, "bce", scheduler=client, **SCORE), repeat)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_rows(repeat: int) -> dict[str, Any]:
    """Arrow body against MessagePack typed arrays, 2 x 1e6 float64 and a string group column."""
    import httpx

    from service.client import LossClient

    n = 1_000_000
    rng = np.random.default_rng(1)
    frame = pa.table(
        {
            "p": rng.uniform(0.01, 0.99, n),
            "y": rng.integers(0, 2, n).astype(np.float64),
            "segment": pa.array(np.array([f"s{i}" for i in range(20)])[rng.integers(0, 20, n)]),
        }
    )
    keys = frame.column("segment").to_pylist()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSS_SERVICE_")}
    env["LOSS_SERVICE_LOG_LEVEL"] = "warning"
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        with LossClient(base, timeout=120) as client:
            predictions = frame.column("p").to_numpy()
            targets = frame.column("y").to_numpy()

            def arrow() -> Any:
                return client.score_table(
                    "bce", frame, predictions="p", targets="y", group_by="segment"
                )

            def packed() -> Any:
                return client.evaluate("bce", predictions, targets, group_by=keys)

            arrow(), packed()  # warm
            arrow_s, by_arrow = median_time(arrow, repeat)
            msgpack_s, by_msgpack = median_time(packed, repeat)
        assert by_arrow.value == by_msgpack.value
        assert by_arrow.groups == by_msgpack.groups
        return {
            "arrow_ms": round(arrow_s * 1e3, 1),
            "msgpack_ms": round(msgpack_s * 1e3, 1),
            "arrow_over_msgpack": round(arrow_s / msgpack_s, 3),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rows", type=float, default=1e8)
    parser.add_argument("--small-rows", type=float, default=1e7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-baseline", action="store_true", help="no pandas + scikit-learn")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args(argv)
    rows, small_rows = int(args.rows), int(args.small_rows)
    result: dict[str, Any] = {"rows": rows, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as folder:
        big, small = Path(folder) / "big.parquet", Path(folder) / "small.parquet"
        started = time.perf_counter()
        make_parquet(big, rows)
        make_parquet(small, small_rows, seed=1)
        result["file_mb"] = round(big.stat().st_size / 1e6, 1)
        result["write_s"] = round(time.perf_counter() - started, 1)
        print(f"wrote {rows:,} rows ({result['file_mb']} MB) in {result['write_s']} s", flush=True)

        floor_s, _ = median_time(lambda: floor(big), args.repeat)
        score_s, scored = median_time(lambda: datasets.score(big, "bce", **SCORE), args.repeat)
        result |= {
            "floor_s": round(floor_s, 2),
            "score_s": round(score_s, 2),
            "score_over_floor": round(score_s / floor_s, 3),
            "segments": len(scored.groups),
        }
        print(
            f"1. score {score_s:.2f} s, floor {floor_s:.2f} s: {score_s / floor_s:.3f}", flush=True
        )
        if not args.skip_baseline:
            baseline_s, values = median_time(lambda: pandas_sklearn(big), 1)
            for group in scored.groups:
                key = (group.key["model"], group.key["region"])
                assert abs(values[key] - group.value) <= 1e-9 * group.value, key
            result |= {
                "pandas_sklearn_s": round(baseline_s, 2),
                "speedup_over_pandas_sklearn": round(baseline_s / score_s, 2),
            }
            print(
                f"1. pandas + scikit-learn {baseline_s:.2f} s: {baseline_s / score_s:.2f}x",
                flush=True,
            )

        small_mb, big_mb = peak_rss_mb(small), peak_rss_mb(big)
        result |= {
            "peak_rss_small_mb": round(small_mb, 1),
            "peak_rss_big_mb": round(big_mb, 1),
            "rss_big_over_small": round(big_mb / small_mb, 3),
        }
        print(
            f"2. peak RSS {small_mb:.0f} MB ({small_rows:,}) vs {big_mb:.0f} MB ({rows:,})",
            flush=True,
        )

        one_s, on_one = on_cluster(big, 1, args.repeat)
        two_s, on_two = on_cluster(big, 2, args.repeat)
        assert on_one == on_two == scored, "the clusters' numbers differ"
        ceiling_s, _ = median_time(lambda: floor_in_two(big), args.repeat)
        result |= {
            "local1_s": round(one_s, 2),
            "local2_s": round(two_s, 2),
            "local1_over_local2": round(one_s / two_s, 3),
            "ceiling_floor1_over_floor2": round(floor_s / ceiling_s, 3),
            "same_numbers": True,
        }
        print(
            f"3. local:1 {one_s:.2f} s, local:2 {two_s:.2f} s: {one_s / two_s:.3f}x "
            f"(ceiling {floor_s / ceiling_s:.3f}x)",
            flush=True,
        )
    if not args.skip_http:
        result["http"] = http_rows(max(args.repeat, 5))
        print(f"4. {result['http']}", flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
