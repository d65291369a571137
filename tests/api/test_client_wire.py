"""service.client's wire formats: MessagePack for large arrays, JSON otherwise, a fallback when
the server does not read MessagePack, and optional gzip both ways.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgpack
import numpy as np
import orjson
import pytest

from service.api import create_app
from service.client import AsyncLossClient, LossClient, LossServiceError, Wire
from service.config import Settings
from service.losses import evaluate

from .support import PROBLEM

MSGPACK_TYPE = "application/msgpack"
RNG = np.random.default_rng(11)


def test_client_picks_msgpack_for_large_arrays_and_json_for_small() -> None:
    predictions, targets = RNG.normal(size=5000), RNG.normal(size=5000)
    sent: list[httpx.Request] = []
    received: list[httpx.Response] = []

    async def main() -> tuple[Any, Any]:
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with AsyncLossClient("http://testserver", transport=transport) as client:

            async def record_request(request: httpx.Request) -> None:
                sent.append(request)

            async def record_response(response: httpx.Response) -> None:
                received.append(response)

            client._http.event_hooks = {
                "request": [record_request],
                "response": [record_response],
            }
            large = await client.evaluate("mse", predictions, targets)
            small = await client.evaluate("mse", predictions[:10], targets[:10])
            return large, small

    large, small = asyncio.run(main())
    assert large.value == evaluate("mse", predictions, targets).value
    np.testing.assert_array_equal(large.gradient, evaluate("mse", predictions, targets).gradient)
    assert small.value == evaluate("mse", predictions[:10], targets[:10]).value
    assert [r.headers["content-type"] for r in sent] == [MSGPACK_TYPE, "application/json"]
    assert [r.headers["content-type"] for r in received] == [MSGPACK_TYPE, "application/json"]
    assert [r.headers["accept-encoding"] for r in sent] == ["identity", "identity"]
    assert "transfer-encoding" not in sent[0].headers  # streamed under its Content-Length
    assert large.gradient is not None
    assert large.gradient.flags.writeable


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_msgpack_body_streams_the_arrays_memory_under_its_length(asynchronous: bool) -> None:
    # 3 MB per array: several of the client's 1 MiB slices, and a bin 32 header.
    predictions, targets = RNG.normal(size=400_000), RNG.normal(size=400_000)
    bodies: list[tuple[httpx.Headers, bytes]] = []
    answer = {"loss": "mse", "reduction": "mean", "value": 1.0, "count": 400_000}
    answer |= {"weight_sum": 400_000.0, "loss_sum": 400_000.0, "omitted": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.headers, request.read()))
        return httpx.Response(200, json=answer)

    async def async_handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.headers, await request.aread()))
        return httpx.Response(200, json=answer)

    if asynchronous:

        async def main() -> None:
            transport = httpx.MockTransport(async_handler)
            async with AsyncLossClient("http://x", transport=transport) as client:
                await client.evaluate("mse", predictions, targets, gradient=False)

        asyncio.run(main())
    else:
        with LossClient("http://x", transport=httpx.MockTransport(handler)) as client:
            client.evaluate("mse", predictions, targets, gradient=False)
    [(headers, body)] = bodies
    assert headers["content-type"] == MSGPACK_TYPE
    assert int(headers["content-length"]) == len(body)
    assert "transfer-encoding" not in headers
    document = msgpack.unpackb(body)
    for field, values in (("predictions", predictions), ("targets", targets)):
        assert document[field] == {
            "dtype": "float64",
            "shape": [400_000],
            "data": values.astype("<f8").tobytes(),
        }
    assert document["gradient"] is False


def test_a_msgpack_body_of_many_small_values_goes_out_in_few_writes() -> None:
    # 300,000 group keys: one piece each would be one socket write each (18 s in
    # bench/datasets.py); msgpack packs a list of scalars whole, and small pieces are joined.
    keys = [f"segment-{i % 100}" for i in range(300_000)]
    predictions, targets = RNG.random(300_000), RNG.random(300_000)
    chunks: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = b""
        for chunk in request.stream:  # type: ignore[union-attr]
            chunks.append(len(chunk))
            body += chunk
        document = msgpack.unpackb(body)
        assert document["group_by"] == keys
        answer = {"loss": "mse", "reduction": "mean", "value": 1.0, "count": 300_000}
        answer |= {"weight_sum": 300_000.0, "loss_sum": 300_000.0, "omitted": 0}
        return httpx.Response(200, json=answer)

    with LossClient("http://x", transport=httpx.MockTransport(handler)) as client:
        client.evaluate("mse", predictions, targets, group_by=keys, gradient=False)
    assert sum(chunks) > 4_800_000  # two 2.4 MB arrays and the keys
    assert len(chunks) <= 16, len(chunks)


def test_msgpack_results_are_the_cores_own_and_writable() -> None:
    # One loss: read by the service's decoder, each array's bytes copied once into memory the
    # array owns; several losses: msgpack.unpackb, then a copy. Both writable, both exact.
    predictions, targets = RNG.normal(size=6000), RNG.normal(size=6000)
    weights = RNG.random(6000)

    async def main() -> tuple[Any, Any]:
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with AsyncLossClient("http://testserver", transport=transport, wire="msgpack") as c:
            one = await c.evaluate(
                "huber", predictions, targets, sample_weight=weights, reduction="none"
            )
            many = await c.evaluate_many(
                [{"name": "mse", "weight": 0.5}, {"name": "mae"}], predictions, targets
            )
            return one, many

    one, many = asyncio.run(main())
    expected = evaluate("huber", predictions, targets, sample_weight=weights, reduction="none")
    for got, want in ((one.gradient, expected.gradient), (one.losses, expected.losses)):
        assert got is not None
        assert got.dtype == np.float64
        assert got.flags.writeable
        np.testing.assert_array_equal(got, want)
    assert many.total.gradient is not None
    assert many.total.gradient.flags.writeable
    np.testing.assert_allclose(
        many.total.gradient,
        0.5 * evaluate("mse", predictions, targets).gradient
        + evaluate("mae", predictions, targets).gradient,
        rtol=1e-15,
    )


def test_client_falls_back_to_json_when_msgpack_is_refused() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["content-type"])
        if request.headers["content-type"] == MSGPACK_TYPE:
            problem = {"title": "Unsupported media type", "detail": "expected application/json"}
            return httpx.Response(415, json=problem, headers={"Content-Type": PROBLEM})
        body = orjson.loads(request.content)
        assert body["predictions"]["dtype"] == "float64"
        return httpx.Response(
            200,
            json={
                "loss": "mse",
                "reduction": "mean",
                "value": 1.0,
                "count": 5000,
                "weight_sum": 5000.0,
                "loss_sum": 5000.0,
                "omitted": 0,
            },
        )

    with LossClient("http://x", transport=httpx.MockTransport(handler)) as client:
        assert client.evaluate("mse", np.ones(5000), np.zeros(5000), gradient=False).value == 1.0
        assert client.evaluate("mse", np.ones(5000), np.zeros(5000), gradient=False).value == 1.0
    assert seen == [MSGPACK_TYPE, "application/json", "application/json"]

    with (
        LossClient("http://x", transport=httpx.MockTransport(handler), wire="msgpack") as client,
        pytest.raises(LossServiceError) as refused,
    ):
        client.evaluate("mse", [1.0], [0.0])
    assert refused.value.status == 415


@pytest.mark.parametrize("wire", ["json", "msgpack"])
@pytest.mark.parametrize("compress", [False, True])
def test_client_wire_and_compress(wire: Wire, compress: bool) -> None:
    predictions, targets = RNG.normal(size=3000), RNG.normal(size=3000)
    expected = evaluate("mae", predictions, targets, reduction="sum")
    sent: list[httpx.Request] = []

    async def main() -> Any:
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with AsyncLossClient(
            "http://testserver",
            transport=transport,
            wire=wire,
            compress=compress,
            typed_threshold=100,
        ) as client:

            async def record(request: httpx.Request) -> None:
                sent.append(request)

            client._http.event_hooks = {"request": [record], "response": []}
            return await client.evaluate("mae", predictions, targets, reduction="sum")

    result = asyncio.run(main())
    assert result.value == expected.value
    np.testing.assert_array_equal(result.gradient, expected.gradient)
    headers = sent[0].headers
    assert headers["content-type"] == {"json": "application/json", "msgpack": MSGPACK_TYPE}[wire]
    assert headers.get("content-encoding") == ("gzip" if compress else None)
    assert headers["accept-encoding"] == ("gzip, identity;q=0" if compress else "identity")


def test_client_refuses_an_unknown_wire() -> None:
    with pytest.raises(ValueError, match="wire"):
        LossClient(wire="xml")  # type: ignore[arg-type]
