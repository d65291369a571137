"""The compute path of a request: document -> small fields + numpy arrays -> core -> bytes.

The body is decoded once and its bytes freed; pydantic validates the small fields against the
loss's own model (array fields are skipped, see `schemas`); the wire layer counts every array's
elements against the limits before it builds the numpy arrays, and the decoded lists are dropped
before the core computes; the response holds numpy arrays that the codec writes directly.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import anyio
import numpy.typing as npt
import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from ..config import Settings
from ..losses import (
    CompositeResult,
    LossResult,
    Regularization,
    UnknownLossError,
    evaluate,
    evaluate_many,
    get_loss,
)
from ..wire import (
    ARROW,
    JSON,
    ArrayEncoding,
    ArrayInput,
    Codec,
    Decoding,
    NumberArrays,
    TooManyElementsError,
    check_document,
    check_element_limit,
    check_group_keys,
    check_json_keys,
    check_loss_count,
    document_arrays,
    encode_array,
    inspect_array,
    inspect_keys,
)
from .deps import RawBody, RequestCancelled, raw_body
from .metrics import Metrics
from .problems import ProblemException, validation_problem
from .schemas import REQUEST_MODELS, CommonRequest, EvaluateRequest, GroupResult, LossResponse

__all__ = [
    "INLINE_BODY_BYTES",
    "Reply",
    "compute_evaluate",
    "compute_loss",
    "result_document",
    "run_compute",
]

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Arrays:
    """A request's arrays as numpy, after the element limit was checked."""

    predictions: npt.NDArray[Any]
    targets: npt.NDArray[Any]
    sample_weight: npt.NDArray[Any] | None
    group_by: npt.NDArray[Any] | None
    regularization: Regularization | None


@dataclass(frozen=True)
class Reply:
    """What shapes a response document: the codec and the request's output options."""

    codec: Codec
    array_encoding: ArrayEncoding
    gradient: bool

    @classmethod
    def of(cls, raw: RawBody, request: CommonRequest) -> Reply:
        return cls(raw.response_codec, request.array_encoding.value, request.gradient)


# The request fields that hold arrays of numbers: a JSON codec may decode them to numpy directly.
NUMBER_ARRAYS: NumberArrays = {
    "predictions": None,
    "targets": None,
    "sample_weight": None,
    "regularization": {"weights": None},
}


def parse_request(raw: RawBody, model: type[Model], settings: Settings) -> Model:
    """Decode the body, free its bytes, check its shape against the limits (keys per object,
    depth, elements of every array, losses per evaluate request), then validate the small
    fields against `model`."""
    if raw.codec is JSON:
        # A valid request has at most 7 objects besides its losses: the body, 4 typed arrays,
        # regularization and its weights.
        objects = 7 + settings.max_evaluate_losses
        check_json_keys(raw.data, objects * settings.max_object_keys)
    decoding = Decoding(NUMBER_ARRAYS, settings.max_elements, settings.max_object_keys)
    document = raw.codec.decode(raw.data, decoding)
    raw.release()
    raw.checkpoint()
    if raw.codec is ARROW:
        document = _with_query_fields(document, raw.query)
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else type(document).__name__
        raise ProblemException(
            422,
            "validation",
            f"the body is {kind}; expected an object with predictions and targets",
            errors=[(("body",), "expected an object")],
        )
    check_document(
        document, max_keys=settings.max_object_keys, max_depth=settings.max_nesting_depth
    )
    if model is EvaluateRequest:
        check_loss_count(document, settings.max_evaluate_losses)
    check_element_limit(document_arrays(document), settings.max_elements)
    if model is EvaluateRequest:
        _canonical_loss_names(document)
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise validation_problem(
            error.errors(include_url=False), prefix=("body",), fields=model.model_fields
        ) from None


def _with_query_fields(document: dict[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    """An Arrow body's columns, with the request's other fields from the query string: each
    value read as JSON where it is JSON (`delta=2`, `from_logits=true`, `losses=[...]`), else as
    the text it is (`reduction=sum`)."""
    for name, text in query.items():
        if name in document:
            message = f"{name} is both a column of the body and a query parameter; send it once"
            raise ProblemException(422, "validation", message, errors=[(("query", name), message)])
        try:
            document[name] = orjson.loads(text)
        except orjson.JSONDecodeError:
            document[name] = text
    return document


def _canonical_loss_names(document: dict[str, Any]) -> None:
    """Aliases in an evaluate request's `losses` become canonical names, so that the union's
    discriminator (canonical names only, for a clean spec) accepts them; an unknown name is a
    422 naming the closest matches."""
    losses = document.get("losses")
    if not isinstance(losses, list):
        return
    for position, entry in enumerate(losses):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            try:
                entry["name"] = get_loss(entry["name"]).name
            except UnknownLossError as error:
                loc = ("body", "losses", position, "name")
                message = f"losses[{position}].name: {error.message}"
                raise ProblemException(
                    422, "unknown-loss", message, errors=[(loc, error.message)]
                ) from None


def read_arrays(request: CommonRequest, settings: Settings) -> Arrays:
    """Count the elements of every array field, refuse more than `max_elements`, then convert."""
    dimensions = settings.max_dimensions
    inputs: dict[str, ArrayInput] = {
        "predictions": inspect_array(
            request.predictions, ("body", "predictions"), max_dimensions=dimensions
        ),
        "targets": inspect_array(request.targets, ("body", "targets"), max_dimensions=dimensions),
    }
    if request.sample_weight is not None:
        inputs["sample_weight"] = inspect_array(
            request.sample_weight, ("body", "sample_weight"), max_dimensions=dimensions
        )
    if request.group_by is not None:
        inputs["group_by"] = inspect_keys(request.group_by, ("body", "group_by"))
    regularization = request.regularization
    if regularization is not None:
        inputs["weights"] = inspect_array(
            regularization.weights,
            ("body", "regularization", "weights"),
            max_dimensions=dimensions,
        )
    check_element_limit(list(inputs.values()), settings.max_elements)
    arrays = {name: array.to_numpy() for name, array in inputs.items()}
    group_by = arrays.get("group_by")
    if group_by is not None:
        check_group_keys(
            group_by,
            ("body", "group_by"),
            max_groups=settings.max_groups,
            max_length=settings.max_group_key_length,
        )
    return Arrays(
        predictions=arrays["predictions"],
        targets=arrays["targets"],
        sample_weight=arrays.get("sample_weight"),
        group_by=group_by,
        regularization=None
        if regularization is None
        else Regularization(arrays["weights"], l1=regularization.l1, l2=regularization.l2),
    )


# The response document is declared once, by LossResponse (which OpenAPI shows): its fields, in
# order, are read off the core's LossResult under the same names.
_RESPONSE_FIELDS = tuple(
    (name, field.is_required()) for name, field in LossResponse.model_fields.items()
)
_GROUP_FIELDS = tuple(GroupResult.model_fields)
_missing = {name for name, _ in _RESPONSE_FIELDS} - {field.name for field in fields(LossResult)}
if _missing:  # pragma: no cover - a schema edited without the core
    raise RuntimeError(f"LossResponse declares fields LossResult lacks: {sorted(_missing)}")


def result_document(
    result: LossResult, reply: Reply, *, weight: float | None = None
) -> dict[str, Any]:
    """The response fields of one result, as LossResponse declares them: the required ones
    always, the optional ones when set, `gradient` when asked for (null where there is none);
    arrays per array_encoding. `weight`: the loss's weight in an evaluate request."""
    document: dict[str, Any] = {}
    for name, required in _RESPONSE_FIELDS:
        value = getattr(result, name)
        if name == "gradient":
            if not reply.gradient:
                continue
        elif value is None and not required:
            continue
        if name == "groups":
            value = [{key: getattr(group, key) for key in _GROUP_FIELDS} for group in value]
        elif value is not None and not isinstance(value, str | int | float):
            value = encode_array(value, reply.array_encoding, binary=reply.codec.binary)
        document[name] = value
    if weight is not None:
        document["weight"] = weight
    return document


def _respond(reply: Reply, document: Mapping[str, Any]) -> Response:
    codec = reply.codec
    return Response(codec.encode(document), media_type=codec.media_type)


def _options(request: CommonRequest, arrays: Arrays) -> dict[str, Any]:
    return {
        "sample_weight": arrays.sample_weight,
        "reduction": request.reduction,
        "gradient": request.gradient,
        "nan_policy": request.nan_policy.value,
        "group_by": arrays.group_by,
        "regularization": arrays.regularization,
    }


_COMMON_FIELDS = frozenset(CommonRequest.model_fields)


def compute_loss(request: Request, name: str, raw: RawBody, settings: Settings) -> Response:
    """POST /v1/losses/{name}: one loss."""
    model = REQUEST_MODELS[name]
    parsed = parse_request(raw, model, settings)
    arrays = read_arrays(parsed, settings)
    _check_work(arrays, 1, settings.max_scored_elements)
    options = _options(parsed, arrays)
    params = {field: getattr(parsed, field) for field in model.model_fields.keys() - _COMMON_FIELDS}
    reply = Reply.of(raw, parsed)
    # The decoded lists of a JSON body (a Python float per element) are not needed any more.
    del parsed
    raw.checkpoint()
    result = evaluate(name, arrays.predictions, arrays.targets, **options, **params)
    _scored(request, [name], arrays.predictions.size)
    raw.checkpoint()
    return _respond(reply, result_document(result, reply))


def compute_evaluate(request: Request, raw: RawBody, settings: Settings) -> Response:
    """POST /v1/evaluate: several losses over one payload, and their weighted total."""
    parsed = parse_request(raw, EvaluateRequest, settings)
    request.state.loss = ",".join(term.name for term in parsed.losses)
    arrays = read_arrays(parsed, settings)
    _check_work(arrays, len(parsed.losses), settings.max_scored_elements)
    options = _options(parsed, arrays)
    terms = [term.model_dump() for term in parsed.losses]
    reply = Reply.of(raw, parsed)
    del parsed
    composite: CompositeResult = evaluate_many(
        terms, arrays.predictions, arrays.targets, **options, checkpoint=raw.checkpoint
    )
    _scored(request, [result.loss for result in composite.results], arrays.predictions.size)
    raw.checkpoint()
    document = {
        "results": [
            result_document(result, reply, weight=weight)
            for result, weight in zip(composite.results, composite.weights, strict=True)
        ],
        "total": result_document(composite.total, reply),
    }
    return _respond(reply, document)


def _scored(request: Request, losses: Sequence[str], elements: int) -> None:
    metrics: Metrics = request.app.state.metrics
    metrics.count_scored(losses, elements)


def _check_work(arrays: Arrays, losses: int, limit: int) -> None:
    """Refuse a request that asks for more scoring than `limit` prediction elements in all: the
    time, the temporaries and the response grow with losses x elements, not with the body."""
    scored = losses * arrays.predictions.size
    if scored > limit:
        raise TooManyElementsError(
            f"the request asks for {losses} loss(es) over {arrays.predictions.size} prediction "
            f"elements, {scored} in all; the limit is {limit} (max_scored_elements): name "
            "fewer losses or split the batch"
        )


# Bodies up to this size are computed on the event loop: decoding and scoring a few hundred
# values holds the loop about as long as the framework itself spends on a request, and less
# than the threadpool's hand-over costs (bench/README.md). Anything larger goes to the
# threadpool so that CPU work never holds the loop for long.
INLINE_BODY_BYTES = 16 * 1024


async def run_compute(
    request: Request, settings: Settings, compute: Callable[[RawBody], Response]
) -> Response:
    """Read the body (`deps.raw_body`), then run `compute` on it: inline for a small body, else
    in the threadpool, stopped at its next checkpoint once nobody waits for it.

    Nobody waits when the client disconnects (seen on the ASGI receive channel, which has
    nothing else to say once the body is read) or when the server cancels the request (its
    shutdown timeout ran out): the thread is abandoned to finish its current step and stop, and
    the answer is a 499 that nobody reads but the access log.
    """
    raw = await raw_body(request, settings)
    work = functools.partial(compute, raw)
    size = len(raw.data)
    if size <= INLINE_BODY_BYTES:
        return work()
    watcher = asyncio.ensure_future(_watch_disconnect(request, raw.cancelled))
    large = HEAP.started(size)
    try:
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except RequestCancelled:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    finally:
        raw.cancelled.set()
        watcher.cancel()
        if large:
            HEAP.finished()


class HeapRelease:
    """Give the memory large requests freed back to the system once the worker is idle.

    A worker keeps freed heap memory for reuse (`service.malloc`), and the transient peaks of
    large bodies (a parser's tape, the decoded arrays) would otherwise set the process's
    resident size for good. Trimming after each large request gave it back at once, but the
    next one then paid for fresh pages again (page faults, zeroing; bench/README.md). So the
    heap is trimmed once no large request has been in flight for `idle_seconds`, off the event
    loop.
    """

    def __init__(self, min_body_bytes: int, idle_seconds: float) -> None:
        self.min_body_bytes = min_body_bytes
        self.idle_seconds = idle_seconds
        self.in_flight = 0
        self._timer: asyncio.TimerHandle | None = None

    def started(self, size: int) -> bool:
        """Count a request of `size` body bytes in; True if it is large enough to count."""
        if size < self.min_body_bytes or _MALLOC_TRIM is None:
            return False
        self.in_flight += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return True

    def finished(self) -> None:
        """A large request is done: trim once the worker has been idle for idle_seconds."""
        self.in_flight -= 1
        if self.in_flight == 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.idle_seconds, self._trim, loop)

    def _trim(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if self.in_flight == 0 and _MALLOC_TRIM is not None:
            loop.run_in_executor(None, _MALLOC_TRIM, 0)


_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
# A body of a megabyte leaves megabytes of temporaries behind: worth handing back when idle.
HEAP = HeapRelease(min_body_bytes=2**20, idle_seconds=1.0)


# nginx's status for a request whose client went away before the answer.
CLIENT_CLOSED_REQUEST = 499


async def _watch_disconnect(request: Request, cancelled: threading.Event) -> None:
    # Once the body is read, the only message ASGI has left for a request is its disconnect.
    message = await request.receive()
    if message["type"] == "http.disconnect":
        cancelled.set()
