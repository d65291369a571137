"""The core's one entry point: check inputs, compute a loss, reduce it, add regularisation.

`evaluate` scores one loss; `evaluate_many` scores several over the same payload and adds their
weighted sum as a composite objective. Both take and return numpy arrays and plain floats, for
the HTTP API and for in-process users alike (a notebook, a Spark or Dask task).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._checks import (
    as_float_array,
    check_finite,
    check_ndim,
    check_range,
    check_same_shape,
    first_index,
    float_of,
    format_value,
)
from .base import FloatArray
from .domains import Values, check_values, resolve
from .errors import (
    DomainError,
    NonFiniteError,
    ParameterError,
    ReductionError,
    ResultOverflowError,
    ShapeError,
)
from .params import bind_params
from .reduce import Group, reduce
from .registry import REDUCTIONS, LossSpec, get_loss

__all__ = [
    "CompositeResult",
    "LossResult",
    "Regularization",
    "evaluate",
    "evaluate_many",
    "nan_samples",
]

NAN_POLICIES = ("raise", "omit")

# Losses, reductions and the penalty run with numpy's floating-point warnings off (one errstate
# around each evaluate call, and around the steps evaluate_many adds): a NaN or an infinity in a
# result is found by `_check_overflow` and raised as a LossError.
_quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


@dataclass(frozen=True)
class Regularization:
    """The L1/L2 penalty l1 sum|w| + l2 sum w^2 (Keras L1L2) on a model's weights."""

    weights: Any
    l1: float = 0.0
    l2: float = 0.0


@dataclass(frozen=True)
class LossResult:
    """One loss over one payload: the contract's response fields as floats and numpy arrays."""

    loss: str
    reduction: str
    value: float | None
    losses: FloatArray | None
    gradient: FloatArray | None
    per_output: FloatArray | None
    count: int
    weight_sum: float
    loss_sum: float
    omitted: int
    groups: list[Group] | None = None
    penalty: float | None = None
    cost: float | None = None
    weights_gradient: FloatArray | None = None


@dataclass(frozen=True)
class CompositeResult:
    """Several losses over one payload and their weighted sum `total`."""

    results: list[LossResult]
    weights: list[float]
    total: LossResult


class _Inputs(NamedTuple):
    """Checked inputs, restricted to the samples kept after NaN omission."""

    predictions: FloatArray
    targets: FloatArray
    weights: FloatArray | None  # None: no sample_weight, every weight 1
    group_keys: npt.NDArray[Any] | None
    kept: npt.NDArray[np.bool_] | None  # None when nothing was omitted


@_quiet
def evaluate(
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
    """Score `predictions` against `targets` with the loss registered as `name` (or an alias).

    predictions, targets: array-like (N,) or (N, K) as the loss expects; any real dtype, computed
        in float64. sample_weight: (N,) weights >= 0, not all 0. group_by: (N,) str or int keys.
    Raises a `LossError` subclass naming the field, index and value of any bad input.
    """
    spec = get_loss(name)
    bound = bind_params(spec.name, spec.params, params)
    _check_options(spec, reduction, nan_policy)
    inputs = _prepare(spec, bound, predictions, targets, sample_weight, nan_policy, group_by)
    _check_domains(spec, bound, inputs)
    result = _score(spec, bound, inputs, reduction, gradient)
    if regularization is not None:
        result = _regularize(result, regularization)
    return result


def evaluate_many(
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
    checkpoint: Callable[[], None] | None = None,
) -> CompositeResult:
    """Several losses over one payload, e.g. `[{"name": "bce", "weight": 0.7}, {"name": "dice",
    "weight": 0.3}]`, and `total`: the weighted sum of their values, per-sample losses and
    gradients (the gradient is null if any loss has none). Regularisation applies to the total.

    checkpoint: called before each loss; it may raise to stop the work (a caller whose client
    left), and the exception propagates as it is.
    """
    if not losses:
        raise ParameterError("losses is empty; expected at least one loss", field="losses")
    # Convert once: float64 arrays pass through the per-loss conversion without a copy.
    predictions = as_float_array(predictions, "predictions")
    targets = as_float_array(targets, "targets")
    results, weights = [], []
    for position, entry in enumerate(losses):
        options = dict(entry)
        loss_name = options.pop("name", None)
        weight = options.pop("weight", 1.0)
        if not isinstance(loss_name, str):
            raise ParameterError(
                f"losses[{position}] has no name; expected a loss name",
                field="losses",
                index=(position,),
            )
        number = _finite_number(weight)
        if number is None:
            raise ParameterError(
                f"losses[{position}].weight = {weight!r}; expected a finite number",
                field="losses",
                index=(position,),
                value=repr(weight),
            )
        if checkpoint is not None:
            checkpoint()
        results.append(
            evaluate(
                loss_name,
                predictions,
                targets,
                sample_weight=sample_weight,
                reduction=reduction,
                gradient=gradient,
                nan_policy=nan_policy,
                group_by=group_by,
                **options,
            )
        )
        weights.append(number)
    total = _combine(results, weights, reduction)
    if regularization is not None:
        total = _regularize(total, regularization)
    return CompositeResult(results=results, weights=weights, total=total)


def _finite_number(value: Any) -> float | None:
    """`value` as a float if it is an int or a float (not a bool) that float64 holds finitely."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float_of(value)
    return number if math.isfinite(number) else None


def _check_options(spec: LossSpec, reduction: str, nan_policy: str) -> None:
    if reduction not in spec.reductions:
        allowed = ", ".join(spec.reductions)
        reason = "" if reduction in REDUCTIONS else " (not a reduction)"
        raise ReductionError(
            f"reduction = {reduction!r}{reason}; {spec.name} supports: {allowed}",
            field="reduction",
            value=reduction,
        )
    if nan_policy not in NAN_POLICIES:
        raise ParameterError(
            f"nan_policy = {nan_policy!r}; expected one of: {', '.join(NAN_POLICIES)}",
            field="nan_policy",
            value=nan_policy,
        )


def _prepare(
    spec: LossSpec,
    params: Mapping[str, Any],
    predictions: Any,
    targets: Any,
    sample_weight: Any,
    nan_policy: str,
    group_by: Any,
) -> _Inputs:
    """Convert and check shapes, weights and keys; drop NaN samples under nan_policy='omit'."""
    predictions = as_float_array(predictions, "predictions")
    targets = as_float_array(targets, "targets")
    check_ndim(predictions, "predictions", spec.ndims)
    if predictions.ndim == 2 and predictions.shape[1] < spec.min_classes:
        raise ShapeError(
            f"predictions has shape {predictions.shape}; expected at least {spec.min_classes} "
            "classes (K)",
            field="predictions",
            value=list(predictions.shape),
        )
    _check_target_shape(spec, predictions, targets)
    samples = predictions.shape[0]

    weights: FloatArray | None = None
    if sample_weight is not None:
        weights = as_float_array(sample_weight, "sample_weight")
        _check_length(weights, "sample_weight", samples)

    group_keys = None if group_by is None else _group_keys(group_by, samples)

    omit = nan_policy == "omit"
    checked: list[tuple[FloatArray, str]] = []
    labels = predictions.ndim == 2 and targets.ndim == 1
    for values, array, field in (
        (spec.predictions, predictions, "predictions"),
        (spec.targets, targets, "targets"),
    ):
        # Otherwise checked from the loss sum (_score), or by the domain's own check.
        if omit or not (
            spec.propagates_nonfinite
            or _rejects_nonfinite(values, params, predictions.ndim, labels)
        ):
            checked.append((array, field))
    if weights is not None:
        checked.append((weights, "sample_weight"))
    for array, field in checked:
        if omit or not _surely_finite(array):
            check_finite(array, field, allow_nan=omit)
    kept = None
    if omit:
        dropped = nan_samples(predictions, targets, weights)
        if dropped.all():
            raise NonFiniteError(
                f"all {samples} samples hold NaN; nothing is left to score",
                field="predictions",
            )
        if dropped.any():
            kept = ~dropped
            predictions, targets = predictions[kept], targets[kept]
            weights = None if weights is None else weights[kept]
            group_keys = None if group_keys is None else group_keys[kept]

    if weights is not None:
        check_range(weights, "sample_weight", low=0.0, expected="a weight >= 0")
        if not weights.any():
            raise DomainError(
                "sample_weight is all 0; expected at least one positive weight",
                field="sample_weight",
            )
    return _Inputs(predictions, targets, weights, group_keys, kept)


def _rejects_nonfinite(values: Values, params: Mapping[str, Any], ndim: int, labels: bool) -> bool:
    """Whether the domain that applies finds NaN and infinities itself
    (`Domain.rejects_nonfinite`)."""
    case = resolve(values, params, ndim, labels)
    return case is not None and case.domain.rejects_nonfinite


def _check_domains(spec: LossSpec, params: Mapping[str, Any], inputs: _Inputs) -> None:
    """The predictions and the targets lie in the domains the registry states for this call."""
    predictions, targets = inputs.predictions, inputs.targets
    ndim = predictions.ndim
    classes = int(predictions.shape[1]) if ndim == 2 else None
    labels = ndim == 2 and targets.ndim == 1
    for values, array, field in (
        (spec.predictions, predictions, "predictions"),
        (spec.targets, targets, "targets"),
    ):
        check_values(values, array, field, params=params, classes=classes, ndim=ndim, labels=labels)


def _check_target_shape(spec: LossSpec, predictions: FloatArray, targets: FloatArray) -> None:
    labels_shape = (predictions.shape[0],)
    if spec.target_shape == "same" or predictions.ndim == 1:
        check_same_shape(predictions, targets)
    elif spec.target_shape == "labels" and targets.shape != labels_shape:
        raise ShapeError(
            f"predictions has shape {predictions.shape} but targets has shape {targets.shape}; "
            f"expected integer labels of shape {labels_shape}",
            field="targets",
            value=list(targets.shape),
        )
    elif spec.target_shape == "same_or_labels" and targets.shape not in (
        predictions.shape,
        labels_shape,
    ):
        raise ShapeError(
            f"predictions has shape {predictions.shape} but targets has shape {targets.shape}; "
            f"expected {predictions.shape} or labels of shape {labels_shape}",
            field="targets",
            value=list(targets.shape),
        )


def _check_length(array: FloatArray, field: str, samples: int) -> None:
    if array.shape != (samples,):
        raise ShapeError(
            f"{field} has shape {array.shape}; expected ({samples},), one per sample",
            field=field,
            value=list(array.shape),
        )


def _group_keys(group_by: Any, samples: int) -> npt.NDArray[Any]:
    """(N,) keys: integers as they are, strings as an object array (a list of strings is not
    made a fixed-width numpy string array, which pads every key to the longest and drops
    trailing NULs, so "a" and "a\\0" stay two keys)."""
    if isinstance(group_by, np.ndarray):
        keys = group_by
        valid = keys.dtype.kind in "Uiu" or (
            keys.dtype == object and all(isinstance(key, str) for key in keys.reshape(-1))
        )
    else:
        items = list(group_by)
        kinds = set(map(type, items))
        strings = bool(items) and kinds <= {str, np.str_}
        valid = strings or (bool(items) and kinds <= {int, np.int64, np.int32})
        if strings:
            keys = np.empty(len(items), dtype=object)
            keys[:] = items
        else:
            keys = np.asarray(items)  # integers: int64; otherwise its dtype names what is wrong
    if not valid:
        raise ShapeError(
            f"group_by holds {keys.dtype} values; expected all strings or all integers",
            field="group_by",
        )
    if keys.shape != (samples,):
        raise ShapeError(
            f"group_by has shape {keys.shape}; expected ({samples},), one key per sample",
            field="group_by",
            value=list(keys.shape),
        )
    return keys


def _surely_finite(array: npt.NDArray[Any]) -> bool:
    """True when every element is finite, checked by one reduction with no temporary array: a NaN
    or an infinity makes the sum NaN or infinite. False may also mean that finite values
    overflowed it; the caller then makes the exact, element by element check. Called under
    `_quiet`, so that such an overflow warns nobody."""
    return math.isfinite(np.add.reduce(array, axis=None))


def nan_samples(
    predictions: FloatArray, targets: FloatArray, weights: FloatArray | None
) -> npt.NDArray[np.bool_]:
    """The samples nan_policy="omit" drops: a NaN in the prediction, the target or the weight."""
    dropped = _nan_rows(predictions) | _nan_rows(targets)
    if weights is not None:
        dropped |= np.isnan(weights)
    return dropped


def _nan_rows(array: FloatArray) -> npt.NDArray[np.bool_]:
    nan: npt.NDArray[np.bool_] = np.isnan(array)
    if nan.ndim == 2:
        return np.asarray(nan.any(axis=1), dtype=bool)
    return nan


def _score(
    spec: LossSpec,
    params: dict[str, Any],
    inputs: _Inputs,
    reduction: str,
    gradient: bool,
) -> LossResult:
    want_gradient = gradient and spec.differentiable
    per_sample = spec.function(inputs.predictions, inputs.targets, gradient=want_gradient, **params)
    weights = inputs.weights
    if per_sample.ignored is not None:
        weights = np.where(per_sample.ignored, 0.0, 1.0 if weights is None else weights)
        if reduction == "mean" and not weights.any():
            raise DomainError(
                "every sample is ignored (ignore_index) or has weight 0; nothing to average",
                field="targets",
            )
    reduced = reduce(
        per_sample,
        weights,
        reduction,
        sqrt_of_mean=spec.sqrt_of_mean,
        group_keys=inputs.group_keys,
    )
    if spec.propagates_nonfinite and not math.isfinite(reduced.loss_sum):
        # A NaN or an infinity among the inputs shows here (see LossSpec); if there is none,
        # the loss itself overflowed, which _check_overflow reports.
        check_finite(inputs.predictions, "predictions")
        check_finite(inputs.targets, "targets")
    gradient_out = reduced.gradient
    losses_out = reduced.losses
    omitted = 0
    if inputs.kept is not None:
        omitted = int((~inputs.kept).sum())
        gradient_out = _scatter(gradient_out, inputs.kept)
        losses_out = _scatter(losses_out, inputs.kept)
    result = LossResult(
        loss=spec.name,
        reduction=reduction,
        value=reduced.value,
        losses=losses_out,
        gradient=gradient_out,
        per_output=reduced.per_output if inputs.predictions.ndim == 2 else None,
        count=reduced.count,
        weight_sum=reduced.weight_sum,
        loss_sum=reduced.loss_sum,
        omitted=omitted,
        groups=reduced.groups,
    )
    _check_overflow(result)
    return result


def _scatter(values: FloatArray | None, kept: npt.NDArray[np.bool_]) -> FloatArray | None:
    """Put per-kept-sample rows back in place, with 0 for the omitted samples."""
    if values is None:
        return None
    full = np.zeros((kept.shape[0], *values.shape[1:]))
    full[kept] = values
    return full


def _check_overflow(result: LossResult) -> None:
    """NaN or infinity never leaves the core: a result that overflows float64 is an error."""
    scalars = {
        "value": result.value,
        "loss_sum": result.loss_sum,
        "weight_sum": result.weight_sum,
        "penalty": result.penalty,
        "cost": result.cost,
    }
    for field, number in scalars.items():
        if number is not None and not math.isfinite(number):
            raise ResultOverflowError(
                f"{result.loss}: {field} = {format_value(number)} overflows float64; "
                "rescale the inputs",
                field=field,
                value=format_value(number),
            )
    arrays = {
        "losses": result.losses,
        "gradient": result.gradient,
        "per_output": result.per_output,
        "weights_gradient": result.weights_gradient,
    }
    for field, array in arrays.items():
        if array is not None and not _surely_finite(array) and not np.isfinite(array).all():
            index = first_index(~np.isfinite(array))
            raise ResultOverflowError(
                f"{result.loss}: {field}[{', '.join(map(str, index))}] = "
                f"{format_value(array[index])} overflows float64; rescale the inputs",
                field=field,
                index=index,
                value=format_value(array[index]),
            )
    for group in result.groups or ():
        for number in (group.loss_sum, group.weight_sum, group.value):
            if number is not None and not math.isfinite(number):
                raise ResultOverflowError(
                    f"{result.loss}: group {group.key!r} overflows float64; rescale the inputs",
                    field="groups",
                    value=str(group.key),
                )


@_quiet
def _combine(results: list[LossResult], weights: list[float], reduction: str) -> LossResult:
    """The weighted sum of several results over the same samples; an overflow is reported by
    _check_overflow as a ResultOverflowError, not warned about on the way."""

    def weighted_sum(arrays: list[FloatArray | None]) -> FloatArray | None:
        total: FloatArray | None = None
        for weight, array in zip(weights, arrays, strict=True):
            if array is None:
                return None
            total = weight * array if total is None else total + weight * array
        return total

    values = [result.value for result in results]
    value = (
        None
        if any(v is None for v in values)
        else float(sum(w * v for w, v in zip(weights, values, strict=True) if v is not None))
    )
    first = results[0]
    total = LossResult(
        loss="total",
        reduction=reduction,
        value=value,
        losses=weighted_sum([result.losses for result in results]),
        gradient=weighted_sum([result.gradient for result in results]),
        per_output=None,
        count=first.count,
        weight_sum=first.weight_sum,
        loss_sum=float(sum(w * r.loss_sum for w, r in zip(weights, results, strict=True))),
        omitted=first.omitted,
    )
    _check_overflow(total)
    return total


@_quiet
def _regularize(
    result: LossResult, regularization: Regularization | Mapping[str, Any]
) -> LossResult:
    """Add l1 sum|w| + l2 sum w^2 to the value; report penalty, cost and its weight gradient."""
    if isinstance(regularization, Mapping):
        unknown = sorted(set(regularization) - {"weights", "l1", "l2"})
        if unknown:
            raise ParameterError(
                f"regularization has unknown field {unknown[0]!r}; expected weights, l1, l2",
                field="regularization",
                value=unknown[0],
            )
        if "weights" not in regularization:
            raise ParameterError(
                "regularization.weights is missing; expected an array of model weights",
                field="regularization",
            )
        regularization = Regularization(
            weights=regularization["weights"],
            l1=regularization.get("l1", 0.0),
            l2=regularization.get("l2", 0.0),
        )
    weights = as_float_array(regularization.weights, "regularization.weights")
    check_finite(weights, "regularization.weights")
    strengths = []
    for name in ("l1", "l2"):
        strength = getattr(regularization, name)
        number = _finite_number(strength)
        if number is None or number < 0:
            raise ParameterError(
                f"regularization.{name} = {strength!r}; expected a finite number >= 0",
                field=f"regularization.{name}",
                value=repr(strength),
            )
        strengths.append(number)
    l1, l2 = strengths
    penalty = float(l1 * np.abs(weights).sum() + l2 * np.square(weights).sum())
    # 2 (l2 w), not (2 l2) w: 2 l2 may overflow where 2 l2 w does not, and inf * 0 is NaN.
    weights_gradient = l1 * np.sign(weights) + 2.0 * (l2 * weights)
    cost = None if result.value is None else result.value + penalty
    regularized = replace(result, penalty=penalty, cost=cost, weights_gradient=weights_gradient)
    _check_overflow(regularized)
    return regularized
