"""The registry: the one place where every loss is declared, with everything the rest reads.

Routes, the catalogue, the evaluate endpoint, OpenAPI, the README's loss table and the
parametrised tests all loop over `LOSSES`. Adding a loss is one function plus one entry here
plus its reference test.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from . import classification, distribution, regression
from .base import PerSample
from .errors import UnknownLossError
from .params import Param

__all__ = ["LOSSES", "REDUCTIONS", "LossSpec", "Param", "get_loss", "loss_names"]

Task = Literal["regression", "binary", "multiclass", "multilabel", "distribution"]
TargetShape = Literal["same", "labels", "same_or_labels"]
REDUCTIONS = ("mean", "sum", "none")
LossFunction = Callable[..., PerSample]


@dataclass(frozen=True)
class LossSpec:
    """Everything known about one loss: identity, inputs, parameters and the function itself.

    ndims: the allowed numbers of dimensions of `predictions` (1 for (N,), 2 for (N, K)).
    target_shape: "same" (targets shaped like predictions), "labels" ((N,) integer labels for
        (N, K) predictions) or "same_or_labels" (either).
    per_output: (N, K) inputs also report the reduced loss of each output column.
    sqrt_of_mean: the value is the square root of the weighted mean (RMSE).
    example: a small valid request body (predictions, targets and parameters).
    """

    name: str
    function: LossFunction
    task: Task
    formula: str
    predictions: str
    targets: str
    ndims: tuple[int, ...]
    example: Mapping[str, Any]
    target_shape: TargetShape = "same"
    aliases: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    reductions: tuple[str, ...] = REDUCTIONS
    differentiable: bool = True
    per_output: bool = False
    sqrt_of_mean: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The first line of the function's docstring."""
        return (self.function.__doc__ or self.name).strip().splitlines()[0]

    @property
    def shapes(self) -> list[str]:
        """The accepted prediction shapes, as text."""
        return [{1: "(N,)", 2: "(N, K)"}[n] for n in self.ndims]


def _from_logits(target: str) -> Param:
    return Param(
        "from_logits",
        "bool",
        False,
        f"predictions are logits and the loss applies {target} itself",
    )


def _eps(default: float = 1e-7) -> Param:
    return Param(
        "eps", "float", default, "probabilities are clipped to [eps, 1 - eps]", gt=0.0, lt=0.5
    )


LABEL_SMOOTHING = Param(
    "label_smoothing",
    "float",
    0.0,
    "targets are smoothed towards uniform: y (1 - s) + s / K (binary: + 0.5 s)",
    ge=0.0,
    lt=1.0,
)
CLASS_WEIGHT = Param(
    "class_weight",
    "float_list",
    None,
    "one weight >= 0 per class; a sample's loss is multiplied by its true class's weight",
    ge=0.0,
    nullable=True,
)

REGRESSION_VALUES = "real values"
PROBABILITIES_OR_LOGITS = "probabilities in [0, 1], or logits with from_logits=true"
ROW_PROBABILITIES_OR_LOGITS = (
    "rows of class probabilities summing to 1, or logits with from_logits=true"
)
REGRESSION_EXAMPLE = {"predictions": [2.5, 0.0, 2.0, 8.0], "targets": [3.0, -0.5, 2.0, 7.0]}
COUNT_EXAMPLE = {"predictions": [1.0, 2.5, 0.5, 4.0], "targets": [1.0, 3.0, 0.0, 5.0]}
BINARY_EXAMPLE = {"predictions": [0.9, 0.2, 0.7, 0.4], "targets": [1.0, 0.0, 1.0, 1.0]}
SCORE_EXAMPLE = {"predictions": [0.8, -0.3, 1.5, -2.0], "targets": [1.0, -1.0, 1.0, 1.0]}
CLASS_PROBS = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]
ONE_HOT = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
DISTRIBUTIONS = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.25, 0.25, 0.5]]


def _regression(
    name: str,
    function: LossFunction,
    formula: str,
    *,
    aliases: tuple[str, ...] = (),
    params: tuple[Param, ...] = (),
    targets: str = REGRESSION_VALUES,
    predictions: str = REGRESSION_VALUES,
    example: Mapping[str, Any] = REGRESSION_EXAMPLE,
    **options: Any,
) -> LossSpec:
    return LossSpec(
        name=name,
        function=function,
        task="regression",
        formula=formula,
        predictions=predictions,
        targets=targets,
        ndims=(1, 2),
        example=example,
        aliases=aliases,
        params=params,
        per_output=True,
        **options,
    )


_SPECS: tuple[LossSpec, ...] = (
    _regression(
        "mean_squared_error",
        regression.mean_squared_error,
        "l = (p - y)^2",
        aliases=("mse", "l2"),
    ),
    _regression(
        "mean_absolute_error",
        regression.mean_absolute_error,
        "l = |p - y|",
        aliases=("mae", "l1"),
    ),
    _regression(
        "root_mean_squared_error",
        regression.root_mean_squared_error,
        "value = sqrt(sum_i w_i (p_i - y_i)^2 / sum_i w_i)",
        aliases=("rmse",),
        reductions=("mean",),
        sqrt_of_mean=True,
    ),
    _regression(
        "huber",
        regression.huber,
        "l = 0.5 r^2 if |r| <= delta else delta (|r| - 0.5 delta), r = p - y",
        params=(Param("delta", "float", 1.0, "where the loss turns linear", gt=0.0),),
        example={**REGRESSION_EXAMPLE, "delta": 1.0},
    ),
    _regression(
        "smooth_l1",
        regression.smooth_l1,
        "l = 0.5 r^2 / beta if |r| < beta else |r| - 0.5 beta, r = p - y",
        params=(Param("beta", "float", 1.0, "where the loss turns linear", gt=0.0),),
        example={**REGRESSION_EXAMPLE, "beta": 1.0},
    ),
    _regression(
        "quantile",
        regression.quantile,
        "l = max(q (y - p), (q - 1)(y - p))",
        aliases=("pinball",),
        params=(Param("quantile", "float", 0.5, "the quantile q being estimated", gt=0.0, lt=1.0),),
        example={**REGRESSION_EXAMPLE, "quantile": 0.9},
    ),
    _regression("log_cosh", regression.log_cosh, "l = log(cosh(p - y))"),
    _regression(
        "mean_squared_logarithmic_error",
        regression.mean_squared_logarithmic_error,
        "l = (log(1 + p) - log(1 + y))^2",
        aliases=("msle",),
        predictions="real values >= 0",
        targets="real values >= 0",
        example=COUNT_EXAMPLE,
    ),
    _regression(
        "mean_absolute_percentage_error",
        regression.mean_absolute_percentage_error,
        "l = |p - y| / max(|y|, machine epsilon)",
        aliases=("mape",),
    ),
    _regression(
        "poisson",
        regression.poisson,
        "l = p - y log(p + eps)",
        params=(Param("eps", "float", 1e-7, "keeps the log finite at p = 0", gt=0.0, lt=1.0),),
        predictions="predicted rates >= 0",
        targets="counts >= 0",
        example=COUNT_EXAMPLE,
    ),
    LossSpec(
        name="cosine_similarity",
        function=distribution.cosine_similarity,
        task="regression",
        formula="l = 1 - sum_k p_k y_k / (||p|| ||y||), norms floored at 1e-6",
        predictions="vectors, one row per sample",
        targets="vectors, one row per sample",
        ndims=(2,),
        example={
            "predictions": [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]],
            "targets": [[1.0, 2.5, 2.0], [1.0, 0.0, 1.0]],
        },
    ),
    LossSpec(
        name="binary_cross_entropy",
        function=classification.binary_cross_entropy,
        task="binary",
        aliases=("bce", "log_loss"),
        formula="l = -(pw y log p + (1 - y) log(1 - p)), p clipped to [eps, 1 - eps]",
        predictions=PROBABILITIES_OR_LOGITS,
        targets="labels or soft labels in [0, 1]; (N, K) is multi-label",
        ndims=(1, 2),
        params=(
            _from_logits("the sigmoid"),
            LABEL_SMOOTHING,
            Param("pos_weight", "float", 1.0, "weight of the positive term", gt=0.0),
            _eps(),
        ),
        example=BINARY_EXAMPLE,
    ),
    LossSpec(
        name="binary_focal_cross_entropy",
        function=classification.binary_focal_cross_entropy,
        task="binary",
        aliases=("binary_focal",),
        formula="l = -alpha_t (1 - p_t)^gamma log p_t, p_t = y p + (1 - y)(1 - p)",
        predictions=PROBABILITIES_OR_LOGITS,
        targets="labels or soft labels in [0, 1]; (N, K) is multi-label",
        ndims=(1, 2),
        params=(
            Param("gamma", "float", 2.0, "focusing exponent", ge=0.0),
            Param(
                "alpha",
                "float",
                None,
                "weight of the positive class (1 - alpha for the negative); null: no balancing",
                ge=0.0,
                le=1.0,
                nullable=True,
            ),
            _from_logits("the sigmoid"),
            _eps(),
        ),
        example={**BINARY_EXAMPLE, "gamma": 2.0, "alpha": 0.25},
    ),
    LossSpec(
        name="hinge",
        function=classification.hinge,
        task="binary",
        formula="l = max(0, 1 - y p), y in {-1, 1} (or {0, 1}, mapped to {-1, 1})",
        predictions="real-valued scores",
        targets="all in {-1, 1}, or all in {0, 1}",
        ndims=(1, 2),
        example=SCORE_EXAMPLE,
    ),
    LossSpec(
        name="squared_hinge",
        function=classification.squared_hinge,
        task="binary",
        formula="l = max(0, 1 - y p)^2, y in {-1, 1} (or {0, 1}, mapped to {-1, 1})",
        predictions="real-valued scores",
        targets="all in {-1, 1}, or all in {0, 1}",
        ndims=(1, 2),
        example=SCORE_EXAMPLE,
    ),
    LossSpec(
        name="categorical_hinge",
        function=classification.categorical_hinge,
        task="multiclass",
        formula="l = max(0, 1 + max_{c != t} p_c - p_t), t the true class",
        predictions="real-valued scores, one column per class",
        targets="one-hot rows",
        ndims=(2,),
        example={
            "predictions": [[2.0, 0.5, -1.0], [0.3, 0.2, 0.9], [0.1, 1.2, 0.4]],
            "targets": ONE_HOT,
        },
    ),
    LossSpec(
        name="zero_one",
        function=classification.zero_one,
        task="multiclass",
        formula="l = 1 if predicted label != y else 0",
        predictions=(
            "(N, K) scores (argmax), or (N,) probabilities compared with threshold, or (N,) "
            "labels when threshold is null"
        ),
        targets="(N,) labels, or one-hot rows for (N, K) scores",
        ndims=(1, 2),
        target_shape="same_or_labels",
        differentiable=False,
        params=(
            Param(
                "threshold",
                "float",
                0.5,
                "(N,) predictions >= threshold are class 1; null: predictions are labels",
                nullable=True,
            ),
        ),
        example=BINARY_EXAMPLE,
    ),
    LossSpec(
        name="categorical_cross_entropy",
        function=classification.categorical_cross_entropy,
        task="multiclass",
        aliases=("cce",),
        formula="l = -sum_c y_c log p_c, p clipped to [eps, 1 - eps] (log-softmax with logits)",
        predictions=ROW_PROBABILITIES_OR_LOGITS,
        targets="one-hot or soft label rows summing to 1",
        ndims=(2,),
        params=(_from_logits("the softmax"), LABEL_SMOOTHING, CLASS_WEIGHT, _eps()),
        example={"predictions": CLASS_PROBS, "targets": ONE_HOT},
    ),
    LossSpec(
        name="sparse_categorical_cross_entropy",
        function=classification.sparse_categorical_cross_entropy,
        task="multiclass",
        aliases=("sparse_cce",),
        formula="l = -log p_y, p clipped to [eps, 1 - eps] (log-softmax with logits)",
        predictions=ROW_PROBABILITIES_OR_LOGITS,
        targets="(N,) integer class labels in [0, K)",
        ndims=(2,),
        target_shape="labels",
        params=(
            _from_logits("the softmax"),
            CLASS_WEIGHT,
            Param(
                "ignore_index",
                "int",
                None,
                "samples with this label count as absent (weight 0)",
                nullable=True,
            ),
            _eps(),
        ),
        example={"predictions": CLASS_PROBS, "targets": [0, 1, 2]},
    ),
    LossSpec(
        name="kl_divergence",
        function=distribution.kl_divergence,
        task="distribution",
        aliases=("kl", "relative_entropy"),
        formula="l = sum_c y_c (log y_c - log p_c), 0 log 0 = 0, p clipped to [eps, 1]",
        predictions="rows of probabilities summing to 1, or logits with from_logits=true",
        targets="rows of probabilities summing to 1",
        ndims=(2,),
        params=(_from_logits("the softmax"), _eps()),
        example={"predictions": CLASS_PROBS, "targets": DISTRIBUTIONS},
    ),
    LossSpec(
        name="js_divergence",
        function=distribution.js_divergence,
        task="distribution",
        formula="l = (KL(p || m) + KL(y || m)) / 2, m = (p + y) / 2, natural log",
        predictions="rows of probabilities summing to 1",
        targets="rows of probabilities summing to 1",
        ndims=(2,),
        example={"predictions": CLASS_PROBS, "targets": DISTRIBUTIONS},
    ),
    LossSpec(
        name="dice",
        function=distribution.dice,
        task="multilabel",
        formula="l = 1 - (2 sum_k p_k y_k + s) / (sum_k p_k + sum_k y_k + s)",
        predictions="probabilities in [0, 1], one row per sample",
        targets="labels or soft labels in [0, 1], one row per sample",
        ndims=(2,),
        params=(Param("smooth", "float", 1e-6, "smoothing term s", ge=0.0),),
        example={
            "predictions": [[0.9, 0.1, 0.8], [0.2, 0.7, 0.6]],
            "targets": [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
        },
    ),
)

LOSSES: Mapping[str, LossSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
_BY_ALIAS: Mapping[str, LossSpec] = MappingProxyType(
    {alias: spec for spec in _SPECS for alias in (spec.name, *spec.aliases)}
)


def loss_names(*, aliases: bool = False) -> list[str]:
    """Canonical names in catalogue order, and with `aliases` every accepted name."""
    return list(_BY_ALIAS) if aliases else list(LOSSES)


# Longer than every name and alias, with room for typing mistakes.
_LONGEST_NAME = 64


def get_loss(name: str) -> LossSpec:
    """The spec registered under `name` or one of its aliases (case-insensitive)."""
    if not isinstance(name, str):
        raise UnknownLossError(repr(name), [])
    spec = _BY_ALIAS.get(name.strip().lower().replace("-", "_"))
    if spec is None:
        if len(name) > _LONGEST_NAME:
            # No loss is named anything this long: skip difflib's quadratic look-up, and echo a
            # prefix only.
            raise UnknownLossError(f"{name[:_LONGEST_NAME]}... ({len(name)} characters)", [])
        suggestions = difflib.get_close_matches(name.lower(), list(_BY_ALIAS), n=3, cutoff=0.5)
        raise UnknownLossError(name, [_BY_ALIAS[s].name for s in suggestions])
    return spec
