"""The OpenAPI document: FastAPI's, plus the request schemas of the routes that read their own
body, the problem schema, and (when keys are configured) the API key scheme."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..config import Settings
from .problems import Problem
from .routes import losses
from .schemas import REQUEST_MODELS, EvaluateRequest, TypedArray

__all__ = ["build_openapi"]

REF_TEMPLATE = "#/components/schemas/{model}"
TITLE = "loss-service"
DESCRIPTION = """Loss values, gradients and mergeable aggregates over HTTP.

Every loss of the catalogue is an operation of its own (`POST /v1/losses/{name}`) with its
parameters as top-level fields; `POST /v1/evaluate` scores several losses over one payload and
their weighted total. Arrays travel as nested JSON lists (null is NaN) or as typed arrays
`{dtype, shape, data}` with base64 little-endian bytes.

The same requests and responses also travel as MessagePack (`Content-Type:
application/msgpack`, and `Accept: application/msgpack` for the response), typed arrays then
carrying their raw bytes (bin) instead of base64: the compact form for millions of values.
A request's arrays may also come as a table: an Apache Arrow IPC stream (`Content-Type:
application/vnd.apache.arrow.stream`) whose columns are named after the array fields
(`predictions`, `targets`, `sample_weight`, `group_by`; (N, K) arrays as list or fixed-size-list
columns; string keys may be dictionary-encoded), with the other fields as query parameters, each
read as JSON where it is JSON (`?reduction=sum&delta=2`, `?losses=[{"name":"mse"}]` for
evaluate). The same limits apply, counted before any array is built.
A body with no Content-Type is read as JSON. Request bodies may be gzip-compressed
(`Content-Encoding: gzip`). A JSON response of 1 KiB or more is gzip-compressed for a client
that accepts gzip when its request was at most 64 KiB; a larger request's answer (megabytes of
numbers, which gzip slows more than it shrinks) is sent uncompressed unless the client refuses
`identity`; MessagePack is never compressed. Every error is an RFC 9457
`application/problem+json` document, whatever the request's format.

The service is open by default; when its operator sets `LOSS_SERVICE_API_KEYS`, every `/v1`
operation needs `X-API-Key: <key>` or `Authorization: Bearer <key>` (a missing or wrong key is a
401). `/healthz`, `/livez`, `/readyz`, `/metrics`, `/openapi.json` and `/docs` stay open. Every
GET answers HEAD too."""

MSGPACK = "application/msgpack"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
ARROW_BODY = {
    "type": "string",
    "format": "binary",
    "description": "An Arrow IPC stream: columns predictions, targets and optionally "
    "sample_weight and group_by; the other fields of the request as query parameters",
}


def _request_models() -> list[type[BaseModel]]:
    return [*REQUEST_MODELS.values(), EvaluateRequest, Problem, TypedArray]


def build_openapi(app: FastAPI, settings: Settings, version: str) -> dict[str, Any]:
    """The service's OpenAPI document."""
    spec = get_openapi(
        title=TITLE,
        version=version,
        description=DESCRIPTION,
        # The per-loss operations: documented, answered by the templated routes.
        routes=[*app.routes, *losses.documented.routes],
        separate_input_output_schemas=False,
    )
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    _, extra = models_json_schema(
        [(model, "validation") for model in _request_models()], ref_template=REF_TEMPLATE
    )
    for name, schema in extra.get("$defs", {}).items():
        if name in schemas and schemas[name] != schema:
            raise RuntimeError(f"two different schemas named {name}")
        schemas[name] = schema
    _drop_framework_validation_error(spec)
    _defaults_in_words(schemas)
    _add_msgpack(spec)
    _add_api_key(spec, required=bool(settings.api_keys))
    spec["components"]["schemas"] = dict(sorted(schemas.items()))
    return spec


def _drop_framework_validation_error(spec: dict[str, Any]) -> None:
    """FastAPI documents a 422 HTTPValidationError for routes with parameters; this service
    answers every 422 with a Problem, declared on each operation."""
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            response = operation.get("responses", {}).get("422")
            if response and "HTTPValidationError" in str(response):
                del operation["responses"]["422"]
    schemas = spec["components"]["schemas"]
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _defaults_in_words(schemas: dict[str, Any]) -> None:
    """Each property's default moves from the `default` keyword into its description.

    A field with a default may be left out, and every generator but one reads it so;
    openapi-typescript (with its default options) reads a `default` in a component schema as
    "always present" and makes the field required in requests. In words, the default still
    shows in the docs and in the SDKs' docstrings, the server still applies it, and no generator
    types an optional field as required.
    """
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            if "default" not in prop:
                continue
            default = prop.pop("default")
            if default is not None:
                text = orjson.dumps(default).decode()
                prop["description"] = f"{prop.get('description', '').rstrip('.')}. Default: {text}."


def _add_msgpack(spec: dict[str, Any]) -> None:
    """Every operation that reads a JSON body reads MessagePack too, and answers it in
    MessagePack when asked: the same schemas, listed under application/msgpack; and reads its
    arrays as an Arrow IPC stream, its other fields from the query string."""
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in body:
                continue
            body[MSGPACK] = {"schema": body["application/json"]["schema"]}
            body[ARROW_STREAM] = {"schema": ARROW_BODY}
            answer = operation.get("responses", {}).get("200", {}).get("content", {})
            if "application/json" in answer:
                answer[MSGPACK] = {"schema": answer["application/json"]["schema"]}


def _add_api_key(spec: dict[str, Any], *, required: bool) -> None:
    """Declare the API key schemes; probes, metrics and docs stay open.

    Always declared, so that an SDK generated from the committed spec can send a key. Without
    configured keys the requirement is the document's, with an empty alternative `{}` (the key
    is optional): generators then give every operation a plain client, where a requirement on
    the operation itself makes some of them demand an authenticated one. With keys, each /v1
    operation requires one. The open operations say so with an empty list.
    """
    spec["components"]["securitySchemes"] = {
        "ApiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "One of LOSS_SERVICE_API_KEYS, when the operator configured any",
        },
        "Bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <key>, the same keys as X-API-Key",
        },
    }
    keys: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
    spec["security"] = keys if required else [*keys, {}]
    for route, path in spec.get("paths", {}).items():
        for operation in path.values():
            if not route.startswith("/v1/"):
                operation["security"] = []
            elif required:
                operation["security"] = list(keys)
