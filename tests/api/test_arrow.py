"""Arrow IPC stream bodies: the compute routes read a table's columns as the array fields and the
query string as the other fields; `LossClient.score_table` sends a DataFrame that way. Results are
compared with the core's `evaluate` on the same arrays."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from service.api import create_app
from service.client import ARROW_STREAM, AsyncLossClient, Wire
from service.config import Settings
from service.losses import LossResult, evaluate, evaluate_many

from .support import ApiClient

RNG = np.random.default_rng(11)


def ipc(table: pa.Table, batch_rows: int | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=batch_rows)
    return bytes(sink.getvalue().to_pybytes())


def post(client: ApiClient, path: str, table: pa.Table, **query: Any) -> httpx.Response:
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in query.items()}
    return client.post(
        path, content=ipc(table), params=params, headers={"content-type": ARROW_STREAM}
    )


def test_columns_and_query_fields_make_the_request(client: ApiClient) -> None:
    predictions, targets = RNG.normal(size=500), RNG.normal(size=500)
    weights = RNG.uniform(0.5, 2.0, size=500)
    keys = np.array(["a", "b", "c"])[RNG.integers(0, 3, 500)]
    table = pa.table(
        {
            "predictions": predictions,
            "targets": targets,
            "sample_weight": weights,
            "group_by": pa.array(keys).dictionary_encode(),
        }
    )
    response = post(client, "/v1/losses/huber", table, delta=0.5, reduction="sum")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = evaluate(
        "huber",
        predictions,
        targets,
        sample_weight=weights,
        group_by=list(keys),
        delta=0.5,
        reduction="sum",
    )
    assert body["value"] == pytest.approx(expected.value, rel=1e-15)
    np.testing.assert_allclose(body["gradient"], expected.gradient, rtol=1e-15)
    assert [g["key"] for g in body["groups"]] == ["a", "b", "c"]
    assert [g["count"] for g in body["groups"]] == [g.count for g in expected.groups or []]


def test_list_columns_are_n_by_k_and_evaluate_takes_losses_as_json(client: ApiClient) -> None:
    logits = RNG.normal(size=(50, 4))
    onehot = np.eye(4)[RNG.integers(0, 4, 50)]
    table = pa.table(
        {
            "predictions": pa.FixedSizeListArray.from_arrays(pa.array(logits.ravel()), 4),
            "targets": pa.array(onehot.tolist(), type=pa.list_(pa.float64())),
        }
    )
    losses = [
        {"name": "cce", "from_logits": True, "weight": 0.5},
        {"name": "kl", "from_logits": True},
    ]
    response = post(client, "/v1/evaluate", table, losses=losses, gradient=False)
    assert response.status_code == 200, response.text
    expected = evaluate_many(losses, logits, onehot, gradient=False)
    assert response.json()["total"]["value"] == pytest.approx(expected.total.value, rel=1e-14)


@pytest.mark.parametrize(
    ("table", "query", "status", "needle"),
    [
        (pa.table({"predictions": [1.0], "x": [1.0]}), {}, 422, "'x' is not an array field"),
        (pa.table({"predictions": ["a"], "targets": [1.0]}), {}, 422, "has type string"),
        (
            pa.table({"predictions": pa.array([[1.0], [1.0, 2.0]]), "targets": [[1.0], [1.0]]}),
            {},
            422,
            "predictions[1] holds 2 values",
        ),
        (pa.table({"predictions": [0.5, 1.5], "targets": [1.0, 0.0]}), {}, 422, "predictions[1]"),
        (pa.table({"predictions": [1.0], "targets": [1.0]}), {"predictions": "[1]"}, 422, "both"),
        (pa.table({"predictions": [1.0], "targets": [1.0]}), {"delta": "-1"}, 422, "delta"),
    ],
    ids=["unknown-column", "string-column", "ragged-lists", "domain", "twice", "bad-param"],
)
def test_bad_tables_are_422s(
    client: ApiClient, table: pa.Table, query: dict[str, str], status: int, needle: str
) -> None:
    path = (
        "/v1/losses/bce" if "domain" in needle or needle == "predictions[1]" else "/v1/losses/huber"
    )
    response = client.post(
        path, content=ipc(table), params=query, headers={"content-type": ARROW_STREAM}
    )
    assert response.status_code == status, response.text
    assert needle in response.json()["detail"]


def test_a_broken_stream_is_a_400(client: ApiClient) -> None:
    response = client.post(
        "/v1/losses/mse",
        content=b"\xff\xff\xff\xff" + b"x" * 100,
        headers={"content-type": ARROW_STREAM},
    )
    assert response.status_code == 400, response.text
    assert "Arrow IPC stream" in response.json()["detail"]


def test_elements_are_counted_before_conversion(make_client: Callable[..., ApiClient]) -> None:
    small = make_client(max_elements=100)
    table = pa.table({"predictions": np.zeros(60), "targets": np.zeros(60)})
    response = small.post(
        "/v1/losses/mse", content=ipc(table), headers={"content-type": ARROW_STREAM}
    )
    assert response.status_code == 413, response.text
    assert "120 array elements" in response.json()["detail"]


def test_a_stream_of_too_many_batches_is_refused(client: ApiClient) -> None:
    table = pa.table({"predictions": np.zeros(5000), "targets": np.zeros(5000)})
    response = client.post(
        "/v1/losses/mse", content=ipc(table, batch_rows=1), headers={"content-type": ARROW_STREAM}
    )
    assert response.status_code == 422, response.text
    assert "4096 record batches" in response.json()["detail"]


@pytest.mark.parametrize("kind", ["arrow", "pandas", "polars"])
@pytest.mark.parametrize("wire", ["json", "auto"])
def test_score_table_sends_a_dataframe(kind: str, wire: Wire) -> None:
    n = 6000
    frame = pd.DataFrame(
        {
            "p": RNG.uniform(0.05, 0.95, n),
            "y": RNG.integers(0, 2, n).astype(float),
            "w": RNG.uniform(0.5, 1.5, n),
            "region": np.array(["x", "y"])[RNG.integers(0, 2, n)],
        }
    )
    table: Any = {
        "arrow": pa.Table.from_pandas(frame),
        "pandas": frame,
        "polars": pl.from_pandas(frame),
    }[kind]

    async def call() -> LossResult:
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with AsyncLossClient("http://testserver", transport=transport, wire=wire) as client:
            return await client.score_table(
                "bce",
                table,
                predictions="p",
                targets="y",
                sample_weight="w",
                group_by="region",
                label_smoothing=0.1,
            )

    result = asyncio.run(call())
    expected = evaluate(
        "bce",
        frame["p"].to_numpy(),
        frame["y"].to_numpy(),
        sample_weight=frame["w"].to_numpy(),
        group_by=list(frame["region"]),
        label_smoothing=0.1,
    )
    assert result.value == pytest.approx(expected.value, rel=1e-15)
    assert result.gradient is not None
    assert expected.gradient is not None
    np.testing.assert_allclose(result.gradient, expected.gradient, rtol=1e-15)
    assert result.groups == expected.groups
