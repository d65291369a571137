"""The OpenAPI spec as a product: committed, clean names, one operation per loss, examples that
the service accepts, every error documented, and docs that work with no internet."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.api import create_app
from service.api.schemas import camel
from service.config import Settings
from service.losses import LOSSES

from .support import ApiClient

ROOT = Path(__file__).resolve().parents[2]
CANONICAL = set(LOSSES)
ALIASES = {alias for spec in LOSSES.values() for alias in spec.aliases}


@pytest.fixture(scope="module")
def spec(client: ApiClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_committed_openapi_json_is_the_apps() -> None:
    committed = orjson.loads((ROOT / "openapi.json").read_bytes())
    served = orjson.loads(orjson.dumps(create_app(Settings()).openapi()))
    assert committed == served, "regenerate it: make openapi"


def test_operation_ids_are_stable_and_clean(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids))
    fixed = {"list_losses", "get_loss", "compute_loss", "evaluate", "plot_loss"}
    fixed |= {"healthz", "livez", "readyz", "metrics"}
    # One describe operation (get_loss), not one per loss.
    assert set(ids) == fixed | CANONICAL
    assert spec["paths"]["/v1/losses/huber"]["post"]["operationId"] == "huber"


def test_one_post_per_loss_and_aliases_hidden(spec: dict[str, Any]) -> None:
    paths = set(spec["paths"])
    for name in CANONICAL:
        assert f"/v1/losses/{name}" in paths
    for alias in ALIASES:
        assert f"/v1/losses/{alias}" not in paths
    assert "/docs" not in paths
    assert "/openapi.json" not in paths


def test_schema_names_are_clean(spec: dict[str, Any]) -> None:
    names = set(spec["components"]["schemas"])
    for name in names:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), name
        assert not name.endswith(("Input", "Output")), name
        assert not name.startswith("Body_"), name
    assert {"HuberRequest", "EvaluateRequest", "LossResponse", "Problem", "TypedArray"} <= names
    assert "HTTPValidationError" not in names


def test_every_ref_resolves(spec: dict[str, Any]) -> None:
    refs = set(re.findall(r'"\$ref":"#/components/schemas/([^"]+)"', orjson.dumps(spec).decode()))
    assert refs <= set(spec["components"]["schemas"])


def _dimensions(schema: dict[str, Any]) -> set[int]:
    """The numbers of dimensions an array field's lists admit: unconstrained items are rows or
    numbers, (N,) or (N, K)."""
    if schema["items"] == {}:
        return {1, 2}
    depth, node = 0, schema
    while node.get("type") == "array":
        depth, node = depth + 1, node["items"]
    return {depth}


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_each_loss_request_admits_exactly_its_shapes(spec: dict[str, Any], name: str) -> None:
    loss = LOSSES[name]
    properties = spec["components"]["schemas"][f"{camel(name)}Request"]["properties"]
    assert _dimensions(properties["predictions"]) == set(loss.ndims)
    targets = {"same": set(loss.ndims), "labels": {1}, "same_or_labels": {*loss.ndims, 1}}
    assert _dimensions(properties["targets"]) == targets[loss.target_shape]
    # A typed array is an alternative the description names, not a union the SDKs must type.
    assert "TypedArray" in properties["predictions"]["description"]


def _array_fields(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (model, field, schema)
        for model, definition in spec["components"]["schemas"].items()
        for field, schema in definition.get("properties", {}).items()
        if schema.get("type") == "array"
        or any(branch.get("type") == "array" for branch in schema.get("anyOf", []))
    ]


def test_array_fields_are_plain_lists_for_the_generators(spec: dict[str, Any]) -> None:
    """No union of a list with an object or another list, nor of numbers with lists (docs/sdk.md):
    at most `null`."""
    fields = _array_fields(spec)
    assert len(fields) > 4 * len(CANONICAL)
    for model, field, schema in fields:
        branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
        assert len(branches) == 1, (model, field)
        node = branches[0]
        while node.get("type") == "array":
            node = node["items"]
        if "discriminator" in node:  # evaluate's terms: objects a generator tells apart by name
            continue
        assert not {"anyOf", "oneOf"} & set(node), (model, field, node)


def test_no_component_property_has_a_default_keyword(spec: dict[str, Any]) -> None:
    """Defaults are in words: openapi-typescript reads a `default` as "always present"."""
    for name, definition in spec["components"]["schemas"].items():
        for field, schema in definition.get("properties", {}).items():
            assert "default" not in schema, (name, field)
    delta = spec["components"]["schemas"]["HuberRequest"]["properties"]["delta"]
    assert delta["description"].endswith("Default: 1.0.")


def test_a_two_dimensional_loss_has_only_two_dimensional_predictions(
    spec: dict[str, Any],
) -> None:
    properties = spec["components"]["schemas"]["SparseCategoricalCrossEntropyRequest"]
    assert _dimensions(properties["properties"]["predictions"]) == {2}
    assert _dimensions(properties["properties"]["targets"]) == {1}


def test_each_loss_request_has_its_parameters_with_bounds(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    huber = schemas["HuberRequest"]
    assert huber["properties"]["delta"]["exclusiveMinimum"] == 0
    assert set(huber["required"]) == {"predictions", "targets"}
    assert huber["additionalProperties"] is False
    quantile = schemas["QuantileRequest"]["properties"]["quantile"]
    assert (quantile["exclusiveMinimum"], quantile["exclusiveMaximum"]) == (0, 1)
    rmse = schemas["RootMeanSquaredErrorRequest"]["properties"]["reduction"]
    assert rmse.get("enum", [rmse.get("const")]) == ["mean"]
    for name, loss in LOSSES.items():
        request = next(s for s in schemas.values() if s["title"] == f"{_camel(name)}Request")
        assert {p.name for p in loss.params} <= set(request["properties"])
        for field in ("predictions", "targets", "sample_weight", "reduction", "gradient"):
            assert field in request["properties"]
        for field in ("nan_policy", "group_by", "regularization"):
            assert field in request["properties"]
        # Accepted, documented in words: its TypedArray answers are not the lists the
        # response schema describes.
        assert "array_encoding" not in request["properties"]
        operation = spec["paths"][f"/v1/losses/{name}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{_camel(name)}Request"}
        responses = operation["responses"]
        assert responses["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/LossResponse"
        }


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def test_evaluate_losses_are_a_discriminated_union(spec: dict[str, Any]) -> None:
    losses = spec["components"]["schemas"]["EvaluateRequest"]["properties"]["losses"]["items"]
    assert losses["discriminator"]["propertyName"] == "name"
    # Names and aliases, as the service takes them.
    assert set(losses["discriminator"]["mapping"]) == CANONICAL | ALIASES
    assert len(losses["oneOf"]) == len(CANONICAL)
    huber = spec["components"]["schemas"]["HuberTerm"]
    assert huber["properties"]["name"]["const"] == "huber"
    assert huber["properties"]["delta"]["exclusiveMinimum"] == 0
    mse = spec["components"]["schemas"]["MeanSquaredErrorTerm"]["properties"]["name"]
    assert [branch["const"] for branch in mse["anyOf"]] == ["mean_squared_error", "mse", "l2"]


def test_every_operation_documents_problem_responses(spec: dict[str, Any]) -> None:
    """One response per class of error (4XX, 5XX), each a Problem, its statuses in words."""
    for path, _, operation in operations(spec):
        errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
        assert set(errors) <= {"4XX", "5XX"}, path
        assert "500" in errors["5XX"]["description"], path
        for response in errors.values():
            assert response["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
        if operation["operationId"] in CANONICAL | {"evaluate"}:
            for status in ("400", "413", "415", "422"):
                assert f"- {status}: " in errors["4XX"]["description"], (path, status)
    assert spec["components"]["schemas"]["Problem"]["examples"][0]["status"] == 422


def test_each_loss_is_grouped_under_its_task(spec: dict[str, Any]) -> None:
    names = [tag["name"] for tag in spec["tags"]]
    for name, loss in LOSSES.items():
        assert spec["paths"][f"/v1/losses/{name}"]["post"]["tags"] == [loss.task]
        assert loss.task in names
    for _, _, operation in operations(spec):
        assert set(operation["tags"]) <= set(names)


def test_every_request_example_is_accepted(client: ApiClient, spec: dict[str, Any]) -> None:
    posted = 0
    for path, method, operation in operations(spec):
        if method != "post" or "{" in path:  # compute_loss: any loss's request, by name
            continue
        content = operation["requestBody"]["content"]["application/json"]
        ref = content["schema"]["$ref"].rsplit("/", 1)[1]
        examples = spec["components"]["schemas"][ref]["examples"]
        for example in [content["example"], *examples]:
            response = client.post(path, json=example)
            assert response.status_code == 200, (path, response.text)
            posted += 1
    assert posted == 2 * (len(CANONICAL) + 1)


def test_responses_validate_against_the_documented_models(client: ApiClient) -> None:
    from service.api.schemas import EvaluateResponse, LossCatalogue, LossEntry, LossResponse

    LossCatalogue.model_validate_json(client.get("/v1/losses").content, strict=True)
    LossEntry.model_validate_json(client.get("/v1/losses/bce").content, strict=True)
    for name, loss in LOSSES.items():
        keys = [1] * len(loss.example["targets"])
        body = {**loss.example, "reduction": loss.reductions[-1], "group_by": keys}
        response = client.post(f"/v1/losses/{name}", json=body)
        LossResponse.model_validate_json(response.content, strict=True)
    body = {**LOSSES["dice"].example, "losses": [{"name": "dice"}, {"name": "bce"}]}
    EvaluateResponse.model_validate_json(client.post("/v1/evaluate", json=body).content)


def test_api_keys_are_optional_in_the_open_spec_and_required_with_keys(
    spec: dict[str, Any],
) -> None:
    keys = [{"ApiKey": []}, {"Bearer": []}]
    # Open: the document's requirement has the empty alternative, and no operation has one of
    # its own (a generator then hands every operation a plain client).
    assert spec["security"] == [*keys, {}]
    assert "security" not in spec["paths"]["/v1/losses/huber"]["post"]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    secured = create_app(Settings(api_keys=("k",))).openapi()
    assert "ApiKey" in secured["components"]["securitySchemes"]
    assert secured["security"] == keys
    assert secured["paths"]["/v1/losses/huber"]["post"]["security"] == keys
    assert secured["paths"]["/healthz"]["get"]["security"] == []


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_docs_reference_no_external_host(client: ApiClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert not re.search(r"(https?:)?//", page), "the docs page must not name any host"
    parser = _Links()
    parser.feed(page)
    assert parser.urls, "the page loads its assets"
    for url in parser.urls:
        assert url.startswith("/static/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100
    assert '"validatorUrl": null' in page
    assert "/openapi.json" in page
