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


def test_livez_is_healthz(client: ApiClient) -> None:
    assert client.get("/livez").json() == client.get("/healthz").json() == {"status": "ok"}


def _get_paths(client: ApiClient) -> list[str]:
    """Every GET the service documents, with the path parameters filled in, and the GETs it
    serves outside the spec."""
    spec = client.get("/openapi.json").json()
    paths = [
        path.replace("{name}", "huber")
        for path, operations in spec["paths"].items()
        if "get" in operations
    ]
    return [*paths, "/", "/docs", "/openapi.json", "/static/page.css"]


def test_every_get_route_answers_head_with_its_headers_and_no_body(client: ApiClient) -> None:
    paths = _get_paths(client)
    assert {"/healthz", "/livez", "/readyz", "/metrics", "/v1/losses/huber/plot"} <= set(paths)
    identity = {"Accept-Encoding": "identity"}
    for path in paths:
        got = client.get(path, headers=identity)
        head = client.request("HEAD", path, headers=identity)
        assert (head.status_code, got.status_code) == (200, 200), path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        if path != "/metrics":  # the scrape itself is counted between the two
            assert head.headers["content-length"] == got.headers["content-length"], path


def test_head_is_not_in_the_spec_and_is_listed_in_allow(client: ApiClient) -> None:
    spec = client.get("/openapi.json").json()
    assert not [path for path, ops in spec["paths"].items() if "head" in ops]
    refused = client.post("/healthz")
    assert_problem(refused, 405)
    assert refused.headers["allow"] == "GET, HEAD"
    # HEAD on a POST-only route is refused like any other method.
    assert client.request("HEAD", "/v1/evaluate").status_code == 405


def test_head_keeps_the_api_key_rule(make_client: Any) -> None:
    client: ApiClient = make_client(api_keys=("k",))
    assert client.request("HEAD", "/v1/losses").status_code == 401
    assert client.request("HEAD", "/v1/losses", headers={"x-api-key": "k"}).status_code == 200
    assert client.request("HEAD", "/livez").status_code == 200


@pytest.mark.parametrize(
    ("range_", "status", "words"),
    [
        ("bytes=999999-", 416, ("'bytes=999999-'", "past the end")),
        ("items=0-1", 400, ("'items=0-1'", "malformed", "bytes range")),
        ("bytes=5-2", 400, ("'bytes=5-2'", "start must be less than end")),
    ],
)
def test_static_range_errors_are_problems(
    client: ApiClient, range_: str, status: int, words: tuple[str, ...]
) -> None:
    size = len(client.get("/static/page.css").content)
    response = client.get("/static/page.css", headers={"Range": range_})
    problem = assert_problem(response, status, *words)
    assert problem["errors"] == [{"loc": ["header", "range"], "msg": problem["detail"]}]
    if status == 416:
        assert response.headers["content-range"] == f"bytes */{size}"
        assert f"({size} bytes)" in problem["detail"]


def test_static_ranges_that_fit_are_served(client: ApiClient) -> None:
    whole = client.get("/static/page.css").content
    part = client.get("/static/page.css", headers={"Range": "bytes=2-9"})
    assert part.status_code == 206
    assert part.content == whole[2:10]


@pytest.mark.parametrize("path", ["/v1/losses/mse", "/v1/evaluate"])
def test_a_body_without_content_type_is_read_as_json_on_every_route(
    client: ApiClient, path: str
) -> None:
    body = b'{"predictions": [1.0, 2.0], "targets": [0.0, 2.0]'
    body += b', "losses": [{"name": "mse"}]}' if path == "/v1/evaluate" else b"}"
    response = client.post(path, content=body)
    assert "content-type" not in response.request.headers
    assert response.status_code == 200
    answer = response.json()
    assert (answer["value"] if path.endswith("mse") else answer["total"]["value"]) == 0.5


def test_a_form_body_is_refused_with_the_curl_hint(client: ApiClient) -> None:
    response = client.post(
        "/v1/losses/mse",
        content=b'{"predictions": [1.0], "targets": [0.0]}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    problem = assert_problem(response, 415, "curl -d", "Content-Type: application/json")
    assert problem["errors"][0]["loc"] == ["header", "content-type"]
