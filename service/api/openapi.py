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
DESCRIPTION = """Loss values, gradients and mergeable aggregates over HTTP: one operation per loss,
with its parameters as top-level fields (grouped by task below), and `POST /v1/evaluate` for
several losses and their weighted total.

- **Arrays**: nested JSON lists of numbers (null is read as NaN). Any array field also takes a
  TypedArray `{dtype, shape, data}` (`data`: base64 of the C-order little-endian bytes), and
  `"array_encoding": "base64"` in a request asks for the answer's arrays in that form; both are
  for large payloads and are left out of the schemas, which SDK generators type as plain lists.
- **Formats**: JSON; MessagePack (`Content-Type` and `Accept: application/msgpack`, typed arrays
  carrying raw bytes); or an Apache Arrow IPC stream (`application/vnd.apache.arrow.stream`)
  whose columns are the array fields, with the other fields as query parameters
  (`?reduction=sum&delta=2`, `?losses=[{"name":"mse"}]`). A body with no Content-Type is read as
  JSON; any body may be gzipped (`Content-Encoding: gzip`). Limits are counted before arrays are
  built.
- **Compression**: a JSON answer of 1 KiB or more is gzipped for a client that accepts gzip and
  sent a request of at most 64 KiB; a larger request's answer (megabytes of numbers, which gzip
  slows more than it shrinks) only when the client refuses `identity`. MessagePack never.
- **Errors**: RFC 9457 `application/problem+json`, naming the field, the index and the value.
- **Keys**: open by default. With `LOSS_SERVICE_API_KEYS` set, every `/v1` operation needs
  `X-API-Key: <key>` or `Authorization: Bearer <key>` (else 401); `/healthz`, `/livez`,
  `/readyz`, `/metrics`, `/openapi.json` and `/docs` stay open. Every GET answers HEAD."""

# The docs' groups, in this order: the catalogue, composites, each task's losses, operations.
TAGS = [
    {
        "name": "losses",
        "description": "The catalogue: list and describe the losses, compute one named in the "
        "path, draw one",
    },
    {
        "name": "evaluate",
        "description": "Several losses over one payload, and their weighted total",
    },
    {"name": "regression", "description": "Real-valued targets"},
    {"name": "binary", "description": "Probabilities or logits of a positive class; margins"},
    {"name": "multiclass", "description": "Class scores or probabilities against labels"},
    {"name": "multilabel", "description": "Several independent labels per sample"},
    {"name": "distribution", "description": "Rows that are probability distributions"},
    {"name": "operations", "description": "Probes and metrics, open whatever the keys"},
]
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
        tags=TAGS,
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
