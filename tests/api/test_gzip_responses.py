"""gzip responses where compression pays: JSON, the documents and the plots when the request
accepts gzip and is small (or refuses identity); never MessagePack."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import orjson
import pytest
from starlette.datastructures import Headers

from service.api.compression import compresses
from service.losses import evaluate
from service.wire import (
    RESPONSE_GZIP_MAX_REQUEST_BYTES,
    RESPONSE_GZIP_MIN_BYTES,
    accepts_gzip,
    refuses_identity,
)

from .support import ApiClient

MSGPACK_TYPE = "application/msgpack"
RNG = np.random.default_rng(11)


def as_array(value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, dict):
        assert isinstance(value["data"], bytes), "typed arrays carry raw bytes in MessagePack"
        return np.frombuffer(value["data"], "<f8").reshape(value["shape"])
    return np.asarray(value, dtype=np.float64)


def _body(values: int) -> tuple[dict[str, Any], Any, Any]:
    predictions, targets = RNG.normal(size=values), RNG.normal(size=values)
    return {"predictions": predictions.tolist(), "targets": targets.tolist()}, predictions, targets


def test_json_responses_to_small_requests_are_gzipped_when_accepted(client: ApiClient) -> None:
    body, predictions, targets = _body(500)  # ~20 KB of JSON in, ~10 KB out
    response = client.post("/v1/losses/mse", json=body, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    # httpx undoes the gzip: the document is the same as an uncompressed one.
    expected = evaluate("mse", predictions, targets)
    np.testing.assert_array_equal(as_array(response.json()["gradient"]), expected.gradient)


@pytest.mark.parametrize("accept_encoding", ["gzip, deflate", "gzip, deflate, br, zstd"])
def test_large_requests_get_identity_with_default_headers(
    client: ApiClient, accept_encoding: str
) -> None:
    # The default headers of httpx/requests and of a browser: the answer to a request above
    # RESPONSE_GZIP_MAX_REQUEST_BYTES is not compressed (gzip of its arrays costs more than it
    # saves on a fast link).
    body, _, _ = _body(5000)
    assert len(orjson.dumps(body)) > RESPONSE_GZIP_MAX_REQUEST_BYTES
    response = client.post(
        "/v1/losses/mse", json=body, headers={"Accept-Encoding": accept_encoding}
    )
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert len(response.content) > RESPONSE_GZIP_MIN_BYTES


def test_a_client_that_refuses_identity_gets_gzip_at_any_size(client: ApiClient) -> None:
    body, predictions, targets = _body(5000)
    headers = {"Accept-Encoding": "gzip, identity;q=0"}
    response = client.post("/v1/losses/mse", json=body, headers=headers)
    assert response.headers["content-encoding"] == "gzip"
    expected = evaluate("mse", predictions, targets)
    np.testing.assert_array_equal(as_array(response.json()["gradient"]), expected.gradient)


def test_messagepack_is_never_gzipped(client: ApiClient) -> None:
    body, predictions, targets = _body(500)
    headers = {"Accept": MSGPACK_TYPE, "Accept-Encoding": "gzip, identity;q=0"}
    response = client.post("/v1/losses/mse", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == MSGPACK_TYPE
    assert "content-encoding" not in response.headers
    document = msgpack.unpackb(response.content)
    expected = evaluate("mse", predictions, targets)
    np.testing.assert_array_equal(as_array(document["gradient"]), expected.gradient)


def test_documents_and_plots_are_gzipped(client: ApiClient) -> None:
    for url in ("/v1/losses", "/openapi.json", "/v1/losses/huber/plot", "/static/page.js"):
        response = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert response.headers["content-encoding"] == "gzip", url


def test_a_chunked_request_of_unknown_size_is_treated_as_large() -> None:
    headers = Headers({"accept-encoding": "gzip", "transfer-encoding": "chunked"})
    assert not compresses(headers)
    assert compresses(Headers({"accept-encoding": "gzip", "content-length": "100"}))
    assert compresses(Headers({"accept-encoding": "gzip"}))  # a GET


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip;q=0", "br"])
def test_no_gzip_unless_accepted(client: ApiClient, accept_encoding: str) -> None:
    body = {"predictions": RNG.normal(size=2000).tolist(), "targets": [0.0] * 2000}
    response = client.post(
        "/v1/losses/mse", json=body, headers={"Accept-Encoding": accept_encoding}
    )
    assert response.status_code == 200
    assert "content-encoding" not in response.headers


def test_small_responses_are_not_gzipped(client: ApiClient) -> None:
    body = {"predictions": [1.0, 2.0], "targets": [1.0, 1.0]}
    response = client.post("/v1/losses/mse", json=body, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers


def test_refuses_identity_reads_q_values() -> None:
    assert refuses_identity("gzip, identity;q=0")
    assert refuses_identity("gzip;q=1, *;q=0")
    assert not refuses_identity("gzip, *;q=0, identity")
    assert not refuses_identity("gzip, deflate")
    assert not refuses_identity(None)


def test_accepts_gzip_reads_q_values() -> None:
    assert accepts_gzip("gzip, deflate")
    assert accepts_gzip("br;q=1, GZIP;q=0.5")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip(None)
    assert not accepts_gzip("identity, *")
