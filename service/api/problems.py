"""One error shape everywhere: RFC 9457 problem details, and the handlers that produce them.

Every error the service answers, its own and the framework's, leaves through `problem_response`:
`application/problem+json` with `{type, title, status, detail, errors, request_id}`. `errors` lists
`{loc, msg}` per offending field, `loc` in FastAPI's form (`["body", "predictions", 3]`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from ..losses import LOSSES, LossError, ResultOverflowError, UnknownLossError
from ..losses import errors as loss_errors
from ..wire import errors as wire_errors
from ..wire import loc_text, shorten, show
from .request_id import request_id

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Problem",
    "ProblemException",
    "ProblemItem",
    "install_handlers",
    "problem_body",
    "problem_response",
    "problem_responses",
    "validation_problem",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:loss-service:problem:"
Loc = tuple[str | int, ...]

# kind -> title; the type URI is TYPE_PREFIX + kind.
TITLES: dict[str, str] = {
    "malformed-body": "Malformed request body",
    "malformed-request": "Malformed HTTP request",
    "unauthorized": "Missing or invalid API key",
    "not-found": "Not found",
    "unknown-loss": "Unknown loss",
    "method-not-allowed": "Method not allowed",
    "malformed-range": "Malformed Range header",
    "range-not-satisfiable": "Range not satisfiable",
    "body-too-large": "Request body too large",
    "too-many-elements": "Too many array elements",
    "limit": "Over a limit of the service",
    "timeout": "Request took too long to arrive",
    "cancelled": "Client closed the request",
    "unsupported-media-type": "Unsupported media type",
    "validation": "Invalid request",
    "array-format": "Invalid array",
    "shape": "Shape mismatch",
    "non-finite": "NaN or infinity in the input",
    "domain": "Value outside the loss's domain",
    "parameter": "Invalid parameter",
    "reduction": "Unsupported reduction",
    "overflow": "Result overflows float64",
    "internal": "Internal server error",
    "unavailable": "Service unavailable",
    "http": "HTTP error",
}

_LOSS_KINDS: dict[type[LossError], str] = {
    loss_errors.UnknownLossError: "unknown-loss",
    loss_errors.ShapeError: "shape",
    loss_errors.NonFiniteError: "non-finite",
    loss_errors.DomainError: "domain",
    loss_errors.ParameterError: "parameter",
    loss_errors.ReductionError: "reduction",
    loss_errors.ResultOverflowError: "overflow",
}
_WIRE_KINDS: dict[type[wire_errors.WireError], str] = {
    wire_errors.MalformedBodyError: "malformed-body",
    wire_errors.UnsupportedMediaTypeError: "unsupported-media-type",
    wire_errors.BodyTooLargeError: "body-too-large",
    wire_errors.TooManyElementsError: "too-many-elements",
    wire_errors.ArrayFormatError: "array-format",
    wire_errors.LimitError: "limit",
    wire_errors.NumberRangeError: "non-finite",
}
_STATUS_KINDS = {
    400: "malformed-body",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    408: "timeout",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "validation",
    500: "internal",
    503: "unavailable",
}


# Errors a 422 lists one by one; past these the detail only counts them.
MAX_LISTED_ERRORS = 20


class ProblemItem(BaseModel):
    """One offending field: where it is and what is wrong with it."""

    # Names and indexes: any JSON value to the generators (see schemas.py's _KEY).
    loc: list[Annotated[str | int, WithJsonSchema({})]] = Field(
        description='Path to the field, names and indexes, e.g. ["body", "predictions", 3]'
    )
    msg: str = Field(description="What is wrong, naming the value and what was expected")


_EXAMPLE_DETAIL = (
    "predictions[1] = 1.5; expected a probability in [0, 1]; pass from_logits=true if these "
    "are logits"
)


class Problem(BaseModel):
    """An RFC 9457 problem: every error response of the service has this shape."""

    # The one example the docs show for every error response.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:loss-service:problem:domain",
                    "title": "Value outside the loss's domain",
                    "status": 422,
                    "detail": _EXAMPLE_DETAIL,
                    "errors": [{"loc": ["body", "predictions", 1], "msg": _EXAMPLE_DETAIL}],
                    "request_id": "8f82e46294551d77aa32d3c0372707b2",
                }
            ]
        }
    )

    type: str = Field(description="A URI naming the kind of problem")
    title: str = Field(description="A short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong in this request: field, index and value")
    errors: list[ProblemItem] = Field(default_factory=list, description="One entry per field")
    request_id: str = Field(description="The request's X-Request-ID, for the logs")


class ProblemException(Exception):
    """Raised anywhere in the API to answer with a problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: Sequence[tuple[Loc, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem_body(
    status: int,
    kind: str,
    detail: str,
    request_id: str,
    errors: Iterable[tuple[Loc, str]] = (),
) -> bytes:
    """The problem document as bytes."""
    return orjson.dumps(
        {
            "type": TYPE_PREFIX + kind,
            "title": TITLES.get(kind, TITLES["http"]),
            "status": status,
            "detail": detail,
            "errors": [{"loc": list(loc), "msg": msg} for loc, msg in errors],
            "request_id": request_id,
        }
    )


def problem_response(request: Request, problem: ProblemException) -> Response:
    """`problem` as the problem+json response to `request`."""
    body = problem_body(
        problem.status, problem.kind, problem.detail, request_id(request.scope), problem.errors
    )
    return Response(body, problem.status, problem.headers, PROBLEM_MEDIA_TYPE)


def validation_problem(
    errors: Sequence[Mapping[str, Any]],
    *,
    prefix: Loc = (),
    fields: Iterable[str] = (),
) -> ProblemException:
    """A 422 problem from pydantic's error list; `fields`: the accepted names, for hints.

    At most `MAX_LISTED_ERRORS` are explained; the rest are counted in the detail, so that a
    body of a million unknown keys costs neither a million hints nor a megabyte answer.
    """
    known = list(fields)
    items: list[tuple[Loc, str]] = []
    for error in errors[:MAX_LISTED_ERRORS]:
        # A key is echoed (and matched against the fields) by a short prefix only.
        loc = tuple(
            shorten(part) if isinstance(part, str) else part
            for part in _clean_loc((*prefix, *error["loc"]))
        )
        kind = error.get("type", "")
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), known, n=1) if known else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"is not a field of this request{hint}"
        else:
            message = f"= {show(error.get('input'), 60)}: {error['msg']}"
        items.append((loc, message))
    shown = [
        f"{loc_text(loc[1:] if loc[:1] == ('body',) else loc) or 'body'} {msg}"
        for loc, msg in items
    ]
    more = len(errors) - 3
    detail = "; ".join(shown[:3]) + (f"; and {more} more" if more > 0 else "")
    return ProblemException(422, "validation", detail, errors=items)


def _clean_loc(loc: Loc) -> Loc:
    """Drop the tag pydantic adds inside a discriminated union: losses.0.huber.delta."""
    parts = list(loc)
    for i in range(len(parts) - 2):
        if parts[i] == "losses" and isinstance(parts[i + 1], int) and parts[i + 2] in LOSSES:
            del parts[i + 2]
            break
    return tuple(parts)


def loss_error_problem(error: LossError) -> ProblemException:
    """A LossError from the core: 404 for an unknown loss, 422 for everything else."""
    kind = next((k for cls, k in _LOSS_KINDS.items() if isinstance(error, cls)), "validation")
    if isinstance(error, UnknownLossError):
        return ProblemException(
            404, kind, error.message, errors=[(("path", "name"), error.message)]
        )
    field = error.field or "body"
    root = "result" if isinstance(error, ResultOverflowError) else "body"
    loc: Loc = (root, *field.split("."), *(error.index or ()))
    return ProblemException(422, kind, error.message, errors=[(loc, error.message)])


def wire_error_problem(error: wire_errors.WireError) -> ProblemException:
    """A WireError: its own status (400, 413, 415, 422).

    A body refused for its size is left unread: the connection is closed after the answer, so
    that a client holding a gigabyte neither sends it into a kept-alive connection nor waits.
    """
    kind = next((k for cls, k in _WIRE_KINDS.items() if isinstance(error, cls)), "malformed-body")
    headers = {"Connection": "close"} if isinstance(error, wire_errors.BodyTooLargeError) else {}
    return ProblemException(
        error.status, kind, error.message, errors=[(error.loc, error.message)], headers=headers
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette names only the first match's)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def http_problem(request: Request, error: StarletteHTTPException) -> ProblemException:
    """The framework's own errors (404 no route, 405 wrong method) as problems."""
    status = error.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    detail = error.detail if isinstance(error.detail, str) and error.detail else phrase
    if status == 404:
        detail = f"no resource at {request.url.path}; the API lives under /v1 (see /docs)"
    headers = dict(error.headers or {})
    if status == 405:
        allowed = _allowed_methods(request)
        headers = {key: value for key, value in headers.items() if key.lower() != "allow"}
        headers["Allow"] = ", ".join(allowed)
        detail = (
            f"{request.method} is not allowed on {request.url.path}; allowed: {', '.join(allowed)}"
        )
    return ProblemException(status, _STATUS_KINDS.get(status, "http"), detail, headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Route every error class the service can meet to a problem response."""
    converters: dict[type[Exception], Callable[[Request, Any], ProblemException]] = {
        ProblemException: lambda request, error: error,
        LossError: lambda request, error: loss_error_problem(error),
        wire_errors.WireError: lambda request, error: wire_error_problem(error),
        RequestValidationError: lambda request, error: validation_problem(error.errors()),
        StarletteHTTPException: http_problem,
    }
    for error_class, convert in converters.items():

        async def handler(
            request: Request,
            error: Exception,
            convert: Callable[[Request, Any], ProblemException] = convert,
        ) -> Response:
            return problem_response(request, convert(request, error))

        app.add_exception_handler(error_class, handler)


_DESCRIPTIONS = {
    400: "Malformed body: not valid JSON or gzip",
    401: "Missing or invalid API key",
    404: "Unknown loss, or no such resource",
    408: "The body did not arrive within body_timeout; the connection is closed",
    413: "Body or decompressed body over max_body_bytes, more elements than max_elements, or "
    "more scoring than max_scored_elements",
    415: "Content-Type or Content-Encoding the service does not read",
    422: "Schema violation, shape mismatch, NaN or infinity, value outside the loss's domain, "
    "unsupported reduction, a result that overflows float64, or a body shaped past a limit "
    "(keys per object, nesting depth, dimensions, losses, groups; the detail names the setting)",
    500: "Internal error (never for bad input); the detail holds no internals",
    503: "Not ready: the service is shutting down",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` for these error statuses: one entry per class (4XX, 5XX), each a
    problem+json whose description lists what each status means here. One block per class in
    the docs instead of one per status (each with the same example), and every generator still
    types the body as a Problem."""
    grouped: dict[str, list[int]] = {}
    for status in statuses:
        grouped.setdefault(f"{status // 100}XX", []).append(status)
    return {
        key: {
            "description": "\n".join(f"- {status}: {_DESCRIPTIONS[status]}" for status in codes),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for key, codes in grouped.items()
    }
