"""service.client: in-process through httpx's ASGI transport, and against the live server.

Every result is compared with the core's own `evaluate` on the same inputs, so the client, the
wire formats and the routes are checked end to end against an independent computation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest

from service.api import create_app
from service.client import AsyncLossClient, LossClient, LossServiceError, Wire, encode_array
from service.config import Settings
from service.losses import LOSSES, LossResult, evaluate, evaluate_many

T = TypeVar("T")
RNG = np.random.default_rng(7)


def run(
    call: Callable[[AsyncLossClient], Awaitable[T]], *, wire: Wire = "auto", **settings: Any
) -> T:
    """Run one coroutine against a fresh in-process app."""

    async def main() -> T:
        transport = httpx.ASGITransport(app=create_app(Settings(**settings)))
        async with AsyncLossClient("http://testserver", transport=transport, wire=wire) as client:
            return await call(client)

    return asyncio.run(main())


def assert_same(actual: LossResult, expected: LossResult) -> None:
    assert actual.loss == expected.loss
    assert actual.reduction == expected.reduction
    assert actual.count == expected.count
    assert actual.omitted == expected.omitted
    for field in ("value", "weight_sum", "loss_sum", "penalty", "cost"):
        want = getattr(expected, field)
        got = getattr(actual, field)
        assert (got is None) == (want is None), field
        if want is not None:
            assert got == pytest.approx(want, rel=1e-15, abs=0), field
    for field in ("losses", "gradient", "per_output", "weights_gradient"):
        want = getattr(expected, field)
        got = getattr(actual, field)
        assert (got is None) == (want is None), field
        if want is not None:
            np.testing.assert_array_equal(got, want, err_msg=field)
    assert actual.groups == expected.groups


def test_small_request_matches_the_core() -> None:
    predictions, targets = RNG.normal(size=20), RNG.normal(size=20)
    result = run(lambda c: c.evaluate("huber", predictions, targets, delta=0.5))
    assert_same(result, evaluate("huber", predictions, targets, delta=0.5))


def test_large_arrays_travel_as_typed_arrays_both_ways_in_json() -> None:
    predictions = RNG.uniform(0.01, 0.99, size=(3000, 4))
    targets = (RNG.uniform(size=(3000, 4)) > 0.5).astype(np.float64)
    sent: list[bytes] = []
    received: list[bytes] = []

    async def call(client: AsyncLossClient) -> LossResult:
        async def record_request(request: httpx.Request) -> None:
            sent.append(request.content)

        async def record_response(response: httpx.Response) -> None:
            received.append(await response.aread())

        client._http.event_hooks = {"request": [record_request], "response": [record_response]}
        return await client.evaluate("bce", predictions, targets, reduction="none")

    result = run(call, wire="json")
    assert_same(result, evaluate("bce", predictions, targets, reduction="none"))
    assert b'"dtype":"float64"' in sent[0]
    assert b'"dtype":"float64"' in received[0]


def test_nan_travels_as_null_and_is_omitted() -> None:
    predictions = np.array([1.0, np.nan, 3.0, 4.0])
    targets = np.array([1.5, 2.0, np.nan, 3.0])
    assert encode_array(predictions, 100) == [1.0, None, 3.0, 4.0]
    result = run(lambda c: c.evaluate("mse", predictions, targets, nan_policy="omit"))
    assert_same(result, evaluate("mse", predictions, targets, nan_policy="omit"))
    assert result.omitted == 2


def test_groups_weights_and_regularization_round_trip() -> None:
    predictions, targets = RNG.normal(size=12), RNG.normal(size=12)
    weights = RNG.uniform(0.5, 2.0, size=12)
    keys = ["eu", "us", "apac"] * 4
    reg = {"weights": [0.5, -1.0, 2.0], "l1": 0.01, "l2": 0.1}
    options: dict[str, Any] = {"sample_weight": weights, "group_by": keys, "regularization": reg}
    result = run(lambda c: c.evaluate("mae", predictions, targets, **options))
    assert_same(result, evaluate("mae", predictions, targets, **options))
    assert result.groups is not None
    assert [g.key for g in result.groups] == ["apac", "eu", "us"]


def test_evaluate_many_matches_the_core() -> None:
    predictions = RNG.uniform(0.05, 0.95, size=(6, 3))
    targets = (RNG.uniform(size=(6, 3)) > 0.5).astype(np.float64)
    losses = [{"name": "bce", "weight": 0.7}, {"name": "dice", "weight": 0.3, "smooth": 1.0}]
    composite = run(lambda c: c.evaluate_many(losses, predictions, targets))
    expected = evaluate_many(losses, predictions, targets)
    assert composite.weights == [0.7, 0.3]
    for got, want in zip(composite.results, expected.results, strict=True):
        assert_same(got, want)
    assert composite.total.value == pytest.approx(expected.total.value, rel=1e-15)
    assert composite.total.gradient is not None
    assert expected.total.gradient is not None
    np.testing.assert_allclose(composite.total.gradient, expected.total.gradient, rtol=1e-15)


def test_catalogue_and_one_entry() -> None:
    async def call(client: AsyncLossClient) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return await client.losses(), await client.loss("pinball")

    entries, entry = run(call)
    assert [e["name"] for e in entries] == list(LOSSES)
    assert entry["name"] == "quantile"


def test_problem_details_raise_a_typed_exception() -> None:
    with pytest.raises(LossServiceError) as caught:
        run(lambda c: c.evaluate("bce", [0.5, 1.5], [1.0, 0.0]))
    error = caught.value
    assert error.status == 422
    assert "predictions[1]" in error.detail
    assert "1.5" in error.detail
    assert error.errors
    assert error.request_id
    with pytest.raises(LossServiceError) as unknown:
        run(lambda c: c.evaluate("hubber", [1.0], [1.0]))
    assert unknown.value.status == 404
    assert "huber" in unknown.value.detail


def test_api_key_is_sent() -> None:
    async def main() -> LossResult:
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with AsyncLossClient(
            "http://testserver", transport=transport, api_key="s3cret"
        ) as client:
            assert client._http.headers["authorization"] == "Bearer s3cret"
            return await client.evaluate("mse", [1.0, 2.0], [1.0, 1.0])

    assert asyncio.run(main()).value == 0.5


def test_sync_client_against_the_live_server(server: str) -> None:
    with LossClient(server, timeout=10.0) as client:
        result = client.evaluate("mse", [1.0, 2.0, 4.0], [1.0, 1.0, 1.0], reduction="sum")
        assert_same(result, evaluate("mse", [1.0, 2.0, 4.0], [1.0, 1.0, 1.0], reduction="sum"))
        assert result.value == 10.0
        composite = client.evaluate_many(
            [{"name": "mse"}, {"name": "mae", "weight": 2.0}], [1.0, 3.0], [0.0, 1.0]
        )
        assert composite.total.value == pytest.approx(2.5 + 2.0 * 1.5)
        with pytest.raises(LossServiceError) as caught:
            client.loss("nope")
        assert caught.value.status == 404


def test_sync_client_takes_a_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/losses/mse"
        return httpx.Response(
            200,
            json={
                "loss": "mean_squared_error",
                "reduction": "mean",
                "value": 0.25,
                "gradient": {"dtype": "float64", "shape": [1], "data": "AAAAAAAA4D8="},
                "count": 1,
                "weight_sum": 1.0,
                "loss_sum": 0.25,
                "omitted": 0,
            },
        )

    with LossClient("http://x", transport=httpx.MockTransport(handler)) as client:
        result = client.evaluate("mse", [1.5], [1.0])
    assert result.value == 0.25
    assert result.gradient is not None
    assert result.gradient.tolist() == [0.5]
