"""Operations: liveness (/healthz, and /livez as Kubernetes names it), readiness, Prometheus
metrics, and the offline interactive docs.

These stay open when API keys are configured: orchestrators probe them and Prometheus scrapes
them without credentials. The metrics hold counts, latencies and loss names, nothing from a
request's headers or body; keep /metrics off the public side of a proxy if counts are sensitive.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from ..deps import SettingsDep
from ..metrics import CONTENT_TYPE, Metrics
from ..problems import ProblemException, problem_responses
from ..schemas import Health
from . import answer_head

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get(
    "/livez",
    operation_id="livez",
    summary="Liveness (Kubernetes' name)",
    response_model=Health,
    responses=problem_responses(500),
)
@router.get(
    "/healthz",
    operation_id="healthz",
    summary="Liveness",
    response_model=Health,
    responses=problem_responses(500),
)
async def healthz() -> Response:
    """Liveness: the process answers."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness",
    response_model=Health,
    responses=problem_responses(500, 503),
)
async def readyz(request: Request) -> Response:
    """Readiness: the service takes requests (not while shutting down)."""
    if not getattr(request.app.state, "ready", False):
        raise ProblemException(503, "unavailable", "the service is shutting down")
    return Response(b'{"status":"ready"}', media_type="application/json")


# Swagger UI, set to be scanned: every group closed (a line per task), a filter box, no model
# section (the schemas are in each operation), request durations shown.
DOCS_PARAMETERS = {
    "validatorUrl": None,
    "docExpansion": "none",
    "filter": True,
    "defaultModelsExpandDepth": -1,
    "displayRequestDuration": True,
}
# An open service: the key requirement is optional, which Swagger UI still draws as a lock on
# every operation and an Authorize button (alone in its bar); they go, and the description says
# the service is open.
_OPEN_SERVICE_STYLE = (
    b"<style>.swagger-ui .scheme-container, .swagger-ui .authorization__btn { display: none; }"
    b"</style>"
)


@router.get("/docs", include_in_schema=False)
async def docs(request: Request, settings: SettingsDep) -> HTMLResponse:
    """Swagger UI over /openapi.json, from the service's own assets (FastAPI's "custom docs UI
    static assets"): no CDN, so /docs works with no internet; validatorUrl null keeps the spec
    from being sent to an online validator."""
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="loss-service API",
        swagger_js_url=f"{root}/static/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/static/swagger-ui.css",
        swagger_favicon_url=f"{root}/static/favicon-32x32.png",
        swagger_ui_parameters=DOCS_PARAMETERS,
    )
    if settings.api_keys:
        return page
    return HTMLResponse(bytes(page.body).replace(b"</head>", _OPEN_SERVICE_STYLE + b"</head>", 1))


_METRICS_EXAMPLE = (
    "# TYPE loss_service_http_requests_total counter\n"
    'loss_service_http_requests_total{method="POST",route="/v1/losses/huber",status="200"} 42.0\n'
)


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format (version 0.0.4)",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": _METRICS_EXAMPLE}},
        },
        **problem_responses(500),
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics of every worker: requests and latency by route and status, requests
    in flight, body bytes in and out, losses and elements scored per loss."""
    # A plain def: with several workers the scrape merges their files, file I/O off the loop.
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE)


answer_head(router)
