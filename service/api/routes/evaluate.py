"""/v1/evaluate: several losses over one payload, decoded once, and their weighted total."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..compute import compute_evaluate, run_compute
from ..deps import SettingsDep
from ..problems import problem_responses
from ..schemas import EvaluateRequest, EvaluateResponse
from .losses import request_body

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["evaluate"])


@router.post(
    "/evaluate",
    operation_id="evaluate",
    summary="Evaluate several losses and their weighted total",
    response_model=EvaluateResponse,
    responses=problem_responses(400, 401, 408, 413, 415, 422, 500),
    openapi_extra=request_body(EvaluateRequest, EvaluateRequest.example),
)
async def evaluate(request: Request, settings: SettingsDep) -> Response:
    """Several losses over one payload, e.g. 0.7 bce + 0.3 dice: one result per loss, and
    `total`, the weighted sum of their values and gradients: a composite objective with its
    gradient, with no code sent to the server. Aliases are accepted as names."""
    compute = functools.partial(compute_evaluate, request, settings=settings)
    return await run_compute(request, settings, compute)
