"""API keys (LOSS_SERVICE_API_KEYS): every /v1 route needs one, as a Bearer token or X-API-Key,
compared in constant time against every key; a 401 problem with WWW-Authenticate otherwise; the
operations routes stay open; the spec declares the schemes."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.api import create_app
from service.config import Settings

from .conftest import PROBLEM, Client

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("first-key-0000", "second-key-1111", "third-key-2222")
MSE = {"predictions": [1.0, 2.0], "targets": [1.0, 3.0]}
V1 = [
    ("GET", "/v1/losses", None),
    ("GET", "/v1/losses/huber", None),
    ("POST", "/v1/losses/huber", MSE),
    ("POST", "/v1/losses/l2", MSE),
    ("POST", "/v1/losses/Mean-Squared-Error", MSE),
    ("POST", "/v1/evaluate", {**MSE, "losses": [{"name": "mse"}]}),
]


@pytest.mark.parametrize(("method", "path", "body"), V1)
def test_every_v1_route_needs_a_key(
    make_client: Callable[..., Client], method: str, path: str, body: Any
) -> None:
    client = make_client(api_keys=KEYS)
    for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
        refused = client.request(method, path, json=body, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["content-type"] == PROBLEM
        assert refused.headers["www-authenticate"] == 'Bearer realm="loss-service"'
        assert refused.json()["type"] == "urn:loss-service:problem:unauthorized"
    for headers in (
        {"x-api-key": KEYS[2]},
        {"authorization": f"Bearer {KEYS[0]}"},
        {"authorization": f"bearer {KEYS[1]}"},
    ):
        assert client.request(method, path, json=body, headers=headers).status_code == 200


def test_a_refusal_says_what_was_wrong_but_never_echoes_the_key(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(api_keys=KEYS)
    missing = client.post("/v1/losses/mse", json=MSE).json()
    assert "missing" in missing["detail"]
    assert "X-API-Key" in missing["detail"]
    assert "Bearer" in missing["detail"]
    wrong = client.post("/v1/losses/mse", json=MSE, headers={"x-api-key": "guess-123"})
    assert "not valid" in wrong.json()["detail"]
    assert "guess-123" not in wrong.text
    # Another scheme, or a prefix of a key, is no key.
    basic = client.post("/v1/losses/mse", json=MSE, headers={"authorization": f"Basic {KEYS[0]}"})
    assert basic.status_code == 401
    prefix = client.post("/v1/losses/mse", json=MSE, headers={"x-api-key": KEYS[0][:-1]})
    assert prefix.status_code == 401


def test_keys_are_compared_in_constant_time_against_every_key(
    make_client: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """hmac.compare_digest, and no early exit: a match on the first key costs what a match on
    the last (or none) costs, so timing tells nothing about which key or how much matched."""
    import service.api.deps as deps

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(given: bytes, key: bytes) -> bool:
        calls.append((given, key))
        return real(given, key)

    monkeypatch.setattr(deps.hmac, "compare_digest", counting)
    client = make_client(api_keys=KEYS)
    for given in (KEYS[0], KEYS[2], "wrong"):
        calls.clear()
        client.get("/v1/losses", headers={"x-api-key": given})
        assert [key for _, key in calls] == [key.encode() for key in KEYS]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"])
def test_operations_routes_stay_open(make_client: Callable[..., Client], path: str) -> None:
    assert make_client(api_keys=KEYS).get(path).status_code == 200


def test_without_keys_the_api_is_open(make_client: Callable[..., Client]) -> None:
    client = make_client()
    assert client.post("/v1/losses/mse", json=MSE).status_code == 200
    # A key sent to an open service is ignored, not refused.
    assert client.post("/v1/losses/mse", json=MSE, headers={"x-api-key": "x"}).status_code == 200


def _security(spec: dict[str, Any]) -> dict[str, Any]:
    """Each operation's requirement: its own, or else the document's (OpenAPI's rule)."""
    return {
        f"{method.upper()} {path}": operation.get("security", spec.get("security"))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


def test_spec_declares_the_schemes_required_with_keys_and_optional_without() -> None:
    keyed = create_app(Settings(api_keys=KEYS)).openapi()
    open_ = create_app(Settings()).openapi()
    for spec in (keyed, open_):
        schemes = spec["components"]["securitySchemes"]
        assert schemes["ApiKey"] == {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": schemes["ApiKey"]["description"],
        }
        assert (schemes["Bearer"]["type"], schemes["Bearer"]["scheme"]) == ("http", "bearer")
    required = [{"ApiKey": []}, {"Bearer": []}]
    for operation, security in _security(keyed).items():
        expected = required if " /v1/" in operation else []
        assert security == expected, operation
    for operation, security in _security(open_).items():
        # The empty requirement: a key may be sent, none is needed.
        expected = [*required, {}] if " /v1/" in operation else []
        assert security == expected, operation
    # Open, no /v1 operation has a requirement of its own: generators then hand each a plain
    # client (openapi-python-client demands an authenticated one for any requirement on it).
    assert "security" not in open_["paths"]["/v1/losses/huber"]["post"]
    assert "LOSS_SERVICE_API_KEYS" in open_["info"]["description"]


def test_committed_spec_declares_the_optional_schemes() -> None:
    committed = orjson.loads((ROOT / "openapi.json").read_bytes())
    assert set(committed["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    assert committed["security"][-1] == {}
