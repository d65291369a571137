"""The registry: the one place where every loss is declared, as data, for everything else to read.

An entry states the loss's function, its domains (what its predictions and targets may be, from
`domains`), the shapes it takes, its parameters with their bounds, whether it is differentiable
and its minimum. The input checks, the routes, the catalogue, the evaluate endpoint, OpenAPI, the
README's loss table and the parametrised tests all loop over `LOSSES`. Adding a loss is one
function plus one entry here plus its reference test.

Names: a loss answers to its name, its aliases (the contract's) and `names`, the names Keras,
PyTorch and scikit-learn give the same function with the same defaults, all matched ignoring
case, `_`, `-` and spaces. `ELSEWHERE` holds names that mean something else in those libraries:
they are not aliases, and asking for one says which loss and parameters compute the same thing.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from . import classification, distribution, regression
from .base import PerSample
from .domains import (
    BINARY,
    LOGITS,
    NON_NEGATIVE,
    ONE_HOT,
    POSITIVE,
    PROBABILITIES,
    REALS,
    SIGNS,
    SIMPLEX,
    Domain,
    Given,
    Interval,
    Labels,
    Values,
    describe,
)
from .errors import UnknownLossError
from .params import Param

__all__ = [
    "ELSEWHERE",
    "LOSSES",
    "REDUCTIONS",
    "Elsewhere",
    "LossSpec",
    "Param",
    "get_loss",
    "loss_names",
    "normalize_name",
]

Task = Literal["regression", "binary", "multiclass", "multilabel", "distribution"]
TargetShape = Literal["same", "labels", "same_or_labels"]
REDUCTIONS = ("mean", "sum", "none")
LossFunction = Callable[..., PerSample]


@dataclass(frozen=True)
class LossSpec:
    """Everything known about one loss: identity, domains, shapes, parameters and the function.

    predictions, targets: their domains (`domains.Values`): what each element or row may be,
        possibly depending on a parameter (from_logits), on the predictions' ndim, or on whether
        the targets are labels.
    ndims: the allowed numbers of dimensions of `predictions` (1 for (N,), 2 for (N, K)).
    target_shape: "same" (targets shaped like predictions), "labels" ((N,) integer labels for
        (N, K) predictions) or "same_or_labels" (either).
    min_classes: the least K of (N, K) predictions.
    minimum: the per-sample loss at a perfect prediction, which no prediction beats (predictions
        equal to hard targets: one-hot rows of labels, large scores of the targets' signs for
        margin losses); None when it depends on the targets (poisson: about y - y log y).
    per_output: (N, K) inputs also report the reduced loss of each output column.
    sqrt_of_mean: the value is the square root of the weighted mean (RMSE).
    propagates_nonfinite: a NaN or an infinity anywhere in the predictions or the targets always
        makes the loss sum NaN or infinite (the losses over all reals with no clip or max that
        could hide one). The inputs' finiteness is then checked from the loss sum, which is
        computed anyway, instead of by a pass over each input first; a non-finite sum leads to
        the same element-by-element check and the same error. The registry tests hold every such
        loss to it.
    example: a small valid request body (predictions, targets and parameters).
    names: the names Keras, PyTorch and scikit-learn give this function with these defaults.
    """

    name: str
    function: LossFunction
    task: Task
    formula: str
    predictions: Values
    targets: Values
    ndims: tuple[int, ...]
    example: Mapping[str, Any]
    target_shape: TargetShape = "same"
    min_classes: int = 1
    aliases: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    reductions: tuple[str, ...] = REDUCTIONS
    differentiable: bool = True
    minimum: float | None = 0.0
    per_output: bool = False
    sqrt_of_mean: bool = False
    propagates_nonfinite: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The first line of the function's docstring."""
        return (self.function.__doc__ or self.name).strip().splitlines()[0]

    @property
    def shapes(self) -> list[str]:
        """The accepted prediction shapes, as text."""
        return [{1: "(N,)", 2: "(N, K)"}[n] for n in self.ndims]

    @property
    def predictions_text(self) -> str:
        """What the predictions may be, in words, from their domain."""
        return describe(self.predictions)

    @property
    def targets_text(self) -> str:
        """What the targets may be, in words, from their domain."""
        return describe(self.targets)


@dataclass(frozen=True)
class Elsewhere:
    """Names that mean another function in a library users know, and what computes it here."""

    names: tuple[str, ...]
    means: str
    use: str
    losses: tuple[str, ...]


# ------------------------------------------------------------------------------ building blocks

LOGITS_HINT = "; pass from_logits=true if these are logits"
SOFT_LABELS = Interval(0.0, 1.0, noun="a probability", plural="labels or soft labels")
SCORES = Interval(noun="a score", plural="real-valued scores")
LOG_RATES = Interval(noun="a log-rate", plural="log-rates (real numbers)", finite_up_to=700.0)
LABEL_VALUES = Interval(noun="a label", plural="labels (numbers compared for equality)")


def _logits_or(domain: Domain) -> tuple[Given, ...]:
    """Probabilities (or rows) by default; any real logits with from_logits=true."""
    return (Given(LOGITS, {"from_logits": True}), Given(domain, hint=LOGITS_HINT))


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
THRESHOLD = Param(
    "threshold", "float", 0.5, "predictions >= threshold are class 1 (unless they are labels)"
)
PREDICTIONS_ARE_LABELS = Param(
    "predictions_are_labels",
    "bool",
    False,
    "(N,) predictions are labels compared with the targets as they are, not thresholded",
)
GAMMA = Param("gamma", "float", 2.0, "focusing exponent", ge=0.0)

REGRESSION_EXAMPLE = {"predictions": [2.5, 0.0, 2.0, 8.0], "targets": [3.0, -0.5, 2.0, 7.0]}
COUNT_EXAMPLE = {"predictions": [1.0, 2.5, 0.5, 4.0], "targets": [1.0, 3.0, 0.0, 5.0]}
BINARY_EXAMPLE = {"predictions": [0.9, 0.2, 0.7, 0.4], "targets": [1.0, 0.0, 1.0, 1.0]}
SCORE_EXAMPLE = {"predictions": [0.8, -0.3, 1.5, -2.0], "targets": [1.0, -1.0, 1.0, 1.0]}
CLASS_PROBS = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]
CLASS_SCORES = [[2.0, 0.5, -1.0], [0.3, 0.2, 0.9], [0.1, 1.2, 0.4]]
ONE_HOT_ROWS = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
DISTRIBUTIONS = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.25, 0.25, 0.5]]
MULTILABEL_EXAMPLE = {
    "predictions": [[0.9, 0.1, 0.8], [0.2, 0.7, 0.6]],
    "targets": [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
}


def _regression(
    name: str,
    function: LossFunction,
    formula: str,
    *,
    predictions: Values = REALS,
    targets: Values = REALS,
    example: Mapping[str, Any] = REGRESSION_EXAMPLE,
    **options: Any,
) -> LossSpec:
    """A regression loss: (N,) or (N, K) real values, reported per output column too."""
    return LossSpec(
        name=name,
        function=function,
        task="regression",
        formula=formula,
        predictions=predictions,
        targets=targets,
        ndims=(1, 2),
        example=example,
        per_output=True,
        **options,
    )


# Tweedie deviance domains (scikit-learn's): p > 0 except at power 0; y any real for power <= 0,
# y >= 0 for 1 <= power < 2, y > 0 from power 2. Powers in (0, 1) are refused by the parameter.
_POWER = Param(
    "power",
    "float",
    0.0,
    "the Tweedie power: 0 normal, 1 Poisson, (1, 2) compound Poisson-gamma, 2 gamma, 3 inverse "
    "Gaussian",
    excluded=(0.0, 1.0),
)
_NEGATIVE_POWER = Interval(-math.inf, 0.0, closed="neither")
_POISSON_TO_GAMMA = Interval(1.0, 2.0, closed="left")
_GAMMA_AND_BEYOND = Interval(2.0, math.inf)


_SPECS: tuple[LossSpec, ...] = (
    _regression(
        "mean_squared_error",
        regression.mean_squared_error,
        "l = (p - y)^2",
        aliases=("mse", "l2"),
        names=("MeanSquaredError", "mse_loss", "MSELoss"),
        propagates_nonfinite=True,
    ),
    _regression(
        "mean_absolute_error",
        regression.mean_absolute_error,
        "l = |p - y|",
        aliases=("mae", "l1"),
        names=("MeanAbsoluteError", "l1_loss", "L1Loss"),
        propagates_nonfinite=True,
    ),
    _regression(
        "root_mean_squared_error",
        regression.root_mean_squared_error,
        "value = sqrt(sum_i w_i (p_i - y_i)^2 / sum_i w_i)",
        aliases=("rmse",),
        names=("RootMeanSquaredError",),
        reductions=("mean",),
        sqrt_of_mean=True,
        propagates_nonfinite=True,
    ),
    _regression(
        "huber",
        regression.huber,
        "l = 0.5 r^2 if |r| <= delta else delta (|r| - 0.5 delta), r = p - y",
        names=("Huber", "huber_loss", "HuberLoss"),
        params=(Param("delta", "float", 1.0, "where the loss turns linear", gt=0.0),),
        example={**REGRESSION_EXAMPLE, "delta": 1.0},
        propagates_nonfinite=True,
    ),
    _regression(
        "smooth_l1",
        regression.smooth_l1,
        "l = 0.5 r^2 / beta if |r| < beta else |r| - 0.5 beta, r = p - y",
        names=("smooth_l1_loss", "SmoothL1Loss"),
        params=(Param("beta", "float", 1.0, "where the loss turns linear", gt=0.0),),
        example={**REGRESSION_EXAMPLE, "beta": 1.0},
        propagates_nonfinite=True,
    ),
    _regression(
        "quantile",
        regression.quantile,
        "l = max(q (y - p), (q - 1)(y - p))",
        aliases=("pinball",),
        names=("mean_pinball_loss",),
        params=(Param("quantile", "float", 0.5, "the quantile q being estimated", gt=0.0, lt=1.0),),
        example={**REGRESSION_EXAMPLE, "quantile": 0.9},
        propagates_nonfinite=True,
    ),
    _regression(
        "log_cosh",
        regression.log_cosh,
        "l = log(cosh(p - y))",
        names=("logcosh", "LogCosh"),
        propagates_nonfinite=True,
    ),
    _regression(
        "mean_squared_logarithmic_error",
        regression.mean_squared_logarithmic_error,
        "l = (log(1 + p) - log(1 + y))^2",
        aliases=("msle",),
        names=("MeanSquaredLogarithmicError", "mean_squared_log_error"),
        predictions=NON_NEGATIVE,
        targets=NON_NEGATIVE,
        example=COUNT_EXAMPLE,
    ),
    _regression(
        "mean_absolute_percentage_error",
        regression.mean_absolute_percentage_error,
        "l = |p - y| / max(|y|, machine epsilon)",
        aliases=("mape",),
        propagates_nonfinite=True,
    ),
    _regression(
        "poisson",
        regression.poisson,
        "l = p - y log(p + eps); with log_input: exp(p) - y p",
        names=("Poisson",),
        params=(
            Param(
                "log_input",
                "bool",
                False,
                "predictions are log-rates: the loss is exp(p) - y p (PyTorch's log_input)",
            ),
            Param("eps", "float", 1e-7, "keeps the log finite at p = 0", gt=0.0, lt=1.0),
        ),
        predictions=(Given(LOG_RATES, {"log_input": True}), Given(NON_NEGATIVE)),
        targets=NON_NEGATIVE,
        minimum=None,
        example=COUNT_EXAMPLE,
    ),
    _regression(
        "tweedie_deviance",
        regression.tweedie_deviance,
        "l = 2 (max(y, 0)^(2-k) / ((1-k)(2-k)) - y p^(1-k) / (1-k) + p^(2-k) / (2-k)), k the "
        "power; k = 0: (p - y)^2; k = 1: Poisson; k = 2: gamma deviance",
        names=("mean_tweedie_deviance",),
        params=(_POWER,),
        predictions=(Given(REALS, {"power": 0.0}), Given(POSITIVE)),
        targets=(
            Given(REALS, {"power": 0.0}),
            Given(REALS, {"power": _NEGATIVE_POWER}),
            Given(NON_NEGATIVE, {"power": _POISSON_TO_GAMMA}),
            Given(POSITIVE, {"power": _GAMMA_AND_BEYOND}),
        ),
        example={**COUNT_EXAMPLE, "power": 1.5},
    ),
    _regression(
        "poisson_deviance",
        regression.poisson_deviance,
        "l = 2 (y log(y / p) - y + p)",
        names=("mean_poisson_deviance",),
        predictions=POSITIVE,
        targets=NON_NEGATIVE,
        example=COUNT_EXAMPLE,
    ),
    _regression(
        "gamma_deviance",
        regression.gamma_deviance,
        "l = 2 (log(p / y) + y / p - 1)",
        names=("mean_gamma_deviance",),
        predictions=POSITIVE,
        targets=POSITIVE,
        example={"predictions": [1.0, 2.5, 0.5, 4.0], "targets": [1.5, 3.0, 0.5, 5.0]},
    ),
    LossSpec(
        name="cosine_similarity",
        function=distribution.cosine_similarity,
        task="regression",
        formula="l = 1 - sum_k p_k y_k / (||p|| ||y||), norms floored at 1e-6",
        predictions=Interval(noun="a real number", plural="vectors (rows of real numbers)"),
        targets=Interval(noun="a real number", plural="vectors (rows of real numbers)"),
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
        names=("binary_crossentropy", "BinaryCrossentropy", "BCELoss"),
        formula="l = -(pw y log p + (1 - y) log(1 - p)), p clipped to [eps, 1 - eps]",
        predictions=_logits_or(PROBABILITIES),
        targets=SOFT_LABELS,
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
        names=("binary_focal_crossentropy", "BinaryFocalCrossentropy"),
        formula="l = -alpha_t (1 - p_t)^gamma log p_t, p_t = y p + (1 - y)(1 - p)",
        predictions=_logits_or(PROBABILITIES),
        targets=SOFT_LABELS,
        ndims=(1, 2),
        params=(
            GAMMA,
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
        name="brier",
        function=classification.brier,
        task="binary",
        aliases=("brier_score",),
        names=("brier_score_loss",),
        formula="l = (p - y)^2; (N, K): sum_k (p_k - y_k)^2 over one-hot y",
        predictions=(Given(PROBABILITIES, {"ndim": 1}), Given(SIMPLEX)),
        targets=(Given(BINARY, {"ndim": 1}), Given(Labels(), {"labels": True}), Given(ONE_HOT)),
        ndims=(1, 2),
        target_shape="same_or_labels",
        example=BINARY_EXAMPLE,
    ),
    LossSpec(
        name="hinge",
        function=classification.hinge,
        task="binary",
        names=("hinge_loss",),
        formula="l = max(0, 1 - y p), y in {-1, 1} (or {0, 1}, mapped to {-1, 1})",
        predictions=SCORES,
        targets=SIGNS,
        ndims=(1, 2),
        example=SCORE_EXAMPLE,
    ),
    LossSpec(
        name="squared_hinge",
        function=classification.squared_hinge,
        task="binary",
        names=("SquaredHinge",),
        formula="l = max(0, 1 - y p)^2, y in {-1, 1} (or {0, 1}, mapped to {-1, 1})",
        predictions=SCORES,
        targets=SIGNS,
        ndims=(1, 2),
        example=SCORE_EXAMPLE,
    ),
    LossSpec(
        name="soft_margin",
        function=classification.soft_margin,
        task="binary",
        names=("soft_margin_loss", "SoftMarginLoss"),
        formula="l = log(1 + exp(-y p)), y in {-1, 1} (or {0, 1}, mapped to {-1, 1})",
        predictions=SCORES,
        targets=SIGNS,
        ndims=(1, 2),
        example=SCORE_EXAMPLE,
    ),
    LossSpec(
        name="categorical_hinge",
        function=classification.categorical_hinge,
        task="multiclass",
        formula="l = max(0, 1 + max_{c != t} p_c - p_t), t the true class",
        predictions=SCORES,
        targets=ONE_HOT,
        ndims=(2,),
        min_classes=2,
        example={"predictions": CLASS_SCORES, "targets": ONE_HOT_ROWS},
    ),
    LossSpec(
        name="multi_margin",
        function=classification.multi_margin,
        task="multiclass",
        names=("multi_margin_loss", "MultiMarginLoss"),
        formula="l = sum_{c != y} max(0, margin - p_y + p_c)^power / K",
        predictions=SCORES,
        targets=Labels(),
        ndims=(2,),
        target_shape="labels",
        params=(
            Param("margin", "float", 1.0, "the margin the true class's score must win by", gt=0.0),
            Param("power", "int", 1, "1 for the hinge, 2 for its square", ge=1, le=2),
            CLASS_WEIGHT,
        ),
        example={"predictions": CLASS_SCORES, "targets": [0, 2, 1]},
    ),
    LossSpec(
        name="zero_one",
        function=classification.zero_one,
        task="multiclass",
        names=("zero_one_loss",),
        formula="l = 1 if predicted label != y else 0",
        predictions=(
            Given(SCORES, {"ndim": 2}),
            Given(LABEL_VALUES, {"predictions_are_labels": True}),
            Given(Interval(noun="a number", plural="numbers compared with threshold")),
        ),
        targets=(
            Given(Labels(), {"labels": True}),
            Given(ONE_HOT, {"ndim": 2}),
            Given(LABEL_VALUES, {"predictions_are_labels": True}),
            Given(BINARY),
        ),
        ndims=(1, 2),
        target_shape="same_or_labels",
        min_classes=2,
        differentiable=False,
        params=(THRESHOLD, PREDICTIONS_ARE_LABELS),
        example=BINARY_EXAMPLE,
    ),
    LossSpec(
        name="categorical_cross_entropy",
        function=classification.categorical_cross_entropy,
        task="multiclass",
        aliases=("cce",),
        names=("categorical_crossentropy", "CategoricalCrossentropy"),
        formula="l = -sum_c y_c log p_c, p clipped to [eps, 1 - eps] (log-softmax with logits)",
        predictions=_logits_or(SIMPLEX),
        targets=SIMPLEX,
        ndims=(2,),
        params=(_from_logits("the softmax"), LABEL_SMOOTHING, CLASS_WEIGHT, _eps()),
        example={"predictions": CLASS_PROBS, "targets": ONE_HOT_ROWS},
    ),
    LossSpec(
        name="categorical_focal_cross_entropy",
        function=classification.categorical_focal_cross_entropy,
        task="multiclass",
        aliases=("categorical_focal",),
        names=("categorical_focal_crossentropy", "CategoricalFocalCrossentropy"),
        formula="l = -sum_c alpha (1 - p_c)^gamma y_c log p_c, p clipped to [eps, 1 - eps]",
        predictions=_logits_or(SIMPLEX),
        targets=SIMPLEX,
        ndims=(2,),
        params=(
            Param("alpha", "float", 0.25, "weight of every class's term", ge=0.0),
            GAMMA,
            _from_logits("the softmax"),
            LABEL_SMOOTHING,
            _eps(),
        ),
        example={"predictions": CLASS_PROBS, "targets": ONE_HOT_ROWS, "gamma": 2.0},
    ),
    LossSpec(
        name="sparse_categorical_cross_entropy",
        function=classification.sparse_categorical_cross_entropy,
        task="multiclass",
        aliases=("sparse_cce",),
        names=("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"),
        formula="l = -log p_y, p clipped to [eps, 1 - eps] (log-softmax with logits)",
        predictions=_logits_or(SIMPLEX),
        targets=Labels(ignore="ignore_index"),
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
        names=("kld", "KLDivergence", "kullback_leibler_divergence"),
        formula="l = sum_c y_c (log y_c - log p_c), 0 log 0 = 0, p clipped to [eps, 1]",
        predictions=_logits_or(SIMPLEX),
        targets=SIMPLEX,
        ndims=(2,),
        params=(_from_logits("the softmax"), _eps()),
        example={"predictions": CLASS_PROBS, "targets": DISTRIBUTIONS},
    ),
    LossSpec(
        name="js_divergence",
        function=distribution.js_divergence,
        task="distribution",
        formula="l = (KL(p || m) + KL(y || m)) / 2, m = (p + y) / 2, natural log",
        predictions=SIMPLEX,
        targets=SIMPLEX,
        ndims=(2,),
        example={"predictions": CLASS_PROBS, "targets": DISTRIBUTIONS},
    ),
    LossSpec(
        name="dice",
        function=distribution.dice,
        task="multilabel",
        formula="l = 1 - (2 sum_k p_k y_k + s) / (sum_k p_k + sum_k y_k + s)",
        predictions=PROBABILITIES,
        targets=SOFT_LABELS,
        ndims=(2,),
        params=(Param("smooth", "float", 1e-6, "smoothing term s", ge=0.0),),
        example=MULTILABEL_EXAMPLE,
    ),
    LossSpec(
        name="tversky",
        function=distribution.tversky,
        task="multilabel",
        formula="l = 1 - (TP + s) / (TP + alpha FP + beta FN + s), TP = sum_k p y, "
        "FP = sum_k p (1 - y), FN = sum_k (1 - p) y",
        predictions=PROBABILITIES,
        targets=SOFT_LABELS,
        ndims=(2,),
        params=(
            Param("alpha", "float", 0.5, "weight of the false positives", ge=0.0),
            Param("beta", "float", 0.5, "weight of the false negatives", ge=0.0),
            Param("smooth", "float", 1e-6, "smoothing term s", ge=0.0),
        ),
        example={**MULTILABEL_EXAMPLE, "alpha": 0.3, "beta": 0.7},
    ),
    LossSpec(
        name="hamming",
        function=classification.hamming,
        task="multilabel",
        names=("hamming_loss",),
        formula="l = (1 / K) sum_k [predicted label_k != y_k], predicted label: p >= threshold",
        predictions=(
            Given(BINARY, {"predictions_are_labels": True}),
            Given(Interval(noun="a number", plural="numbers compared with threshold")),
        ),
        targets=BINARY,
        ndims=(1, 2),
        differentiable=False,
        params=(THRESHOLD, PREDICTIONS_ARE_LABELS),
        example={
            "predictions": [[0.9, 0.2, 0.7], [0.4, 0.6, 0.1]],
            "targets": [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]],
        },
    ),
)

# Names that mean another function in Keras, PyTorch, torchvision or SciPy.
ELSEWHERE: tuple[Elsewhere, ...] = (
    Elsewhere(
        ("cross_entropy", "CrossEntropyLoss"),
        "PyTorch's cross_entropy (CrossEntropyLoss) takes logits",
        "sparse_categorical_cross_entropy with from_logits: true (class-index targets), or "
        "categorical_cross_entropy with from_logits: true (class-probability targets)",
        ("sparse_categorical_cross_entropy", "categorical_cross_entropy"),
    ),
    Elsewhere(
        ("nll_loss", "NLLLoss"),
        "PyTorch's nll_loss (NLLLoss) takes log-probabilities and class indices",
        "sparse_categorical_cross_entropy with from_logits: true (the log-softmax of "
        "log-probabilities is themselves)",
        ("sparse_categorical_cross_entropy",),
    ),
    Elsewhere(
        ("kl_div", "KLDivLoss"),
        "PyTorch's kl_div (KLDivLoss) takes log-probabilities as its input",
        "kl_divergence with from_logits: true (its reduction mean is PyTorch's 'batchmean')",
        ("kl_divergence",),
    ),
    Elsewhere(
        ("binary_cross_entropy_with_logits", "BCEWithLogitsLoss"),
        "PyTorch's binary_cross_entropy_with_logits (BCEWithLogitsLoss) takes logits",
        "binary_cross_entropy with from_logits: true",
        ("binary_cross_entropy",),
    ),
    Elsewhere(
        ("poisson_nll_loss", "PoissonNLLLoss"),
        "PyTorch's poisson_nll_loss (PoissonNLLLoss) reads log-rates by default",
        "poisson with log_input: true (PyTorch's full=False)",
        ("poisson",),
    ),
    Elsewhere(
        ("sigmoid_focal_loss",),
        "torchvision's sigmoid_focal_loss takes logits and balances with alpha 0.25",
        "binary_focal_cross_entropy with from_logits: true and alpha: 0.25",
        ("binary_focal_cross_entropy",),
    ),
    Elsewhere(
        ("jensenshannon",),
        "SciPy's jensenshannon is a distance, the square root of the divergence",
        "js_divergence, its square (natural log)",
        ("js_divergence",),
    ),
)

LOSSES: Mapping[str, LossSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})

_SEPARATORS = re.compile(r"[\s_-]+")


def normalize_name(name: str) -> str:
    """The form names are matched in: lower case, without `_`, `-` and spaces."""
    return _SEPARATORS.sub("", name.lower())


def _every_name(spec: LossSpec) -> tuple[str, ...]:
    return (spec.name, *spec.aliases, *spec.names)


_BY_KEY: Mapping[str, LossSpec] = MappingProxyType(
    {normalize_name(known): spec for spec in _SPECS for known in _every_name(spec)}
)
_ELSEWHERE_BY_KEY: Mapping[str, Elsewhere] = MappingProxyType(
    {normalize_name(name): entry for entry in ELSEWHERE for name in entry.names}
)


def loss_names(*, aliases: bool = False) -> list[str]:
    """Canonical names in catalogue order, and with `aliases` every accepted name."""
    if not aliases:
        return list(LOSSES)
    return [known for spec in _SPECS for known in _every_name(spec)]


# Longer than every name and alias, with room for typing mistakes.
_LONGEST_NAME = 64
_SUGGESTIONS = 3
_CUTOFF = 0.6


def _suggest(key: str) -> list[str]:
    """Distinct canonical names, the closest first: a loss scores its closest known name."""
    scores: dict[str, float] = {}
    candidates = [(known, spec.name) for known, spec in _BY_KEY.items()]
    candidates += [
        (known, loss) for known, entry in _ELSEWHERE_BY_KEY.items() for loss in entry.losses
    ]
    matcher = difflib.SequenceMatcher(b=key)
    for known, loss in candidates:
        matcher.set_seq1(known)
        if matcher.real_quick_ratio() < _CUTOFF or matcher.quick_ratio() < _CUTOFF:
            continue
        score = matcher.ratio()
        if score >= _CUTOFF and score > scores.get(loss, 0.0):
            scores[loss] = score
    ranked = sorted(scores, key=lambda loss: (-scores[loss], loss))
    return ranked[:_SUGGESTIONS]


def get_loss(name: str) -> LossSpec:
    """The spec registered under `name`, an alias or a framework name (case, `_`, `-` and spaces
    ignored). An unknown name raises UnknownLossError with the closest names; a name that means
    another function elsewhere says which loss and parameters compute it here."""
    if not isinstance(name, str):
        raise UnknownLossError(repr(name), [])
    key = normalize_name(name)
    spec = _BY_KEY.get(key)
    if spec is not None:
        return spec
    if len(name) > _LONGEST_NAME:
        # No loss is named anything this long: skip difflib's quadratic look-up, and echo a
        # prefix only.
        raise UnknownLossError(f"{name[:_LONGEST_NAME]}... ({len(name)} characters)", [])
    elsewhere = _ELSEWHERE_BY_KEY.get(key)
    if elsewhere is not None:
        raise UnknownLossError(
            name, list(elsewhere.losses), instead=f"{elsewhere.means}; use {elsewhere.use}"
        )
    raise UnknownLossError(name, _suggest(key))
