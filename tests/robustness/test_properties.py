"""Hypothesis over the wire decoders and the loss core with random shapes, dtypes and values: the
only exceptions are the documented typed errors (`WireError`, `LossError` and their subclasses),
every one of them maps to a 4xx problem, and through the app every answer is a 200 with finite
numbers or a 4xx application/problem+json, never a 500.

Codecs are taken from `service.wire.CODECS`, so a codec registered there (MessagePack) is fuzzed
too without a change here.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import httpx
import msgpack
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from service.api import create_app
from service.api.problems import loss_error_problem, wire_error_problem
from service.config import Settings
from service.losses import LOSSES, LossError, evaluate, get_loss
from service.wire import (
    CODECS,
    DTYPES,
    ArrayFormatError,
    GzipDecoder,
    WireError,
    check_element_limit,
    inspect_array,
    inspect_keys,
    read_body,
)

PROBLEM = "application/problem+json"
LIMIT = 4096
ELEMENT_LIMIT = 256
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

T = TypeVar("T")


def attempt(action: Callable[[], T]) -> T | WireError | LossError:
    """The action's result, or the typed error it raised; any other exception propagates."""
    try:
        return action()
    except (WireError, LossError) as error:
        return error


# --- values a client could send -------------------------------------------------------------

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300, 1.7976931348623157e308]),
)
scalars = st.one_of(numbers, st.none(), st.booleans(), st.text(max_size=5))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=40,
)


@st.composite
def typed_arrays(draw: st.DrawFn, *, consistent: bool | None = None) -> dict[str, Any]:
    """{dtype, shape, data}: the bytes agree with dtype and shape, or (consistent=False) not."""
    dtype_name = draw(st.sampled_from(sorted(DTYPES)))
    dtype = DTYPES[dtype_name]
    shape = draw(st.lists(st.integers(0, 6), min_size=0, max_size=3))
    values = draw(hnp.arrays(dtype, tuple(shape)))
    raw = values.tobytes()
    agree = draw(st.booleans()) if consistent is None else consistent
    if not agree:
        raw = raw + b"\x00" * draw(st.integers(1, 9)) if draw(st.booleans()) or not raw else raw[1:]
    return {"dtype": dtype_name, "shape": shape, "data": base64.b64encode(raw).decode()}


def nested_lists(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """(N,) or (N, K) lists, sometimes ragged."""
    rows = st.lists(elements, min_size=0, max_size=5)
    return st.one_of(st.lists(elements, max_size=8), st.lists(rows, max_size=5))


array_values = st.one_of(
    nested_lists(st.one_of(numbers, st.none())),
    nested_lists(scalars),
    typed_arrays(),
    json_values,
)

# --- the wire layer -------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", sorted(CODECS))
@FUZZ
@given(body=st.binary(max_size=256))
def test_codecs_decode_any_bytes_or_say_why(media_type: str, body: bytes) -> None:
    outcome = attempt(lambda: CODECS[media_type].decode(body))
    if isinstance(outcome, WireError):
        assert wire_error_problem(outcome).status == 400


@pytest.mark.parametrize("media_type", sorted(CODECS))
@FUZZ
@given(document=st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_codecs_read_back_what_they_write(media_type: str, document: dict[str, Any]) -> None:
    codec = CODECS[media_type]
    try:
        encoded = codec.encode(document)
    except (TypeError, ValueError, OverflowError):
        return  # integers past 64 bits: no codec writes them, and the service never does
    assert codec.decode(encoded) == document


def gzip_pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@FUZZ
@given(
    payload=st.binary(max_size=2 * LIMIT),
    cuts=st.lists(st.integers(0, 4 * LIMIT), max_size=6),
    damage=st.one_of(st.none(), st.tuples(st.integers(0, 4 * LIMIT), st.integers(0, 255))),
)
def test_gzip_decoder_inflates_refuses_or_says_why(
    payload: bytes, cuts: list[int], damage: tuple[int, int] | None
) -> None:
    compressed = bytearray(gzip.compress(payload))
    if damage is not None:
        position, byte = damage
        compressed[position % len(compressed)] = byte
    decoder = GzipDecoder(LIMIT)

    def inflate() -> bytearray:
        for piece in gzip_pieces(bytes(compressed), cuts):
            decoder.feed(piece)
        return decoder.finish()

    output = attempt(inflate)
    if isinstance(output, WireError):
        assert wire_error_problem(output).status in (400, 413)
        return
    assert isinstance(output, bytearray)
    assert len(output) <= LIMIT
    if damage is None:
        assert output == payload


@FUZZ
@given(
    chunks=st.lists(st.binary(max_size=LIMIT), max_size=4),
    declared=st.one_of(st.none(), st.integers(-5, 3 * LIMIT).map(str), st.text(max_size=6)),
    coding=st.sampled_from([None, "gzip"]),
)
def test_read_body_returns_at_most_the_limit_or_a_typed_error(
    chunks: list[bytes], declared: str | None, coding: str | None
) -> None:
    async def stream() -> Any:
        for chunk in chunks:
            yield chunk

    async def read() -> bytearray:
        return await read_body(stream(), limit=LIMIT, content_length=declared, coding=coding)

    body = attempt(lambda: anyio.run(read))
    if isinstance(body, WireError):
        assert wire_error_problem(body).status in (400, 413)
        return
    assert isinstance(body, bytearray)
    assert len(body) <= LIMIT
    if coding is None:
        # Whatever was declared (the server holds a client to it): the bytes that came.
        assert body == b"".join(chunks)


@FUZZ
@given(value=array_values, keys=st.booleans())
def test_array_fields_become_arrays_or_typed_errors(value: Any, keys: bool) -> None:
    loc = ("body", "group_by" if keys else "predictions")
    field = attempt(lambda: inspect_keys(value, loc) if keys else inspect_array(value, loc))
    if not isinstance(field, WireError | LossError):
        limited = attempt(lambda: check_element_limit([field], ELEMENT_LIMIT))
        field = limited if isinstance(limited, WireError) else field
    array = field if isinstance(field, WireError | LossError) else attempt(field.to_numpy)
    if isinstance(array, WireError):
        assert wire_error_problem(array).status in (413, 422)
        return
    assert isinstance(array, np.ndarray)
    assert not isinstance(field, WireError | LossError)
    assert array.size == field.size
    if not keys and field.dtype is None:
        assert array.dtype == np.float64
    if isinstance(value, list) and not keys:
        flat = list(_leaves(value))
        assert not any(isinstance(item, bool | str) for item in flat), value


def _leaves(value: Any) -> Any:
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


@FUZZ
@given(typed=typed_arrays())
def test_typed_arrays_read_back_their_bytes_or_name_the_mismatch(typed: dict[str, Any]) -> None:
    field = inspect_array(typed, ("body", "predictions"))
    raw = base64.b64decode(typed["data"])
    needed = math.prod(typed["shape"]) * DTYPES[typed["dtype"]].itemsize
    if len(raw) != needed:
        with pytest.raises(ArrayFormatError, match=f"holds {len(raw)} bytes") as caught:
            field.to_numpy()
        assert wire_error_problem(caught.value).status == 422
        return
    array = field.to_numpy()
    assert array.shape == tuple(typed["shape"])
    assert array.tobytes() == raw


# --- the loss core --------------------------------------------------------------------------

dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.int32])
shapes = st.one_of(
    st.tuples(st.integers(1, 6)),
    st.tuples(st.integers(1, 5), st.integers(1, 4)),
    st.sampled_from([(), (0,), (2, 0), (1, 2, 2)]),
)
special = st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e-12, 1 - 1e-12, 1e6, -1e6, 1e300, math.nan])


@st.composite
def arrays_for_the_core(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    dtype = draw(dtypes)
    if np.issubdtype(dtype, np.integer):
        return draw(hnp.arrays(dtype, shape, elements=st.integers(-3, 3)))
    elements = st.one_of(st.floats(-5, 5), st.floats(0, 1), special, st.floats())
    values = draw(hnp.arrays(np.float64, shape, elements=elements))
    with np.errstate(over="ignore"):  # 1e300 as float32 is infinity: a fair input too
        return values.astype(dtype)


def parameter_values(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Values for some of the loss's parameters: in bounds, out of bounds, wrong types."""
    spec = LOSSES[name]
    value = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-3, 5),
        st.booleans(),
        st.none(),
        st.lists(st.floats(-2, 2), max_size=4),
        st.text(max_size=3),
    )
    names = [param.name for param in spec.params] + ["not_a_parameter"]
    return st.dictionaries(st.sampled_from(names), value, max_size=3)


@st.composite
def core_cases(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(LOSSES)))
    shape = draw(shapes)
    targets_shape = draw(st.one_of(st.just(shape), st.just(shape[:1]), shapes))
    case: dict[str, Any] = {
        "name": name,
        "predictions": draw(arrays_for_the_core(shape)),
        "targets": draw(arrays_for_the_core(targets_shape)),
        "reduction": draw(st.sampled_from(["mean", "sum", "none"])),
        "gradient": draw(st.booleans()),
        "nan_policy": draw(st.sampled_from(["raise", "omit"])),
        **draw(parameter_values(name)),
    }
    samples = shape[0] if shape else 1
    if draw(st.booleans()):
        case["sample_weight"] = draw(arrays_for_the_core((draw(st.sampled_from([samples, 2])),)))
    if draw(st.booleans()):
        case["group_by"] = draw(
            st.lists(st.sampled_from(["a", "b"]), min_size=samples, max_size=samples)
        )
    return case


def assert_finite_result(result: Any) -> None:
    for value in (result.value, result.loss_sum, result.weight_sum, result.penalty, result.cost):
        assert value is None or math.isfinite(value)
    for array in (result.losses, result.gradient, result.per_output, result.weights_gradient):
        assert array is None or bool(np.isfinite(array).all())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=core_cases())
def test_the_core_answers_finite_numbers_or_a_typed_error(case: dict[str, Any]) -> None:
    options = dict(case)
    name = options.pop("name")
    predictions, targets = options.pop("predictions"), options.pop("targets")
    result = attempt(lambda: evaluate(name, predictions, targets, **options))
    if isinstance(result, LossError):
        assert loss_error_problem(result).status == 422, result
        return
    assert not isinstance(result, WireError)
    assert_finite_result(result)
    if case["reduction"] != "none" or result.value is not None:
        assert result.loss == get_loss(name).name


# --- through the app: only 200 with finite numbers, or a 4xx problem -------------------------

APP = create_app(Settings(max_body_bytes=LIMIT * 16, max_elements=ELEMENT_LIMIT))


def post(path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, content=content, headers=headers)

    return anyio.run(call)


def to_json(value: Any) -> Any:
    """An array as nested lists, NaN and infinity as null (JSON has neither)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return np.where(np.isfinite(value), value, None).tolist()
        return value.tolist()
    return value


def to_typed(value: np.ndarray[Any, Any]) -> dict[str, Any]:
    dtype = DTYPES[value.dtype.name]
    data = base64.b64encode(value.astype(dtype).tobytes()).decode()
    return {"dtype": value.dtype.name, "shape": list(value.shape), "data": data}


def with_raw_bytes(value: Any) -> Any:
    """The document for MessagePack: every typed array's base64 text as its bytes."""
    if isinstance(value, dict):
        if set(value) == {"dtype", "shape", "data"} and isinstance(value["data"], str):
            try:
                return {**value, "data": base64.b64decode(value["data"], validate=True)}
            except ValueError:
                return value
        return {key: with_raw_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_raw_bytes(item) for item in value]
    return value


@st.composite
def request_documents(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    case = draw(core_cases())
    name = case.pop("name")
    document: dict[str, Any] = {}
    for key, value in case.items():
        if isinstance(value, np.ndarray) and draw(st.booleans()):
            document[key] = to_typed(value)
        else:
            document[key] = to_json(value)
    if draw(st.booleans()):
        document[draw(st.sampled_from(["predictions", "targets", "sample_weight"]))] = draw(
            array_values
        )
    evaluate_many = draw(st.booleans())
    if evaluate_many:
        document["losses"] = [{"name": name}, {"name": draw(st.sampled_from(sorted(LOSSES)))}]
        path = "/v1/evaluate"
    else:
        path = f"/v1/losses/{draw(st.sampled_from([name, *get_loss(name).aliases]))}"
    # The standard library writes integers past 64 bits and NaN tokens, as a careless client
    # may (orjson writes neither): both are a 400.
    body = json.dumps(document).encode()
    headers = {"content-type": "application/json"}
    if draw(st.booleans()):
        # MessagePack: typed arrays carry raw bytes, and floats may be NaN or infinite.
        try:
            body = msgpack.packb(with_raw_bytes(document))
            headers = {"content-type": "application/msgpack"}
        except (OverflowError, TypeError, ValueError):
            pass  # integers past 64 bits: JSON only
    if draw(st.booleans()):
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    return path, body, headers


def assert_finite_document(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, list):
        for item in value:
            assert_finite_document(item)
    elif isinstance(value, dict):
        for item in value.values():
            assert_finite_document(item)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=request_documents())
def test_every_request_is_a_200_or_a_4xx_problem(
    request: tuple[str, bytes, dict[str, str]],
) -> None:
    path, body, headers = request
    response = post(path, body, headers)
    event(f"status {response.status_code}")
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
    document = orjson.loads(response.content)  # orjson refuses NaN and Infinity tokens
    if response.status_code == 200:
        assert response.headers["content-type"] == "application/json"
        assert_finite_document(document)
    else:
        assert response.headers["content-type"] == PROBLEM
        assert document["status"] == response.status_code
        assert document["detail"]
        assert "Traceback" not in response.text


@FUZZ
@given(
    body=st.binary(max_size=512),
    gzipped=st.booleans(),
    content_type=st.sampled_from(
        [None, "application/json", "application/msgpack", "text/plain", ""]
    ),
)
def test_any_bytes_to_the_api_are_a_4xx_problem(
    body: bytes, gzipped: bool, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    if gzipped:
        headers["content-encoding"] = "gzip"
    response = post("/v1/losses/mse", body, headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM


def test_booleans_are_not_numbers() -> None:
    """Found by schemathesis: numpy reads true and false as 1 and 0."""
    body = orjson.dumps({"predictions": [1.0, True], "targets": [1.0, 0.0]})
    response = post("/v1/losses/mse", body, {"content-type": "application/json"})
    assert response.status_code == 422
    assert "predictions[1]" in response.json()["detail"]
    body = orjson.dumps({"predictions": [1.0, 2.0], "targets": [1.0, 0.0], "group_by": [1, False]})
    assert post("/v1/losses/mse", body, {}).status_code == 422
    weights = {"predictions": [1.0], "targets": [1.0], "regularization": {"weights": 0}}
    assert post("/v1/losses/mse", orjson.dumps(weights), {}).status_code == 422
