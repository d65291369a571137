"""Request and response schemas, the per-loss ones generated from the registry.

Array fields are skipped by pydantic's validation: the wire layer turns them into numpy in one
step, and pydantic validates only the small fields (parameters, options). So a million-element
request costs pydantic nothing.

Their JSON schema is written for the SDK generators (docs/sdk.md): nested lists of numbers,
exactly as deep as the loss takes them, and no union with another type. A union of a list and an
object, or of two list types, is what generators type worst: a wrapper class to build by hand
(openapi-generator's python), an interface that sends `{}` (its typescript-fetch), code that does
not type-check (openapi-python-client). So a field that takes (N,) and (N, K) lists is an array
of unconstrained items, and the forms for large payloads (a TypedArray in place of any array,
`array_encoding: base64`, null read as NaN) are accepted by the service and documented in words
(the API description, the field descriptions) rather than in the types every SDK user meets.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, WithJsonSchema, create_model
from pydantic.json_schema import SkipJsonSchema

from ..losses import LOSSES, LossSpec, Param

__all__ = [
    "REQUEST_MODELS",
    "ArrayEncoding",
    "CommonRequest",
    "EvaluateRequest",
    "EvaluateResponse",
    "GroupResult",
    "Health",
    "LossCatalogue",
    "LossEntry",
    "LossResponse",
    "TypedArray",
]

Reduction = Literal["mean", "sum", "none"]


class NanPolicy(StrEnum):
    """raise: NaN in an input is a 422; omit: samples holding NaN are dropped and counted."""

    RAISE = "raise"
    OMIT = "omit"


class ArrayEncoding(StrEnum):
    """How the response carries arrays: nested lists, or TypedArrays (base64 in JSON, raw bytes
    in MessagePack)."""

    JSON = "json"
    BASE64 = "base64"


class TypedArray(BaseModel):
    """A typed array: C-order little-endian bytes, base64-encoded (raw bytes in MessagePack),
    with dtype and shape."""

    model_config = ConfigDict(extra="forbid")

    dtype: Literal["float32", "float64", "int32", "int64"] = Field(
        description="Element type; the bytes are little-endian"
    )
    shape: list[Annotated[int, Field(ge=0)]] = Field(description="Dimensions, e.g. [N] or [N, K]")
    data: str = Field(
        description="base64 (RFC 4648, padded) of the C-order bytes; in MessagePack, the bytes "
        "themselves (bin)"
    )


# The JSON schema of an array field's lists (see the module docstring). At least one sample (and
# one column): the core refuses empty arrays, so the spec says so too.
_NUMBER = {"type": "number"}
# Strings or integers: any JSON value to the generators, which wrap a union of two primitives in
# a class of its own (openapi-generator) that each key must then be put in.
_KEY: dict[str, Any] = {}


def list_schema(ndims: set[int] | frozenset[int], item: Mapping[str, Any] = _NUMBER) -> Any:
    """Nested lists with these numbers of dimensions: (N,) rows, (N, K) matrices, or either."""
    row = {"type": "array", "items": dict(item), "minItems": 1}
    if set(ndims) == {1}:
        return row
    if set(ndims) == {2}:
        return {"type": "array", "items": row, "minItems": 1}
    return {"type": "array", "items": {}, "minItems": 1}


def _array(ndims: set[int]) -> Any:
    """An array field of a loss's own request: validated by the wire layer, documented as
    `list_schema`."""
    return Annotated[Any, SkipValidation, WithJsonSchema(list_schema(ndims))]


_EITHER = {1, 2}
_NULL = {"type": "null"}
_EitherIn = Annotated[Any, SkipValidation, WithJsonSchema(list_schema(_EITHER))]
_RowOrNullIn = Annotated[Any, SkipValidation, WithJsonSchema({"anyOf": [list_schema({1}), _NULL]})]
_KeysOrNullIn = Annotated[
    Any, SkipValidation, WithJsonSchema({"anyOf": [list_schema({1}, _KEY), _NULL]})
]
# Responses: validated (the tests check answers against these models), documented as lists.
_Numbers = list[float] | list[list[float]] | TypedArray
# Absent when not asked for (the model's None), never null.
_RowOut = Annotated[_Numbers | None, WithJsonSchema(list_schema({1}))]
_EitherOut = Annotated[_Numbers | None, WithJsonSchema(list_schema(_EITHER))]
_EitherOrNull = Annotated[_Numbers | None, WithJsonSchema({"anyOf": [list_schema(_EITHER), _NULL]})]
_ARRAY_FORMS = (
    "nested lists of numbers (null is read as NaN), or a TypedArray object {dtype, shape, "
    "data} (see the API description)"
)


class Regularization(BaseModel):
    """The L1/L2 penalty l1 sum|w| + l2 sum w^2 (Keras L1L2) on a model's weights."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    weights: _EitherIn = Field(
        description="The model's weights, any shape: a list, or a list of rows"
    )
    l1: float = Field(default=0.0, ge=0.0, description="L1 strength")
    l2: float = Field(default=0.0, ge=0.0, description="L2 strength")


def _add_example(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Put the registry's example of a generated model into its JSON schema."""
    example = getattr(model, "example", None)
    if example is not None:
        schema["examples"] = [dict(example)]


class CommonRequest(BaseModel):
    """The fields every loss request shares; each loss's request adds its parameters."""

    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False, json_schema_extra=_add_example
    )
    example: ClassVar[Mapping[str, Any] | None] = None

    predictions: _EitherIn = Field(description=f"(N,) or (N, K) predictions: {_ARRAY_FORMS}")
    targets: _EitherIn = Field(description="Targets, shaped as the loss expects")
    sample_weight: _RowOrNullIn = Field(
        default=None, description="(N,) weights >= 0, not all 0; default all 1"
    )
    reduction: Reduction = Field(
        default="mean",
        description="mean: sum w l / sum w; sum: sum w l; none: the per-sample w l",
    )
    gradient: bool = Field(
        default=True, description="Return the gradient with respect to the predictions"
    )
    # Named enums give one NanPolicy and one ArrayEncoding type in generated SDKs; not strict, so
    # that the JSON strings validate.
    nan_policy: NanPolicy = Field(
        default=NanPolicy.RAISE,
        strict=False,
        description="raise: NaN is an error (422); omit: drop every sample holding NaN",
    )
    # Accepted, and documented in the API description; kept out of the schema, whose response
    # arrays are the lists it describes (see the module docstring).
    array_encoding: SkipJsonSchema[ArrayEncoding] = Field(
        default=ArrayEncoding.JSON,
        strict=False,
        description="Response arrays as nested lists (json) or TypedArrays (base64: base64 text "
        "in JSON, raw bytes in MessagePack)",
    )
    group_by: _KeysOrNullIn = Field(
        default=None, description="(N,) segment keys, strings or integers: per-group aggregates"
    )
    regularization: Regularization | None = Field(
        default=None, description="An L1/L2 penalty on model weights, added to the value"
    )


def camel(name: str) -> str:
    """mean_squared_error -> MeanSquaredError."""
    return "".join(part.capitalize() for part in name.split("_"))


def _param_field(param: Param) -> tuple[Any, Any]:
    """A registry parameter as a pydantic (type, Field) pair, bounds included."""
    bounds = {key: getattr(param, key) for key in ("gt", "ge", "lt", "le")}
    bounds = {key: value for key, value in bounds.items() if value is not None}
    annotation: Any
    if param.type == "float":
        annotation = Annotated[float, Field(**bounds)]
    elif param.type == "int":
        annotation = Annotated[int, Field(**bounds)]
    elif param.type == "bool":
        annotation = bool
    else:
        annotation = Annotated[list[Annotated[float, Field(**bounds)]], Field(min_length=1)]
    if param.nullable:
        annotation = annotation | None
    default = list(param.default) if isinstance(param.default, tuple) else param.default
    return annotation, Field(default=default, description=param.description)


def _shape_fields(spec: LossSpec) -> dict[str, Any]:
    """predictions and targets typed with exactly the shapes the loss takes."""
    predictions = set(spec.ndims)
    targets = {
        "same": predictions,
        "labels": {1},
        "same_or_labels": predictions | {1},
    }[spec.target_shape]
    shapes = " or ".join(spec.shapes)
    return {
        "predictions": (
            _array(predictions),
            Field(description=f"{shapes} predictions: {_ARRAY_FORMS}"),
        ),
        "targets": (
            _array(targets),
            Field(description=f"Targets: {spec.targets_text}"),
        ),
    }


def _request_model(spec: LossSpec) -> type[CommonRequest]:
    reduction: Any = Literal.__getitem__(tuple(spec.reductions))
    fields: dict[str, Any] = {
        **_shape_fields(spec),
        "reduction": (
            reduction,
            Field(
                default=spec.reductions[0],
                description="mean: sum w l / sum w; sum: sum w l; none: the per-sample w l",
            ),
        ),
    }
    fields.update({param.name: _param_field(param) for param in spec.params})
    model = create_model(
        f"{camel(spec.name)}Request",
        __base__=CommonRequest,
        __doc__=f"{spec.summary} Per-sample loss: {spec.formula}",
        **fields,
    )
    model.example = spec.example
    return model


class LossTerm(BaseModel):
    """One loss of a composite objective: its name, weight and parameters."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    weight: float = Field(default=1.0, description="Weight of this loss in the total")


def _term_model(spec: LossSpec) -> type[LossTerm]:
    # The name and its aliases, so that an SDK takes {"name": "mse"}; the request reaches
    # validation with the canonical name (`compute._canonical_loss_names`). Each a const of its
    # own, which generators type as a union of literals (an enum becomes a class to import).
    # The frameworks' names resolve too, but are left out: spellings that differ only in case
    # (huber, Huber) make clashing members in generated SDKs.
    spellings = (spec.name, *spec.aliases)
    consts = [{"type": "string", "const": spelling} for spelling in spellings]
    schema = consts[0] if len(consts) == 1 else {"anyOf": consts}
    name: Any = Annotated[Literal.__getitem__(spellings), WithJsonSchema(schema)]
    fields: dict[str, Any] = {
        "name": (
            name,
            Field(
                description="The loss's name or an alias (a framework's name for it resolves "
                "too, case, _, - and spaces ignored)"
            ),
        ),
    }
    fields.update({param.name: _param_field(param) for param in spec.params})
    return create_model(
        f"{camel(spec.name)}Term", __base__=LossTerm, __doc__=spec.summary, **fields
    )


REQUEST_MODELS: dict[str, type[CommonRequest]] = {
    name: _request_model(spec) for name, spec in LOSSES.items()
}
TERM_MODELS: dict[str, type[LossTerm]] = {name: _term_model(spec) for name, spec in LOSSES.items()}
_AnyTerm: Any = Annotated[
    Union.__getitem__(tuple(TERM_MODELS.values())), Field(discriminator="name")
]


class EvaluateRequest(CommonRequest):
    """Several losses over one payload; `total` is their weighted sum, value and gradient."""

    losses: list[_AnyTerm] = Field(
        min_length=1,
        description="The losses to compute, e.g. [{name: bce, weight: 0.7}, {name: dice}]",
    )


EvaluateRequest.example = {
    "predictions": [0.9, 0.2, 0.7, 0.4],
    "targets": [1.0, 0.0, 1.0, 1.0],
    "losses": [
        {"name": "binary_cross_entropy", "weight": 0.7},
        {"name": "mean_squared_error", "weight": 0.3},
    ],
}


class GroupResult(BaseModel):
    """The aggregates of one segment of a group_by request."""

    key: Annotated[str | int, WithJsonSchema({})] = Field(
        description="The segment's key: a string or an integer, as sent"
    )
    count: int = Field(description="Samples of the segment used")
    weight_sum: float = Field(description="Sum of their weights")
    loss_sum: float = Field(description="Sum of their weighted losses")
    value: float | None = Field(description="The segment's reduced loss; null for none")


class LossResponse(BaseModel):
    """One loss over one payload, with mergeable aggregates (count, weight_sum, loss_sum)."""

    loss: str = Field(description="The loss's canonical name, or total")
    reduction: Reduction
    value: float | None = Field(description="The reduced loss; null only for reduction=none")
    losses: _RowOut = Field(
        default=None, description="reduction=none: the per-sample weighted losses w l"
    )
    gradient: _EitherOrNull = Field(
        default=None,
        description="d value / d predictions, shaped like predictions; null if not "
        "differentiable, absent if not asked for",
    )
    per_output: _RowOut = Field(
        default=None, description="(N, K) regression: the reduced loss of each output column"
    )
    groups: list[GroupResult] | None = Field(
        default=None, description="With group_by: one entry per distinct key"
    )
    count: int = Field(description="Samples used")
    weight_sum: float = Field(description="Sum of the sample weights used")
    loss_sum: float = Field(description="Sum of w l: combine batches by adding sums")
    omitted: int = Field(description="Samples dropped by nan_policy=omit")
    penalty: float | None = Field(default=None, description="With regularization: the penalty")
    cost: float | None = Field(default=None, description="With regularization: value + penalty")
    weights_gradient: _EitherOut = Field(
        default=None, description="With regularization: d penalty / d weights"
    )


class WeightedLossResponse(LossResponse):
    """One loss of a composite objective and its weight in the total."""

    weight: float = Field(description="This loss's weight in the total")


class EvaluateResponse(BaseModel):
    """Each loss's result, and `total`: their weighted sum."""

    results: list[WeightedLossResponse]
    total: LossResponse


class ParameterBounds(BaseModel):
    """Bounds of a numeric parameter: greater than, at least, less than, at most."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None


class ParameterEntry(BaseModel):
    """One parameter of a loss."""

    name: str
    type: Literal["float", "bool", "int", "float_list"]
    nullable: bool
    # Any JSON value to the generators: a union of these is what they type worst (docs/sdk.md).
    default: Annotated[
        float | bool | int | list[float] | None,
        WithJsonSchema({"description": "The default: a number, a boolean, numbers, or null"}),
    ]
    bounds: ParameterBounds
    description: str


class InputConventions(BaseModel):
    """What a loss expects as predictions and targets."""

    predictions: str
    targets: str
    shapes: list[str]
    targets_shape: str


class LossEntry(BaseModel):
    """One loss of the catalogue: everything a client needs to call it."""

    name: str
    aliases: list[str]
    names: list[str] = Field(
        description="Names Keras, PyTorch and scikit-learn give the same function with the same "
        "defaults; they resolve too (case, _, - and spaces ignored)"
    )
    task: Literal["regression", "binary", "multiclass", "multilabel", "distribution"]
    summary: str
    formula: str
    parameters: list[ParameterEntry]
    inputs: InputConventions
    reductions: list[Reduction]
    differentiable: bool
    minimum: float | None = Field(
        description="The per-sample loss at a perfect prediction, which no prediction beats; "
        "null when it depends on the targets"
    )


class LossCatalogue(BaseModel):
    """Every loss the service computes."""

    losses: list[LossEntry]


class Health(BaseModel):
    """Liveness or readiness."""

    status: str
