"""Pictures: `GET /v1/losses/{name}/plot` draws a loss and its gradient; `GET /` is the page
that shows every loss by task with its plot and a control per parameter.

The plot's parameters travel as query parameters named as in the loss's request body
(`?delta=2&from_logits=true`), with `targets` a comma-separated list of target values for the
curves of (N,) losses. A bad value is a 422 problem naming the query parameter.
"""

from __future__ import annotations

import math
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from ... import plots
from ...losses import DomainError, LossSpec, Param, ParameterError, get_loss
from ..problems import ProblemException, problem_responses
from . import answer_head
from .losses import NameParam

__all__ = ["page", "router"]

SVG = "image/svg+xml"
PNG = "image/png"
PAGE = (FilePath(__file__).resolve().parents[1] / "page" / "index.html").read_bytes()
# A picture depends only on its URL and the service's version: let browsers keep it.
CACHE_CONTROL = "public, max-age=3600"

router = APIRouter(prefix="/v1/losses", tags=["losses"])
page = APIRouter()


def _wants_png(accept: str) -> bool:
    """PNG only when asked for ahead of SVG: a browser's <img> (which lists svg) gets SVG."""
    types = [part.split(";")[0].strip() for part in accept.lower().split(",")]
    if PNG not in types:
        return False
    return SVG not in types or types.index(PNG) < types.index(SVG)


def _number(name: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise ParameterError(
            f"{name} = {text!r}; expected a number", field=name, value=text
        ) from None
    return number


def _value(param: Param, text: str) -> Any:
    """One query parameter's text as the parameter's type (its bounds are the core's to check)."""
    if param.type == "bool":
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise ParameterError(
            f"{param.name} = {text!r}; expected true or false", field=param.name, value=text
        )
    if param.type == "int":
        try:
            return int(text)
        except ValueError:
            raise ParameterError(
                f"{param.name} = {text!r}; expected an integer", field=param.name, value=text
            ) from None
    if param.type == "float_list":
        return [_number(param.name, item) for item in text.split(",")]
    if text.lower() == "null" and param.nullable:
        return None
    return _number(param.name, text)


def _query(spec: LossSpec, request: Request) -> tuple[dict[str, Any], tuple[float, ...] | None]:
    declared = {param.name: param for param in spec.params}
    params: dict[str, Any] = {}
    targets = None
    for key, text in request.query_params.multi_items():
        if key == "targets":
            values = tuple(_number("targets", item) for item in text.split(","))
            bad = [value for value in values if not math.isfinite(value)]
            if bad:
                raise ParameterError(
                    f"targets holds {bad[0]!r}; expected finite numbers", field="targets"
                )
            targets = values
        elif key in declared:
            params[key] = _value(declared[key], text)
        else:
            params[key] = text  # the core refuses it, naming the loss's parameters
    return params, targets


@router.get(
    "/{name}/plot",
    operation_id="plot_loss",
    summary="Draw a loss and its gradient",
    response_class=Response,
    responses={
        200: {
            "description": "The per-sample loss and its gradient against the prediction: SVG, "
            "or PNG when the Accept header asks for image/png ahead of image/svg+xml",
            "content": {
                SVG: {"schema": {"type": "string"}},
                PNG: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **problem_responses(401, 404, 422, 500),
    },
)
def plot_loss(
    request: Request,
    name: NameParam,
    targets: Annotated[
        str | None,
        Query(
            description="Comma-separated target values, one curve each (at most "
            f"{plots.MAX_TARGETS}; (N,) losses only). Any other query parameter is one of the "
            "loss's parameters, e.g. ?delta=2 or ?from_logits=true",
            examples=["0,1"],
        ),
    ] = None,
) -> Response:
    """Draw a loss and its gradient against the prediction, for the given parameters."""
    spec = get_loss(name)  # an unknown name is the 404 of the LossError handler
    png = _wants_png(request.headers.get("accept", ""))
    try:
        params, target_values = _query(spec, request)
        picture = plots.render(spec.name, params, target_values, "png" if png else "svg")
    except (ParameterError, DomainError) as error:
        field = error.field or "query"
        raise ProblemException(
            422, "parameter", error.message, errors=[(("query", field), error.message)]
        ) from None
    return Response(
        picture,
        media_type=PNG if png else SVG,
        headers={"Cache-Control": CACHE_CONTROL, "Vary": "Accept"},
    )


@page.get("/", include_in_schema=False)
async def index() -> HTMLResponse:
    """The page: every loss by task, its formula, parameters and plot, served with no outside
    assets (its script and style come from /static)."""
    return HTMLResponse(PAGE)


answer_head(router)
answer_head(page)
