"""gzip responses: large ones compressed when the request accepts gzip, in JSON and MessagePack."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import pytest

from service.losses import evaluate
from service.wire import accepts_gzip

from .support import ApiClient

MSGPACK_TYPE = "application/msgpack"
RNG = np.random.default_rng(11)


def as_array(value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, dict):
        assert isinstance(value["data"], bytes), "typed arrays carry raw bytes in MessagePack"
        return np.frombuffer(value["data"], "<f8").reshape(value["shape"])
    return np.asarray(value, dtype=np.float64)


@pytest.mark.parametrize("media", ["application/json", MSGPACK_TYPE])
def test_large_responses_are_gzipped_when_accepted(client: ApiClient, media: str) -> None:
    predictions, targets = RNG.normal(size=2000), RNG.normal(size=2000)
    body = {"predictions": predictions.tolist(), "targets": targets.tolist()}
    headers = {"Accept": media, "Accept-Encoding": "gzip"}
    response = client.post("/v1/losses/mse", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == media
    assert "accept-encoding" in response.headers["vary"].lower()
    # httpx undoes the gzip: the document is the same as an uncompressed one.
    document = msgpack.unpackb(response.content) if media == MSGPACK_TYPE else response.json()
    expected = evaluate("mse", predictions, targets)
    np.testing.assert_array_equal(as_array(document["gradient"]), expected.gradient)


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


def test_accepts_gzip_reads_q_values() -> None:
    assert accepts_gzip("gzip, deflate")
    assert accepts_gzip("br;q=1, GZIP;q=0.5")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip(None)
    assert not accepts_gzip("identity, *")
