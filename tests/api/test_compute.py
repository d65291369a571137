"""POST /v1/losses/{name} and /v1/evaluate: every registry example, aliases, encodings, options."""

from __future__ import annotations

import base64
import gzip
import math
from typing import Any

import numpy as np
import orjson
import pytest

from service.losses import LOSSES, LossSpec, evaluate

from .support import ApiClient

SPECS = list(LOSSES.values())
IDS = [spec.name for spec in SPECS]


def typed(array: Any, dtype: str = "float64") -> dict[str, Any]:
    values = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    return {
        "dtype": dtype,
        "shape": list(values.shape),
        "data": base64.b64encode(values.tobytes()).decode(),
    }


def untyped(field: dict[str, Any]) -> np.ndarray:
    data = base64.b64decode(field["data"])
    return np.frombuffer(data, dtype=np.dtype(field["dtype"]).newbyteorder("<")).reshape(
        field["shape"]
    )


def expected(spec: LossSpec, body: dict[str, Any]) -> Any:
    options = {key: value for key, value in body.items() if key not in ("predictions", "targets")}
    return evaluate(spec.name, body["predictions"], body["targets"], **options)


def assert_finite_json(text: str) -> None:
    assert "NaN" not in text
    assert "Infinity" not in text


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_example_posted_to_its_route(client: ApiClient, spec: LossSpec) -> None:
    body = dict(spec.example)
    response = client.post(f"/v1/losses/{spec.name}", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert_finite_json(response.text)
    result = response.json()
    reference = expected(spec, body)
    assert result["loss"] == spec.name
    assert result["reduction"] == "mean"
    assert result["value"] == pytest.approx(reference.value, rel=1e-12)
    assert result["count"] == reference.count
    assert result["loss_sum"] == pytest.approx(reference.loss_sum, rel=1e-12)
    assert result["weight_sum"] == reference.weight_sum
    assert result["omitted"] == 0
    if spec.differentiable:
        np.testing.assert_allclose(result["gradient"], reference.gradient, rtol=1e-12)
    else:
        assert result["gradient"] is None


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_example_posted_to_evaluate(client: ApiClient, spec: LossSpec) -> None:
    example = dict(spec.example)
    params = {k: v for k, v in example.items() if k not in ("predictions", "targets")}
    body = {
        "predictions": example["predictions"],
        "targets": example["targets"],
        "losses": [{"name": spec.name, "weight": 2.0, **params}],
    }
    response = client.post("/v1/evaluate", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    reference = expected(spec, example)
    (single,) = result["results"]
    assert single["loss"] == spec.name
    assert single["weight"] == 2.0
    assert single["value"] == pytest.approx(reference.value, rel=1e-12)
    assert result["total"]["loss"] == "total"
    assert result["total"]["value"] == pytest.approx(2.0 * reference.value, rel=1e-12)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_typed_arrays_in_and_out_agree_with_lists(client: ApiClient, spec: LossSpec) -> None:
    example = dict(spec.example)
    as_lists = client.post(f"/v1/losses/{spec.name}", json=example).json()
    example["predictions"] = typed(example["predictions"], "float32")
    example["targets"] = typed(example["targets"])
    example["array_encoding"] = "base64"
    response = client.post(f"/v1/losses/{spec.name}", json=example)
    assert response.status_code == 200, response.text
    result = response.json()
    # float32 predictions: the values agree to float32 precision.
    assert result["value"] == pytest.approx(as_lists["value"], rel=1e-6)
    if spec.differentiable:
        gradient = untyped(result["gradient"])
        assert result["gradient"]["dtype"] == "float64"
        np.testing.assert_allclose(gradient, as_lists["gradient"], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_aliases_answer_like_the_name(client: ApiClient, spec: LossSpec) -> None:
    canonical = client.post(f"/v1/losses/{spec.name}", json=dict(spec.example)).json()
    for alias in (*spec.aliases, *spec.names, spec.name.upper(), spec.name.replace("_", "-")):
        response = client.post(f"/v1/losses/{alias}", json=dict(spec.example))
        assert response.status_code == 200, (alias, response.text)
        assert response.json() == canonical


def test_framework_names_work_in_evaluate_terms(client: ApiClient) -> None:
    body = {
        "predictions": [0.9, 0.2, 0.7, 0.4],
        "targets": [1.0, 0.0, 1.0, 1.0],
        "losses": [{"name": "BinaryCrossentropy"}, {"name": "mse_loss", "weight": 2.0}],
    }
    response = client.post("/v1/evaluate", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [result["loss"] for result in results] == ["binary_cross_entropy", "mean_squared_error"]


def test_zero_one_scores_the_spec_example_and_refuses_a_null_threshold(
    client: ApiClient,
) -> None:
    example = dict(LOSSES["zero_one"].example)
    # 0.9, 0.2, 0.7, 0.4 against 1, 0, 1, 1 at threshold 0.5: only the last is wrong.
    assert client.post("/v1/losses/zero_one", json=example).json()["value"] == 0.25
    # What openapi-generator's python client sends for an unset field must not mean "labels".
    response = client.post("/v1/losses/zero_one", json={**example, "threshold": None})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "threshold"]
    labels = {"predictions": [1, 0, 2], "targets": [1, 2, 2], "predictions_are_labels": True}
    assert client.post("/v1/losses/zero_one", json=labels).json()["value"] == pytest.approx(1 / 3)


def test_parameters_reach_the_core(client: ApiClient) -> None:
    body = {"predictions": [0.0, 3.0], "targets": [0.0, 0.0], "delta": 2.0}
    result = client.post("/v1/losses/huber", json=body).json()
    # |r| = 3 > delta = 2: delta (|r| - delta / 2) = 4; mean over 2 samples.
    assert result["value"] == pytest.approx(2.0)


def test_reduction_none_returns_per_sample_losses(client: ApiClient) -> None:
    body = {"predictions": [1.0, 2.0], "targets": [0.0, 0.0], "reduction": "none"}
    result = client.post("/v1/losses/mse", json=body).json()
    assert result["value"] is None
    assert result["losses"] == [1.0, 4.0]
    assert result["gradient"] == [2.0, 4.0]


def test_gradient_false_leaves_it_out(client: ApiClient) -> None:
    body = {"predictions": [1.0, 2.0], "targets": [0.0, 0.0], "gradient": False}
    result = client.post("/v1/losses/mse", json=body).json()
    assert "gradient" not in result
    assert result["value"] == 2.5


def test_response_keys_follow_the_contract_order(client: ApiClient) -> None:
    body = {
        "predictions": [[1.0, 2.0], [3.0, 4.0]],
        "targets": [[1.0, 1.0], [1.0, 1.0]],
        "group_by": ["a", "b"],
        "regularization": {"weights": [1.0, -2.0], "l1": 0.5, "l2": 0.25},
        "sample_weight": [1.0, 3.0],
    }
    result = client.post("/v1/losses/mse", json=body).json()
    assert list(result) == [
        "loss",
        "reduction",
        "value",
        "gradient",
        "per_output",
        "groups",
        "count",
        "weight_sum",
        "loss_sum",
        "omitted",
        "penalty",
        "cost",
        "weights_gradient",
    ]
    reference = evaluate(
        "mse",
        body["predictions"],
        body["targets"],
        sample_weight=body["sample_weight"],
        group_by=body["group_by"],
        regularization=body["regularization"],
    )
    assert result["value"] == pytest.approx(reference.value)
    assert result["penalty"] == pytest.approx(0.5 * 3.0 + 0.25 * 5.0)
    assert result["cost"] == pytest.approx(reference.value + result["penalty"])
    assert result["weights_gradient"] == pytest.approx([1.0, -1.5])
    assert result["per_output"] == pytest.approx(list(reference.per_output))
    assert [group["key"] for group in result["groups"]] == ["a", "b"]
    assert result["groups"][1]["value"] == pytest.approx((4.0 + 9.0) / 2)


def test_group_by_integer_keys_and_typed_keys(client: ApiClient) -> None:
    body = {"predictions": [1.0, 2.0, 3.0], "targets": [0.0, 0.0, 0.0], "group_by": [7, 7, 9]}
    listed = client.post("/v1/losses/mae", json=body).json()
    assert [(g["key"], g["count"], g["value"]) for g in listed["groups"]] == [
        (7, 2, 1.5),
        (9, 1, 3.0),
    ]
    body["group_by"] = typed([7, 7, 9], "int32")
    assert client.post("/v1/losses/mae", json=body).json()["groups"] == listed["groups"]


def test_null_is_nan_and_omit_drops_the_sample(client: ApiClient) -> None:
    body = {
        "predictions": [1.0, None, 3.0],
        "targets": [0.0, 0.0, 0.0],
        "nan_policy": "omit",
        "reduction": "sum",
    }
    response = client.post("/v1/losses/mse", json=body)
    assert_finite_json(response.text)
    result = response.json()
    assert result["omitted"] == 1
    assert result["count"] == 2
    assert result["value"] == 10.0
    assert result["gradient"] == [2.0, 0.0, 6.0]


def test_two_dimensional_typed_arrays(client: ApiClient) -> None:
    predictions = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    targets = np.array([0, 1], dtype=np.int64)
    body = {
        "predictions": typed(predictions),
        "targets": typed(targets, "int64"),
        "array_encoding": "base64",
    }
    result = client.post("/v1/losses/sparse_cce", json=body).json()
    assert result["value"] == pytest.approx(-(math.log(0.7) + math.log(0.8)) / 2)
    gradient = untyped(result["gradient"])
    assert gradient.shape == (2, 3)
    assert result["gradient"]["shape"] == [2, 3]


def test_gzip_request_body(client: ApiClient) -> None:
    body = orjson.dumps({"predictions": [1.0, 2.0], "targets": [0.0, 0.0]})
    response = client.post(
        "/v1/losses/mse",
        content=gzip.compress(body),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["value"] == 2.5


def test_concatenated_gzip_members_are_one_body(client: ApiClient) -> None:
    body = orjson.dumps({"predictions": [1.0, 2.0], "targets": [0.0, 0.0]})
    compressed = gzip.compress(body[:10]) + gzip.compress(body[10:])
    response = client.post(
        "/v1/losses/mse", content=compressed, headers={"content-encoding": "gzip"}
    )
    assert response.status_code == 200, response.text


def test_missing_content_type_is_read_as_json(client: ApiClient) -> None:
    body = orjson.dumps({"predictions": [1.0], "targets": [0.0]})
    response = client.post("/v1/losses/mse", content=body)
    assert response.status_code == 200, response.text


def test_evaluate_composite_objective(client: ApiClient) -> None:
    body = {
        "predictions": [[0.9, 0.1, 0.8], [0.2, 0.7, 0.6]],
        "targets": [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
        "losses": [{"name": "bce", "weight": 0.7}, {"name": "dice", "weight": 0.3, "smooth": 1.0}],
    }
    result = client.post("/v1/evaluate", json=body).json()
    bce = evaluate("bce", body["predictions"], body["targets"])
    dice = evaluate("dice", body["predictions"], body["targets"], smooth=1.0)
    names = [item["loss"] for item in result["results"]]
    assert names == ["binary_cross_entropy", "dice"]
    total = result["total"]
    assert total["value"] == pytest.approx(0.7 * bce.value + 0.3 * dice.value)
    np.testing.assert_allclose(
        total["gradient"], 0.7 * bce.gradient + 0.3 * dice.gradient, rtol=1e-12
    )


def test_evaluate_total_gradient_is_null_with_a_non_differentiable_loss(
    client: ApiClient,
) -> None:
    body = {
        "predictions": [0.9, 0.2],
        "targets": [1.0, 0.0],
        "losses": [{"name": "bce"}, {"name": "zero_one"}],
    }
    result = client.post("/v1/evaluate", json=body).json()
    assert result["total"]["gradient"] is None
    assert result["results"][0]["weight"] == 1.0


def test_evaluate_regularization_applies_to_the_total(client: ApiClient) -> None:
    body = {
        "predictions": [1.0, 2.0],
        "targets": [0.0, 0.0],
        "losses": [{"name": "mse"}, {"name": "mae"}],
        "regularization": {"weights": [2.0], "l2": 1.0},
    }
    result = client.post("/v1/evaluate", json=body).json()
    assert result["total"]["penalty"] == 4.0
    assert result["total"]["cost"] == pytest.approx(2.5 + 1.5 + 4.0)
    assert "penalty" not in result["results"][0]


def test_float_list_parameter(client: ApiClient) -> None:
    example = dict(LOSSES["categorical_cross_entropy"].example)
    example["class_weight"] = [1.0, 2.0, 0.5]
    result = client.post("/v1/losses/cce", json=example).json()
    reference = evaluate(
        "cce", example["predictions"], example["targets"], class_weight=(1, 2, 0.5)
    )
    assert result["value"] == pytest.approx(reference.value)
