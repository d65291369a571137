"""MessagePack as the second wire format: requests, responses, errors, the spec and the codec.

Every numeric answer is compared bit for bit with the core's own `evaluate` on the same inputs.
"""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import msgpack
import numpy as np
import pytest

from service.losses import LOSSES, evaluate, evaluate_many
from service.wire import (
    MSGPACK,
    MalformedBodyError,
    codec_for_accept,
    codec_for_content_type,
    pack_float_array,
)

from .support import PROBLEM, ApiClient, assert_problem

MSGPACK_TYPE = "application/msgpack"
RNG = np.random.default_rng(11)


def typed(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    """A typed array as a MessagePack client sends it: raw little-endian bytes."""
    array = np.ascontiguousarray(values, dtype="<f8")
    return {"dtype": "float64", "shape": list(array.shape), "data": array.tobytes()}


def post_msgpack(
    client: ApiClient, path: str, document: dict[str, Any], **headers: str
) -> httpx.Response:
    return client.post(
        path,
        content=msgpack.packb(document),
        headers={"Content-Type": MSGPACK_TYPE, "Accept": MSGPACK_TYPE, **headers},
    )


def answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MSGPACK_TYPE
    document: dict[str, Any] = msgpack.unpackb(response.content)
    return document


def as_array(value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, dict):
        assert isinstance(value["data"], bytes), "typed arrays carry raw bytes in MessagePack"
        return np.frombuffer(value["data"], "<f8").reshape(value["shape"])
    return np.asarray(value, dtype=np.float64)


def test_lists_in_and_out(client: ApiClient) -> None:
    predictions, targets = RNG.normal(size=(50, 3)), RNG.normal(size=(50, 3))
    document = {"predictions": predictions.tolist(), "targets": targets.tolist(), "delta": 0.5}
    result = answer(post_msgpack(client, "/v1/losses/huber", document))
    expected = evaluate("huber", predictions, targets, delta=0.5)
    assert result["value"] == expected.value
    assert isinstance(result["gradient"], list)
    np.testing.assert_array_equal(as_array(result["gradient"]), expected.gradient)
    np.testing.assert_array_equal(as_array(result["per_output"]), expected.per_output)
    assert result["count"] == 50


def test_typed_arrays_carry_raw_bytes_both_ways(client: ApiClient) -> None:
    predictions, targets = RNG.normal(size=5000), RNG.normal(size=5000)
    weights = RNG.uniform(0.5, 2.0, size=5000)
    document = {
        "predictions": typed(predictions),
        "targets": typed(targets),
        "sample_weight": typed(weights),
        "reduction": "none",
        "array_encoding": "base64",
    }
    result = answer(post_msgpack(client, "/v1/losses/mse", document))
    expected = evaluate("mse", predictions, targets, sample_weight=weights, reduction="none")
    np.testing.assert_array_equal(as_array(result["gradient"]), expected.gradient)
    np.testing.assert_array_equal(as_array(result["losses"]), expected.losses)
    assert result["loss_sum"] == expected.loss_sum


def test_msgpack_request_json_response_and_back(client: ApiClient) -> None:
    predictions, targets = [0.5, 1.5, 3.0], [1.0, 1.0, 2.0]
    expected = evaluate("mae", predictions, targets)
    from_msgpack = client.post(
        "/v1/losses/mae",
        content=msgpack.packb({"predictions": predictions, "targets": targets}),
        headers={"Content-Type": MSGPACK_TYPE},
    )
    assert from_msgpack.headers["content-type"] == "application/json"
    assert from_msgpack.json()["value"] == expected.value
    to_msgpack = client.post(
        "/v1/losses/mae",
        json={"predictions": predictions, "targets": targets},
        headers={"Accept": f"application/json;q=0.5, {MSGPACK_TYPE}"},
    )
    assert answer(to_msgpack)["value"] == expected.value


def test_evaluate_in_msgpack(client: ApiClient) -> None:
    predictions = RNG.uniform(0.05, 0.95, size=(40, 2))
    targets = (RNG.uniform(size=(40, 2)) > 0.5).astype(np.float64)
    terms = [{"name": "bce", "weight": 0.7}, {"name": "dice", "weight": 0.3}]
    document = {
        "predictions": typed(predictions),
        "targets": typed(targets),
        "losses": terms,
        "array_encoding": "base64",
    }
    result = answer(post_msgpack(client, "/v1/evaluate", document))
    expected = evaluate_many(terms, predictions, targets)
    assert result["total"]["value"] == expected.total.value
    assert expected.total.gradient is not None
    np.testing.assert_array_equal(as_array(result["total"]["gradient"]), expected.total.gradient)
    assert [item["weight"] for item in result["results"]] == [0.7, 0.3]


def test_gzip_request_body_in_msgpack(client: ApiClient) -> None:
    predictions, targets = RNG.normal(size=300), RNG.normal(size=300)
    body = gzip.compress(
        msgpack.packb({"predictions": typed(predictions), "targets": typed(targets)})
    )
    response = client.post(
        "/v1/losses/mse",
        content=body,
        headers={"Content-Type": MSGPACK_TYPE, "Accept": MSGPACK_TYPE, "Content-Encoding": "gzip"},
    )
    assert answer(response)["value"] == evaluate("mse", predictions, targets).value


def test_errors_stay_problem_json(client: ApiClient) -> None:
    headers = {"Content-Type": MSGPACK_TYPE, "Accept": MSGPACK_TYPE}
    broken = client.post("/v1/losses/mse", content=b"\xc1", headers=headers)
    assert_problem(broken, 400, "not valid MessagePack")
    truncated = client.post("/v1/losses/mse", content=msgpack.packb({"a": 1})[:-1], headers=headers)
    assert_problem(truncated, 400, "MessagePack")
    not_a_map = post_msgpack(client, "/v1/losses/mse", [1, 2])  # type: ignore[arg-type]
    assert_problem(not_a_map, 422, "an array")
    bad_bytes = {"predictions": {"dtype": "float64", "shape": [3], "data": b"\x00" * 16}}
    short = post_msgpack(client, "/v1/losses/mse", {**bad_bytes, "targets": [1.0, 2.0, 3.0]})
    assert_problem(short, 422, "predictions.data holds 16 bytes", "need 24")
    domain = post_msgpack(client, "/v1/losses/bce", {"predictions": [1.5], "targets": [1.0]})
    problem = assert_problem(domain, 422, "predictions[0] = 1.5")
    assert problem["status"] == 422
    unknown = post_msgpack(client, "/v1/losses/no_such_loss", {"predictions": [1.0]})
    assert unknown.headers["content-type"] == PROBLEM


def test_unsupported_content_type_names_both_formats(client: ApiClient) -> None:
    response = client.post("/v1/losses/mse", content=b"1,2", headers={"Content-Type": "text/csv"})
    assert_problem(response, 415, "application/json", MSGPACK_TYPE)


def test_openapi_lists_msgpack_for_every_compute_operation(client: ApiClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = [
        operation
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method == "post"
    ]
    assert len(operations) > len(LOSSES)
    for operation in operations:
        body = operation["requestBody"]["content"]
        assert body[MSGPACK_TYPE]["schema"] == body["application/json"]["schema"]
        ok = operation["responses"]["200"]["content"]
        assert ok[MSGPACK_TYPE]["schema"] == ok["application/json"]["schema"]
        for code, response in operation["responses"].items():
            if code >= "400":
                assert set(response["content"]) == {PROBLEM}
    assert "MessagePack" in spec["info"]["description"]


# --- the codec on its own


@pytest.mark.parametrize(
    "shape", [(0,), (3,), (15,), (16,), (70_000,), (4, 3), (2, 20), (3, 0), (2, 2, 2)]
)
def test_numpy_packing_is_msgpacks_own(shape: tuple[int, ...]) -> None:
    values = RNG.normal(size=shape)
    assert pack_float_array(values) == msgpack.packb(values.tolist())
    assert MSGPACK.encode({"a": values, "b": [values]}) == msgpack.packb(
        {"a": values.tolist(), "b": [values.tolist()]}
    )


def test_large_raw_bytes_are_written_as_bin() -> None:
    data = RNG.normal(size=1000)
    view = data.data.cast("B")
    decoded = msgpack.unpackb(MSGPACK.encode({"data": view, "small": b"ab"}))
    assert decoded == {"data": data.tobytes(), "small": b"ab"}


@pytest.mark.parametrize(
    "body",
    [b"", b"\xc1", msgpack.packb({"a": 1}) + b"\x00", msgpack.packb({1: 2}), b"\xa2\xff\xfe"],
)
def test_malformed_msgpack_is_a_malformed_body(body: bytes) -> None:
    with pytest.raises(MalformedBodyError, match="MessagePack"):
        MSGPACK.decode(body)


def test_negotiation() -> None:
    for name in (MSGPACK_TYPE, "application/x-msgpack", "application/vnd.msgpack"):
        assert codec_for_content_type(name) is MSGPACK
        assert codec_for_accept(name) is MSGPACK
    assert codec_for_accept(f"application/json, {MSGPACK_TYPE}").media_type == "application/json"
    assert codec_for_accept(f"application/json;q=0.1, {MSGPACK_TYPE}") is MSGPACK
    assert codec_for_accept(f"{MSGPACK_TYPE};q=0").media_type == "application/json"
