"""/v1/losses: the catalogue, and the compute route of every loss.

The app has one route per kind of request: `GET /v1/losses/{name}` describes a loss and
`POST /v1/losses/{name}` computes it, the loss found by a dict lookup in the registry (aliases
included). The OpenAPI spec also shows one compute operation per loss (`POST /v1/losses/huber`,
with huber's own request schema), so that a generated SDK gets `huber(...)`: those are the routes
of `documented`, generated from the registry, which the spec is built from but the app does not
route (the templated route answers the same paths). Describing a loss is one operation,
`get_loss(name)`, rather than one per loss.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from ...catalogue import catalogue, catalogue_entry
from ...losses import LOSSES, LossSpec, get_loss
from ..compute import compute_loss, run_compute
from ..deps import SettingsDep
from ..problems import problem_responses
from ..schemas import REQUEST_MODELS, CommonRequest, LossCatalogue, LossEntry, LossResponse
from . import answer_head

__all__ = ["documented", "router"]

JSON = "application/json"
COMPUTE_ERRORS = problem_responses(400, 401, 404, 408, 413, 415, 422, 500)

router = APIRouter(prefix="/v1/losses", tags=["losses"])
# Tagged by task, each loss's operation: the docs group them so, and SDKs make an API class (or
# module) per task.
documented = APIRouter(prefix="/v1/losses")

# The catalogue never changes while the process runs: encode it once.
_CATALOGUE = orjson.dumps({"losses": catalogue()})
_ENTRIES = {name: orjson.dumps(catalogue_entry(spec)) for name, spec in LOSSES.items()}
NameParam = Annotated[str, Path(description="A loss name or alias, e.g. huber or mse")]


@router.get(
    "",
    operation_id="list_losses",
    summary="List every loss",
    response_model=LossCatalogue,
    responses=problem_responses(401, 500),
)
async def list_losses() -> Response:
    """List every loss: parameters with bounds, input conventions, reductions, gradient."""
    return Response(_CATALOGUE, media_type=JSON)


@router.get(
    "/{name}",
    operation_id="get_loss",
    summary="Describe one loss",
    response_model=LossEntry,
    responses=problem_responses(401, 404, 500),
)
async def get_loss_entry(name: NameParam) -> Response:
    """Describe one loss; aliases resolve, an unknown name is a 404 naming close matches."""
    return Response(_ENTRIES[get_loss(name).name], media_type=JSON)


def request_body(model: type[CommonRequest], example: Any) -> dict[str, Any]:
    """The OpenAPI requestBody of a compute route: the model's schema, and its example.

    The route reads the body itself (see `deps.raw_body`), so FastAPI does not know the model;
    the schema is added to the components by `openapi.build_openapi`.
    """
    return {
        "requestBody": {
            "required": True,
            "description": "JSON or MessagePack, optionally with Content-Encoding: gzip",
            "content": {
                JSON: {
                    "schema": {"$ref": f"#/components/schemas/{model.__name__}"},
                    "example": example,
                }
            },
        }
    }


def _description(spec: LossSpec) -> str:
    params = "".join(
        f"\n- `{param.name}` ({param.type}, default {param.default!r}"
        + (f", {param.bounds_text()}" if param.bounds_text() else "")
        + f"): {param.description}"
        for param in spec.params
    )
    aliases = ", ".join(f"`{alias}`" for alias in (*spec.aliases, *spec.names)) or "none"
    return (
        f"{spec.summary}\n\nPer-sample loss: `{spec.formula}`\n\n"
        f"Predictions: {spec.predictions_text}; shapes {' or '.join(spec.shapes)}.\n"
        f"Targets: {spec.targets_text}.\n\nReductions: {', '.join(spec.reductions)}. "
        f"Gradient: {'yes' if spec.differentiable else 'no (null)'}. Aliases: {aliases}."
        + (f"\n\nParameters:{params}" if params else "")
    )


# The endpoint of the documented per-loss paths: the loss is the path's last segment.
async def _compute_own_path(request: Request, settings: SettingsDep) -> Response:
    return await compute_by_name(request, request.url.path.rsplit("/", 1)[-1], settings)


for _spec in LOSSES.values():
    documented.add_api_route(
        f"/{_spec.name}",
        _compute_own_path,
        methods=["POST"],
        operation_id=_spec.name,
        name=_spec.name,
        tags=[_spec.task],
        summary=_spec.summary.rstrip("."),
        description=_description(_spec),
        response_model=LossResponse,
        responses=COMPUTE_ERRORS,
        openapi_extra=request_body(REQUEST_MODELS[_spec.name], dict(_spec.example)),
    )


def _any_request_body() -> dict[str, Any]:
    body = request_body(REQUEST_MODELS["huber"], dict(LOSSES["huber"].example))
    content = body["requestBody"]["content"][JSON]
    content["schema"] = {
        "anyOf": [
            {"$ref": f"#/components/schemas/{model.__name__}"} for model in REQUEST_MODELS.values()
        ]
    }
    body["requestBody"]["description"] = (
        "The named loss's request (its own operation's schema); JSON, optionally gzipped"
    )
    return body


@router.post(
    "/{name}",
    operation_id="compute_loss",
    summary="Compute a loss named in the path",
    response_model=LossResponse,
    responses=COMPUTE_ERRORS,
    openapi_extra=_any_request_body(),
)
async def compute_by_name(request: Request, name: NameParam, settings: SettingsDep) -> Response:
    """Compute the loss named in the path, by its name or any alias (mse, MSE, l2): the request
    is that loss's own, as its operation documents it. An unknown name is a 404 before the body
    is read."""
    spec = get_loss(name)
    request.state.loss = spec.name
    compute = functools.partial(compute_loss, request, spec.name, settings=settings)
    return await run_compute(request, settings, compute)


answer_head(router)
