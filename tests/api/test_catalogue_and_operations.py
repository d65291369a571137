"""GET /v1/losses, GET /v1/losses/{name}, the probes, and API keys."""

from __future__ import annotations

from typing import Any

import pytest

from service.catalogue import catalogue, catalogue_entry
from service.losses import LOSSES

from .support import ApiClient, assert_problem


def test_list_losses_is_the_catalogue(client: ApiClient) -> None:
    response = client.get("/v1/losses")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"losses": catalogue()}
    assert [entry["name"] for entry in response.json()["losses"]] == list(LOSSES)


@pytest.mark.parametrize("name", ["huber", "mse", "log_loss", "KL", "sparse-cce"])
def test_get_loss_resolves_names_and_aliases(client: ApiClient, name: str) -> None:
    from service.losses import get_loss

    response = client.get(f"/v1/losses/{name}")
    assert response.status_code == 200
    assert response.json() == catalogue_entry(get_loss(name))


def test_catalogue_entry_tells_parameters_bounds_and_gradient(client: ApiClient) -> None:
    entry = client.get("/v1/losses/zero_one").json()
    assert entry["differentiable"] is False
    threshold = entry["parameters"][0]
    assert threshold["name"] == "threshold"
    assert threshold["nullable"] is False
    assert entry["parameters"][1]["name"] == "predictions_are_labels"
    assert entry["minimum"] == 0.0
    assert "labels in {0, 1}" in entry["inputs"]["targets"]
    quantile = client.get("/v1/losses/pinball").json()["parameters"][0]
    assert quantile["bounds"] == {"gt": 0.0, "lt": 1.0}


def test_probes(make_client: Any) -> None:
    client: ApiClient = make_client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    client.app.state.ready = False
    assert_problem(client.get("/readyz"), 503, "shutting down")
    assert client.get("/healthz").status_code == 200


def test_api_keys_guard_the_v1_routes(make_client: Any) -> None:
    client: ApiClient = make_client(api_keys=("s3cret", "other"))
    body = {"predictions": [1.0], "targets": [0.0]}
    problem = assert_problem(client.post("/v1/losses/mse", json=body), 401, "missing")
    assert problem["errors"][0]["loc"] == ["header", "x-api-key"]
    wrong = client.post("/v1/losses/mse", json=body, headers={"x-api-key": "nope"})
    assert_problem(wrong, 401, "not valid")
    assert_problem(client.get("/v1/losses"), 401)
    ok = client.post("/v1/losses/mse", json=body, headers={"x-api-key": "s3cret"})
    assert ok.status_code == 200
    bearer = client.get("/v1/losses", headers={"authorization": "Bearer other"})
    assert bearer.status_code == 200
    evaluate = {**body, "losses": [{"name": "mse"}]}
    assert_problem(client.post("/v1/evaluate", json=evaluate), 401)
    # Probes, the spec and the docs stay open.
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_api_key_is_checked_before_the_body(make_client: Any) -> None:
    client: ApiClient = make_client(api_keys=("k",), max_body_bytes=10)
    response = client.post("/v1/losses/mse", content=b"x" * 100)
    assert_problem(response, 401)
