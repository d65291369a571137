"""Python clients for the service, on httpx: numpy arrays in, the core's result types out.

    with LossClient("http://127.0.0.1:8000") as client:
        result = client.evaluate("huber", predictions, targets, delta=2.0)
        result.value, result.gradient

Arrays above `typed_threshold` elements travel as typed arrays and come back as such. The wire
format is `wire`: "json" (typed arrays as base64 text), "msgpack" (MessagePack, typed arrays as
raw bytes) or "auto" (the default): MessagePack when an array is above the threshold, JSON
otherwise; a server that does not read MessagePack (415) is then asked in JSON from there on.
`compress=True` gzips request bodies of 1 KiB or more and accepts gzip responses, for slow links;
by default responses come uncompressed, which is faster where the network is (loopback, a LAN).
Errors are raised as `LossServiceError` carrying the problem details. Pass
`transport=httpx.ASGITransport(app)` to run against an app in-process.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import httpx
import msgpack
import numpy as np
import orjson

from .losses import CompositeResult, Group, LossResult, Regularization
from .wire.codecs import MSGPACK as MSGPACK_CODEC
from .wire.fastjson import Decoding

__all__ = ["DEFAULT_TIMEOUT", "AsyncLossClient", "LossClient", "LossServiceError", "Wire"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_TYPED_THRESHOLD = 4096
Wire = Literal["auto", "json", "msgpack"]
JSON = "application/json"
MSGPACK = "application/msgpack"
# Request bodies from this size on are gzip-compressed with compress=True; level 1 keeps most of
# the gain on digits at a fraction of the CPU (bench/README.md).
COMPRESS_MIN_BYTES = 1024
COMPRESS_LEVEL = 1
_DTYPES = {"float32": "<f4", "float64": "<f8", "int32": "<i4", "int64": "<i8"}
_ARRAY_FIELDS = ("losses", "gradient", "per_output", "weights_gradient")


class LossServiceError(Exception):
    """An error answered by the service, with its RFC 9457 problem details."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        self.request_id = problem.get("request_id")
        super().__init__(f"{status} {self.title}: {self.detail}")


def encode_array(values: Any, threshold: int, *, binary: bool = False) -> Any:
    """Nested lists for small arrays; a typed array above `threshold` elements, its data base64
    text (JSON) or, with `binary`, the raw bytes (MessagePack)."""
    array = np.asarray(values)
    if array.dtype.kind in "US":
        return array.tolist()
    if array.size <= threshold:
        if array.dtype.kind != "f" or binary:
            return array.tolist()  # MessagePack carries NaN as it is
        # JSON has no NaN: a missing value travels as null, which the service reads as NaN.
        elements = array.astype(object)
        elements[np.isnan(array)] = None
        return elements.tolist()
    if array.dtype.kind in "iub":
        array = array.astype("<i8") if array.dtype.kind != "b" else array.astype("<i4")
        dtype = "int64" if array.dtype == np.dtype("<i8") else "int32"
    else:
        array = array.astype("<f8", copy=False)
        dtype = "float64"
    raw = np.ascontiguousarray(array).data.cast("B")
    data: Any = raw if binary else base64.b64encode(raw).decode("ascii")
    return {"dtype": dtype, "shape": list(array.shape), "data": data}


def decode_array(value: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A response array (nested lists with null as NaN, or a typed array with base64 text or raw
    bytes) as a float64 numpy array of its own."""
    if isinstance(value, Mapping):
        data = value["data"]
        dtype = np.dtype(_DTYPES[value["dtype"]])
        if isinstance(data, bytearray) and dtype == np.float64:
            # Bytes the decoder copied for this array alone: writable, and nothing else holds them.
            return np.frombuffer(data, dtype=np.float64).reshape(value["shape"])
        raw = data if isinstance(data, bytes | bytearray) else base64.b64decode(data)
        array = np.frombuffer(raw, dtype=dtype).reshape(value["shape"])
        return array.astype(np.float64)  # a writable copy, not a view of the response
    return np.asarray(value, dtype=np.float64)


def _result(body: Mapping[str, Any]) -> LossResult:
    arrays = {
        field: None if body.get(field) is None else decode_array(body[field])
        for field in _ARRAY_FIELDS
    }
    groups = None
    if body.get("groups") is not None:
        groups = [
            Group(
                key=group["key"],
                count=int(group["count"]),
                weight_sum=float(group["weight_sum"]),
                loss_sum=float(group["loss_sum"]),
                value=None if group.get("value") is None else float(group["value"]),
            )
            for group in body["groups"]
        ]
    return LossResult(
        loss=str(body.get("loss", "")),
        reduction=str(body.get("reduction", "")),
        value=None if body.get("value") is None else float(body["value"]),
        count=int(body.get("count", 0)),
        weight_sum=float(body.get("weight_sum", 0.0)),
        loss_sum=float(body.get("loss_sum", 0.0)),
        omitted=int(body.get("omitted", 0)),
        groups=groups,
        penalty=None if body.get("penalty") is None else float(body["penalty"]),
        cost=None if body.get("cost") is None else float(body["cost"]),
        **arrays,
    )


def _composite(body: Mapping[str, Any]) -> CompositeResult:
    results = [_result(item) for item in body["results"]]
    weights = [float(item.get("weight", 1.0)) for item in body["results"]]
    return CompositeResult(results=results, weights=weights, total=_result(body["total"]))


class _Requests:
    """Request bodies and response handling shared by the sync and async clients."""

    def __init__(self, typed_threshold: int, wire: Wire, compress: bool) -> None:
        if wire not in ("auto", "json", "msgpack"):
            raise ValueError(f"wire = {wire!r}; expected auto, json or msgpack")
        self.typed_threshold = typed_threshold
        self.wire = wire
        self.compress = compress
        self.msgpack_refused = False  # wire="auto" met a server without MessagePack

    def binary(self, *arrays: Any) -> bool:
        """Whether a request with these arrays goes as MessagePack."""
        if self.wire != "auto":
            return self.wire == "msgpack"
        large = any(np.size(array) > self.typed_threshold for array in arrays)
        return large and not self.msgpack_refused

    def document(
        self,
        predictions: Any,
        targets: Any,
        options: tuple[Any, str, bool, str, Any, Regularization | Mapping[str, Any] | None],
        extra: Mapping[str, Any],
    ) -> tuple[Document, bool]:
        """A compute request's body for either wire (`Document`), and whether it goes as
        MessagePack first. `options`: sample_weight, reduction, gradient, nan_policy, group_by and
        regularization as the caller got them; `extra`: the loss's parameters, or `losses`."""
        return (
            lambda binary: {**self._common(binary, predictions, targets, *options), **extra},
            self.binary(predictions, targets),
        )

    def _common(
        self,
        binary: bool,
        predictions: Any,
        targets: Any,
        sample_weight: Any,
        reduction: str,
        gradient: bool,
        nan_policy: str,
        group_by: Any,
        regularization: Regularization | Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        def encode(values: Any) -> Any:
            return encode_array(values, self.typed_threshold, binary=binary)

        body: dict[str, Any] = {
            "predictions": encode(predictions),
            "targets": encode(targets),
            "reduction": reduction,
            "gradient": gradient,
            "nan_policy": nan_policy,
        }
        if np.size(predictions) > self.typed_threshold:
            body["array_encoding"] = "base64"
        if sample_weight is not None:
            body["sample_weight"] = encode(sample_weight)
        if group_by is not None:
            body["group_by"] = np.asarray(group_by).tolist()
        if regularization is not None:
            if isinstance(regularization, Regularization):
                regularization = {
                    "weights": regularization.weights,
                    "l1": regularization.l1,
                    "l2": regularization.l2,
                }
            body["regularization"] = {
                **regularization,
                "weights": encode(regularization["weights"]),
            }
        return body

    def content(
        self, body: Mapping[str, Any], binary: bool, *, asynchronous: bool = False
    ) -> dict[str, Any]:
        """httpx request arguments: the body in MessagePack or in JSON (orjson: fast on large
        lists), gzip-compressed with compress=True, and the matching headers.

        An uncompressed MessagePack body is streamed from its pieces, the arrays' own memory
        in slices (`_slices`), under its Content-Length: packed into one bytes object first, a
        16 MB body was copied by the packer and then again, what was left of it, after each
        partial send."""
        content: Any
        if binary:
            headers = {"Content-Type": MSGPACK, "Accept": MSGPACK}
            pieces = MSGPACK_CODEC.encode_pieces(body)
            if not self.compress:
                headers["Accept-Encoding"] = "identity"
                headers["Content-Length"] = str(sum(len(piece) for piece in pieces))
                slices = _slices(pieces)
                return {
                    "content": _asynchronous(slices) if asynchronous else slices,
                    "headers": headers,
                }
            content = b"".join(pieces)
        else:
            content = orjson.dumps(body)
            headers = {"Content-Type": JSON, "Accept": JSON}
        if self.compress:
            # identity;q=0: compressed answers at any size (the service otherwise answers large
            # requests uncompressed, as gzip does not pay on a fast link); MessagePack answers
            # stay raw, raw doubles gain nothing.
            headers["Accept-Encoding"] = "gzip, identity;q=0"
            if len(content) >= COMPRESS_MIN_BYTES:
                gzip = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                content = gzip.compress(content) + gzip.flush()
                headers["Content-Encoding"] = "gzip"
        else:
            headers["Accept-Encoding"] = "identity"
        return {"content": content, "headers": headers}

    def refused(self, response: httpx.Response, binary: bool) -> bool:
        """A MessagePack request that wire="auto" should repeat in JSON: the server does not
        read MessagePack. Remembered, so that later requests go in JSON at once."""
        if binary and self.wire == "auto" and response.status_code == 415:
            self.msgpack_refused = True
            return True
        return False

    def arrow(
        self,
        table: Any,
        predictions: str | Sequence[str],
        targets: str | Sequence[str],
        sample_weight: str | None,
        group_by: str | None,
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        """An Arrow request; typed arrays back (in MessagePack unless wire="json") when large."""
        if len(table) > self.typed_threshold:
            fields = {**fields, "array_encoding": "base64"}
        accept = JSON if self.wire == "json" or self.msgpack_refused else MSGPACK
        return arrow_request(
            table,
            predictions=predictions,
            targets=targets,
            sample_weight=sample_weight,
            group_by=group_by,
            fields=fields,
            accept=accept,
        )

    @staticmethod
    def checked(response: httpx.Response, *, flat: bool = False) -> Any:
        """The answer's document, or a LossServiceError. `flat`: a single loss's result, whose
        arrays are top-level fields: a large MessagePack one is read by the service's own
        decoder, each typed array's bytes copied once into memory the array then owns
        (msgpack.unpackb makes a bytes object, which decode_array would copy again)."""
        media = response.headers.get("content-type", "").split(";", 1)[0].strip()
        if response.is_success:
            if media == MSGPACK:
                if flat:
                    return MSGPACK_CODEC.decode(response.content, RESULT_ARRAYS)
                return msgpack.unpackb(response.content)
            return orjson.loads(response.content)
        try:
            problem = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            problem = {"title": response.reason_phrase, "detail": response.text[:500]}
        if not isinstance(problem, Mapping):
            problem = {"title": response.reason_phrase, "detail": str(problem)[:500]}
        raise LossServiceError(response.status_code, problem)


Document = Callable[[bool], dict[str, Any]]

# The array fields of a single loss's result, which a large MessagePack answer's decoder reads
# itself (see _Requests.checked).
RESULT_ARRAYS = Decoding(
    {"gradient": None, "losses": None, "per_output": None, "weights_gradient": None}
)

# Streamed bodies go out in slices of at most this many bytes: each is copied once on its way
# (h11 joins what it sends), and what a partial send leaves over stays small.
STREAM_SLICE_BYTES = 1 << 20


def _slices(pieces: Sequence[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    """Large pieces in slices of their own memory; small ones joined, so that a body of many
    small pieces is not written a few bytes at a time."""
    small: list[bytes | memoryview] = []
    gathered = 0
    for piece in pieces:
        view = memoryview(piece)
        if len(view) < STREAM_SLICE_BYTES // 16:
            small.append(view)
            gathered += len(view)
            if gathered >= STREAM_SLICE_BYTES:
                yield b"".join(small)
                small, gathered = [], 0
            continue
        if small:
            yield b"".join(small)
            small, gathered = [], 0
        for start in range(0, len(view), STREAM_SLICE_BYTES):
            yield view[start : start + STREAM_SLICE_BYTES]
    if small:
        yield b"".join(small)


async def _asynchronous(slices: Iterator[bytes | memoryview]) -> AsyncIterator[bytes | memoryview]:
    for piece in slices:
        yield piece


ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _column(table: Any, columns: str | Sequence[str]) -> Any:
    """One column of `table`, or K columns as one fixed-size-list column (an (N, K) array)."""
    import pyarrow as pa

    if isinstance(columns, str):
        return table.column(columns)
    values = np.column_stack([np.asarray(table.column(name), dtype=np.float64) for name in columns])
    flat = pa.array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


def arrow_request(
    table: Any,
    *,
    predictions: str | Sequence[str],
    targets: str | Sequence[str],
    sample_weight: str | None,
    group_by: str | None,
    fields: Mapping[str, Any],
    accept: str,
) -> dict[str, Any]:
    """The httpx arguments of a compute request whose arrays travel as an Arrow IPC stream: the
    named columns of `table` (a pyarrow Table, or a pandas or polars DataFrame) renamed to the
    request's array fields, and the other fields as query parameters."""
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        module = type(table).__module__.split(".")[0]
        table = table.to_arrow() if module == "polars" else pa.Table.from_pandas(table)
    columns = {"predictions": _column(table, predictions), "targets": _column(table, targets)}
    if sample_weight is not None:
        columns["sample_weight"] = table.column(sample_weight)
    if group_by is not None:
        columns["group_by"] = table.column(group_by)
    body = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, body.schema) as writer:
        writer.write_table(body)
    params = {
        name: value if isinstance(value, str) else orjson.dumps(value).decode()
        for name, value in fields.items()
        if value is not None
    }
    return {
        "content": sink.getvalue().to_pybytes(),
        "params": params,
        "headers": {"Content-Type": ARROW_STREAM, "Accept": accept, "Accept-Encoding": "identity"},
    }


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class LossClient:
    """Synchronous client: `evaluate` one loss, `evaluate_many` a composite, the catalogue."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        typed_threshold: int = DEFAULT_TYPED_THRESHOLD,
        wire: Wire = "auto",
        compress: bool = False,
    ) -> None:
        self._requests = _Requests(typed_threshold, wire, compress)
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport, headers=_headers(api_key)
        )

    def __enter__(self) -> LossClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def losses(self) -> list[dict[str, Any]]:
        """The catalogue: every loss with its parameters and input conventions."""
        body = self._requests.checked(self._http.get("/v1/losses"))
        return list(body["losses"]) if isinstance(body, Mapping) else list(body)

    def loss(self, name: str) -> dict[str, Any]:
        """One catalogue entry; aliases resolve."""
        return dict(self._requests.checked(self._http.get(f"/v1/losses/{name}")))

    def _post(self, path: str, document: Document, binary: bool, *, flat: bool = False) -> Any:
        response = self._http.post(path, **self._requests.content(document(binary), binary))
        if self._requests.refused(response, binary):
            response = self._http.post(path, **self._requests.content(document(False), False))
        return self._requests.checked(response, flat=flat)

    def evaluate(
        self,
        name: str,
        predictions: Any,
        targets: Any,
        *,
        sample_weight: Any = None,
        reduction: str = "mean",
        gradient: bool = True,
        nan_policy: str = "raise",
        group_by: Any = None,
        regularization: Regularization | Mapping[str, Any] | None = None,
        **params: Any,
    ) -> LossResult:
        """POST /v1/losses/{name}: one loss, its gradient and aggregates."""

        options = (sample_weight, reduction, gradient, nan_policy, group_by, regularization)
        document, binary = self._requests.document(predictions, targets, options, params)
        return _result(self._post(f"/v1/losses/{name}", document, binary, flat=True))

    def evaluate_many(
        self,
        losses: Sequence[Mapping[str, Any]],
        predictions: Any,
        targets: Any,
        *,
        sample_weight: Any = None,
        reduction: str = "mean",
        gradient: bool = True,
        nan_policy: str = "raise",
        group_by: Any = None,
        regularization: Regularization | Mapping[str, Any] | None = None,
    ) -> CompositeResult:
        """POST /v1/evaluate: several losses over one payload and their weighted total."""

        options = (sample_weight, reduction, gradient, nan_policy, group_by, regularization)
        document, binary = self._requests.document(
            predictions, targets, options, {"losses": [dict(entry) for entry in losses]}
        )
        return _composite(self._post("/v1/evaluate", document, binary))

    def score_table(
        self,
        name: str,
        table: Any,
        *,
        predictions: str | Sequence[str] = "predictions",
        targets: str | Sequence[str] = "targets",
        sample_weight: str | None = None,
        group_by: str | None = None,
        reduction: str = "mean",
        gradient: bool = True,
        nan_policy: str = "raise",
        **params: Any,
    ) -> LossResult:
        """POST /v1/losses/{name} with the table's columns as an Arrow IPC stream: a pyarrow
        Table or a pandas or polars DataFrame, the columns named by `predictions` (one column,
        or K columns of an (N, K) array), `targets`, `sample_weight` and `group_by`."""
        request = self._requests.arrow(
            table,
            predictions,
            targets,
            sample_weight,
            group_by,
            {"reduction": reduction, "gradient": gradient, "nan_policy": nan_policy, **params},
        )
        response = self._http.post(f"/v1/losses/{name}", **request)
        return _result(self._requests.checked(response, flat=True))


class AsyncLossClient:
    """Asynchronous twin of `LossClient`, for asyncio applications."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        typed_threshold: int = DEFAULT_TYPED_THRESHOLD,
        wire: Wire = "auto",
        compress: bool = False,
    ) -> None:
        self._requests = _Requests(typed_threshold, wire, compress)
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, headers=_headers(api_key)
        )

    async def __aenter__(self) -> AsyncLossClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def losses(self) -> list[dict[str, Any]]:
        """The catalogue: every loss with its parameters and input conventions."""
        body = self._requests.checked(await self._http.get("/v1/losses"))
        return list(body["losses"]) if isinstance(body, Mapping) else list(body)

    async def loss(self, name: str) -> dict[str, Any]:
        """One catalogue entry; aliases resolve."""
        return dict(self._requests.checked(await self._http.get(f"/v1/losses/{name}")))

    async def _post(
        self, path: str, document: Document, binary: bool, *, flat: bool = False
    ) -> Any:
        content = self._requests.content(document(binary), binary, asynchronous=True)
        response = await self._http.post(path, **content)
        if self._requests.refused(response, binary):
            content = self._requests.content(document(False), False, asynchronous=True)
            response = await self._http.post(path, **content)
        return self._requests.checked(response, flat=flat)

    async def evaluate(
        self,
        name: str,
        predictions: Any,
        targets: Any,
        *,
        sample_weight: Any = None,
        reduction: str = "mean",
        gradient: bool = True,
        nan_policy: str = "raise",
        group_by: Any = None,
        regularization: Regularization | Mapping[str, Any] | None = None,
        **params: Any,
    ) -> LossResult:
        """POST /v1/losses/{name}: one loss, its gradient and aggregates."""

        options = (sample_weight, reduction, gradient, nan_policy, group_by, regularization)
        document, binary = self._requests.document(predictions, targets, options, params)
        return _result(await self._post(f"/v1/losses/{name}", document, binary, flat=True))

    async def evaluate_many(
        self,
        losses: Sequence[Mapping[str, Any]],
        predictions: Any,
        targets: Any,
        *,
        sample_weight: Any = None,
        reduction: str = "mean",
        gradient: bool = True,
        nan_policy: str = "raise",
        group_by: Any = None,
        regularization: Regularization | Mapping[str, Any] | None = None,
    ) -> CompositeResult:
        """POST /v1/evaluate: several losses over one payload and their weighted total."""

        options = (sample_weight, reduction, gradient, nan_policy, group_by, regularization)
        document, binary = self._requests.document(
            predictions, targets, options, {"losses": [dict(entry) for entry in losses]}
        )
        return _composite(await self._post("/v1/evaluate", document, binary))

    async def score_table(
        self,
        name: str,
        table: Any,
        *,
        predictions: str | Sequence[str] = "predictions",
        targets: str | Sequence[str] = "targets",
        sample_weight: str | None = None,
        group_by: str | None = None,
        reduction: str = "mean",
        gradient: bool = True,
        nan_policy: str = "raise",
        **params: Any,
    ) -> LossResult:
        """POST /v1/losses/{name} with the table's columns as an Arrow IPC stream: a pyarrow
        Table or a pandas or polars DataFrame, the columns named by `predictions` (one column,
        or K columns of an (N, K) array), `targets`, `sample_weight` and `group_by`."""
        request = self._requests.arrow(
            table,
            predictions,
            targets,
            sample_weight,
            group_by,
            {"reduction": reduction, "gradient": gradient, "nan_policy": nan_policy, **params},
        )
        response = await self._http.post(f"/v1/losses/{name}", **request)
        return _result(self._requests.checked(response, flat=True))
