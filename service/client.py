"""Python clients for the service, on httpx: numpy arrays in, the core's result types out.

    with LossClient("http://127.0.0.1:8000") as client:
        result = client.evaluate("huber", predictions, targets, delta=2.0)
        result.value, result.gradient

Large arrays travel as base64 typed arrays (and come back as such) above `typed_threshold`
elements; errors are raised as `LossServiceError` carrying the problem details. Pass
`transport=httpx.ASGITransport(app)` to run against an app in-process.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np
import orjson

from .losses import CompositeResult, Group, LossResult, Regularization

__all__ = ["DEFAULT_TIMEOUT", "AsyncLossClient", "LossClient", "LossServiceError"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_TYPED_THRESHOLD = 4096
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


def encode_array(values: Any, threshold: int) -> Any:
    """Nested lists for small arrays; a base64 typed array above `threshold` elements."""
    array = np.asarray(values)
    if array.dtype.kind in "US":
        return array.tolist()
    if array.size <= threshold:
        if array.dtype.kind != "f":
            return array.tolist()
        # JSON has no NaN: a missing value travels as null, which the service reads as NaN.
        elements = array.astype(object)
        elements[np.isnan(array)] = None
        return elements.tolist()
    if array.dtype.kind in "iub":
        array = array.astype("<i8") if array.dtype.kind != "b" else array.astype("<i4")
        dtype = "int64" if array.dtype == np.dtype("<i8") else "int32"
    else:
        array = array.astype("<f8")
        dtype = "float64"
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
    return {"dtype": dtype, "shape": list(array.shape), "data": data}


def decode_array(value: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A response array (nested lists with null as NaN, or a typed array) as float64 numpy."""
    if isinstance(value, Mapping):
        raw = base64.b64decode(value["data"])
        array = np.frombuffer(raw, dtype=_DTYPES[value["dtype"]]).reshape(value["shape"])
        return array.astype(np.float64)
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

    def __init__(self, typed_threshold: int) -> None:
        self.typed_threshold = typed_threshold

    def common(
        self,
        predictions: Any,
        targets: Any,
        sample_weight: Any,
        reduction: str,
        gradient: bool,
        nan_policy: str,
        group_by: Any,
        regularization: Regularization | Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        encode = self.encode
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

    def encode(self, values: Any) -> Any:
        return encode_array(values, self.typed_threshold)

    @staticmethod
    def content(body: Mapping[str, Any]) -> dict[str, Any]:
        """httpx request arguments for a JSON body encoded by orjson (fast on large lists)."""
        return {"content": orjson.dumps(body), "headers": {"Content-Type": "application/json"}}

    @staticmethod
    def checked(response: httpx.Response) -> Any:
        if response.is_success:
            return orjson.loads(response.content)
        try:
            problem = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            problem = {"title": response.reason_phrase, "detail": response.text[:500]}
        if not isinstance(problem, Mapping):
            problem = {"title": response.reason_phrase, "detail": str(problem)[:500]}
        raise LossServiceError(response.status_code, problem)


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
    ) -> None:
        self._requests = _Requests(typed_threshold)
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
        body = self._requests.common(
            predictions,
            targets,
            sample_weight,
            reduction,
            gradient,
            nan_policy,
            group_by,
            regularization,
        )
        body.update(params)
        return _result(
            self._requests.checked(
                self._http.post(f"/v1/losses/{name}", **self._requests.content(body))
            )
        )

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
        body = self._requests.common(
            predictions,
            targets,
            sample_weight,
            reduction,
            gradient,
            nan_policy,
            group_by,
            regularization,
        )
        body["losses"] = [dict(entry) for entry in losses]
        return _composite(
            self._requests.checked(self._http.post("/v1/evaluate", **self._requests.content(body)))
        )


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
    ) -> None:
        self._requests = _Requests(typed_threshold)
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
        body = self._requests.common(
            predictions,
            targets,
            sample_weight,
            reduction,
            gradient,
            nan_policy,
            group_by,
            regularization,
        )
        body.update(params)
        response = await self._http.post(f"/v1/losses/{name}", **self._requests.content(body))
        return _result(self._requests.checked(response))

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
        body = self._requests.common(
            predictions,
            targets,
            sample_weight,
            reduction,
            gradient,
            nan_policy,
            group_by,
            regularization,
        )
        body["losses"] = [dict(entry) for entry in losses]
        response = await self._http.post("/v1/evaluate", **self._requests.content(body))
        return _composite(self._requests.checked(response))
