"""Every error class answers application/problem+json naming the field, index and value."""

from __future__ import annotations

import gzip
import logging
from typing import Any

import pytest

from service.api.problems import TITLES

from .support import ApiClient, assert_problem

REGRESSION = {"predictions": [1.0, 2.0, 3.0], "targets": [1.0, 2.0, 4.0]}


def post(client: ApiClient, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body)


def test_unknown_route_is_a_404_problem(client: ApiClient) -> None:
    problem = assert_problem(client.get("/v2/nothing"), 404, "/v2/nothing")
    assert problem["title"] == TITLES["not-found"]


def test_unknown_loss_names_close_matches(client: ApiClient) -> None:
    problem = assert_problem(client.get("/v1/losses/hubber"), 404, "hubber", "huber")
    assert problem["errors"] == [{"loc": ["path", "name"], "msg": problem["detail"]}]
    assert_problem(post(client, "/v1/losses/mean_sqared_error", REGRESSION), 404, "mean_squared")


def test_a_name_that_means_another_function_says_what_computes_it(client: ApiClient) -> None:
    problem = assert_problem(
        post(client, "/v1/losses/cross_entropy", REGRESSION),
        404,
        "cross_entropy",
        "sparse_categorical_cross_entropy with from_logits: true",
    )
    assert problem["errors"][0]["loc"] == ["path", "name"]
    assert_problem(client.get("/v1/losses/NLLLoss"), 404, "log-probabilities")


def test_unknown_loss_is_refused_before_the_body_is_read(client: ApiClient) -> None:
    # A malformed body would be a 400 if it were read; the name is checked first.
    response = client.post("/v1/losses/nope", content=b"{", headers={"content-type": "text/x"})
    assert_problem(response, 404, "nope")


def test_unknown_loss_in_evaluate_is_a_422_naming_its_position(client: ApiClient) -> None:
    body = {**REGRESSION, "losses": [{"name": "mse"}, {"name": "hubr"}]}
    problem = assert_problem(post(client, "/v1/evaluate", body), 422, "losses[1]", "huber")
    assert problem["errors"][0]["loc"] == ["body", "losses", 1, "name"]


def test_wrong_method_is_a_405_problem_with_allow(client: ApiClient) -> None:
    response = client.request("PUT", "/v1/losses/huber")
    assert_problem(response, 405, "PUT", "GET, HEAD, POST")
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert_problem(client.get("/v1/evaluate"), 405, "POST")


def test_malformed_json_is_a_400(client: ApiClient) -> None:
    response = client.post(
        "/v1/losses/mse",
        content=b'{"predictions": [1,',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "not valid JSON")


def test_empty_body_is_a_400(client: ApiClient) -> None:
    assert_problem(client.post("/v1/losses/mse", content=b""), 400, "not valid JSON")


def test_nan_literal_is_not_json(client: ApiClient) -> None:
    response = client.post(
        "/v1/losses/mse",
        content=b'{"predictions": [NaN], "targets": [1]}',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "not valid JSON")


def test_broken_gzip_is_a_400(client: ApiClient) -> None:
    headers = {"content-encoding": "gzip"}
    assert_problem(client.post("/v1/losses/mse", content=b"not gzip", headers=headers), 400)
    truncated = gzip.compress(b'{"predictions": [1], "targets": [1]}')[:-12]
    assert_problem(
        client.post("/v1/losses/mse", content=truncated, headers=headers), 400, "truncated"
    )


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_non_json_body_is_a_415(client: ApiClient, content_type: str) -> None:
    response = client.post("/v1/losses/mse", content=b"x", headers={"content-type": content_type})
    problem = assert_problem(response, 415, content_type)
    assert problem["errors"][0]["loc"] == ["header", "content-type"]


def test_unknown_content_encoding_is_a_415(client: ApiClient) -> None:
    response = client.post("/v1/losses/mse", content=b"x", headers={"content-encoding": "br"})
    assert_problem(response, 415, "Content-Encoding")


def test_json_that_is_not_an_object_is_a_422(client: ApiClient) -> None:
    response = client.post("/v1/losses/mse", json=[1, 2, 3])
    assert_problem(response, 422, "array", "object")


def test_missing_field_is_a_422(client: ApiClient) -> None:
    problem = assert_problem(post(client, "/v1/losses/mse", {"predictions": [1.0]}), 422, "targets")
    assert problem["errors"] == [{"loc": ["body", "targets"], "msg": "is required"}]


def test_parameter_out_of_bounds_names_field_and_value(client: ApiClient) -> None:
    problem = assert_problem(
        post(client, "/v1/losses/huber", {**REGRESSION, "delta": -2.5}), 422, "delta", "-2.5"
    )
    assert problem["errors"][0]["loc"] == ["body", "delta"]
    assert problem["title"] == TITLES["validation"]


def test_parameter_of_the_wrong_type(client: ApiClient) -> None:
    assert_problem(post(client, "/v1/losses/huber", {**REGRESSION, "delta": "2"}), 422, "delta")
    assert_problem(post(client, "/v1/losses/bce", {**REGRESSION, "from_logits": 1}), 422, "from")


def test_unknown_field_suggests_the_parameter(client: ApiClient) -> None:
    problem = assert_problem(
        post(client, "/v1/losses/huber", {**REGRESSION, "delt": 1.0}), 422, "delt", "'delta'"
    )
    assert problem["errors"][0]["loc"] == ["body", "delt"]


def test_parameter_of_another_loss_is_refused(client: ApiClient) -> None:
    assert_problem(post(client, "/v1/losses/mse", {**REGRESSION, "delta": 1.0}), 422, "delta")


def test_evaluate_term_parameter_out_of_bounds(client: ApiClient) -> None:
    body = {**REGRESSION, "losses": [{"name": "mse"}, {"name": "huber", "delta": 0}]}
    problem = assert_problem(post(client, "/v1/evaluate", body), 422, "losses[1].delta")
    assert problem["errors"][0]["loc"] == ["body", "losses", 1, "delta"]


def test_evaluate_needs_a_loss(client: ApiClient) -> None:
    assert_problem(post(client, "/v1/evaluate", {**REGRESSION, "losses": []}), 422, "losses")


def test_unsupported_reduction(client: ApiClient) -> None:
    assert_problem(post(client, "/v1/losses/rmse", {**REGRESSION, "reduction": "sum"}), 422, "sum")
    problem = assert_problem(
        post(
            client, "/v1/evaluate", {**REGRESSION, "reduction": "sum", "losses": [{"name": "rmse"}]}
        ),
        422,
        "sum",
        "mean",
    )
    assert problem["title"] == TITLES["reduction"]


def test_shape_mismatch_names_both_shapes(client: ApiClient) -> None:
    body = {"predictions": [1.0, 2.0, 3.0], "targets": [1.0, 2.0]}
    problem = assert_problem(post(client, "/v1/losses/mse", body), 422, "(3,)", "(2,)")
    assert problem["title"] == TITLES["shape"]


def test_ragged_rows_name_the_row(client: ApiClient) -> None:
    body = {"predictions": [[1.0, 2.0], [3.0]], "targets": [[1.0, 2.0], [3.0, 4.0]]}
    problem = assert_problem(post(client, "/v1/losses/mse", body), 422, "predictions[1]", "2")
    assert problem["errors"][0]["loc"] == ["body", "predictions"]


def test_non_numbers_in_an_array_name_the_element(client: ApiClient) -> None:
    body = {"predictions": [1.0, "x", 3.0], "targets": [1.0, 2.0, 3.0]}
    assert_problem(post(client, "/v1/losses/mse", body), 422, "predictions[1]", "'x'")
    body = {"predictions": [[1.0, 2.0], [3.0, {"a": 1}]], "targets": [[1.0, 2.0], [3.0, 4.0]]}
    assert_problem(post(client, "/v1/losses/mse", body), 422, "predictions[1][1]")


def test_array_field_of_the_wrong_kind(client: ApiClient) -> None:
    assert_problem(post(client, "/v1/losses/mse", {"predictions": "abc", "targets": [1]}), 422)
    assert_problem(post(client, "/v1/losses/mse", {"predictions": None, "targets": [1]}), 422)
    body = {**REGRESSION, "group_by": [1.5, 2.5, 3.5]}
    assert_problem(post(client, "/v1/losses/mse", body), 422, "group_by")
    body = {**REGRESSION, "group_by": ["a", 1, "b"]}
    assert_problem(post(client, "/v1/losses/mse", body), 422, "group_by")


def test_nan_with_raise_names_count_and_first_index(client: ApiClient) -> None:
    body = {"predictions": [1.0, None, None], "targets": [1.0, 2.0, 3.0]}
    problem = assert_problem(post(client, "/v1/losses/mse", body), 422, "2", "predictions[1]")
    assert problem["errors"][0]["loc"] == ["body", "predictions", 1]
    assert problem["title"] == TITLES["non-finite"]


@pytest.mark.parametrize(
    ("loss", "body", "words"),
    [
        ("bce", {"predictions": [0.5, 1.5], "targets": [1.0, 0.0]}, ["predictions[1]", "1.5"]),
        (
            "sparse_cce",
            {"predictions": [[0.5, 0.5], [0.5, 0.5]], "targets": [0, 2]},
            ["targets[1]", "2"],
        ),
        (
            "hinge",
            {"predictions": [0.5, 0.5, 0.5], "targets": [1.0, -1.0, 0.0]},
            ["targets"],
        ),
        ("msle", {"predictions": [1.0, -1.0], "targets": [1.0, 0.0]}, ["predictions[1]", "-1"]),
        ("poisson", {"predictions": [-0.5, 1.0], "targets": [1.0, 0.0]}, ["predictions[0]"]),
        ("kl", {"predictions": [[0.5, 0.6]], "targets": [[0.5, 0.5]]}, ["predictions[0]", "1.1"]),
    ],
)
def test_value_outside_the_domain(
    client: ApiClient, loss: str, body: dict[str, Any], words: list[str]
) -> None:
    problem = assert_problem(post(client, f"/v1/losses/{loss}", body), 422, *words)
    assert problem["title"] == TITLES["domain"]


def test_negative_sample_weight(client: ApiClient) -> None:
    body = {**REGRESSION, "sample_weight": [1.0, -1.0, 1.0]}
    problem = assert_problem(post(client, "/v1/losses/mse", body), 422, "sample_weight[1]")
    assert problem["errors"][0]["loc"] == ["body", "sample_weight", 1]


def test_overflow_is_a_422_and_never_infinity(client: ApiClient) -> None:
    response = post(client, "/v1/losses/mse", {"predictions": [1e200], "targets": [-1e200]})
    problem = assert_problem(response, 422, "overflows float64")
    assert problem["title"] == TITLES["overflow"]
    assert "Infinity" not in response.text
    assert "inf" not in problem["errors"][0]["loc"]


def test_regularization_must_be_well_formed(client: ApiClient) -> None:
    body = {**REGRESSION, "regularization": {"weights": [1.0], "l1": -1}}
    assert_problem(post(client, "/v1/losses/mse", body), 422, "regularization.l1")
    body = {**REGRESSION, "regularization": {"l1": 1}}
    assert_problem(post(client, "/v1/losses/mse", body), 422, "regularization.weights")


def test_typed_array_byte_count_mismatch_names_the_field(client: ApiClient) -> None:
    body = {
        "predictions": {"dtype": "float64", "shape": [2, 3], "data": "AAAAAAAAAAA="},
        "targets": [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]],
    }
    problem = assert_problem(
        post(client, "/v1/losses/mse", body), 422, "predictions.data", "8 bytes", "48"
    )
    assert problem["errors"][0]["loc"] == ["body", "predictions", "data"]


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ({"dtype": "float16", "shape": [1], "data": "AAA="}, ["predictions.dtype", "float16"]),
        ({"dtype": "float64", "shape": [-1], "data": ""}, ["predictions.shape"]),
        ({"dtype": "float64", "shape": [1], "data": "***"}, ["predictions.data", "base64"]),
        ({"dtype": "float64", "shape": [1]}, ["predictions", "data"]),
        ({"dtype": "float64", "shape": [1], "data": "", "x": 1}, ["predictions", "x"]),
        ({"dtype": "float64", "shape": [1], "data": 5}, ["predictions.data"]),
    ],
)
def test_malformed_typed_arrays(client: ApiClient, field: dict[str, Any], words: list[str]) -> None:
    body = {"predictions": field, "targets": [1.0]}
    assert_problem(post(client, "/v1/losses/mse", body), 422, *words)


def test_unexpected_exception_is_a_generic_500(
    make_client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    import service.api.compute as compute

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(compute, "evaluate", explode)
    with caplog.at_level(logging.ERROR, logger="service.error"):
        response = post(client, "/v1/losses/mse", REGRESSION)
    problem = assert_problem(response, 500)
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert any("secret internals" in (record.exc_text or "") for record in caplog.records)
    assert problem["title"] == TITLES["internal"]


def test_request_id_is_honoured_or_generated(client: ApiClient) -> None:
    response = client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    unsafe = client.get("/healthz", headers={"x-request-id": "a b\tc"}).headers["x-request-id"]
    assert unsafe != "a b\tc"
    problem = assert_problem(client.get("/nope", headers={"x-request-id": "r-1"}), 404)
    assert problem["request_id"] == "r-1"
