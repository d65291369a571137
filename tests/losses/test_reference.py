"""Loss values checked against independent references: scikit-learn, scipy or a hand derivation.

Every loss in the registry, with every parameter it declares, is scored on seeded random inputs
and compared with a reference that shares no code with the core. A reference returns the
weighted loss sum and weight sum, (sum_i w_i l_i, sum_i w_i), so one case checks the reductions
mean, sum and none (weights that pick one sample give that sample's loss), NaN omission and
groups (weights 0 outside the kept samples or the group), and per_output (one column at a time).

Tolerances are rtol 1e-12 where the reference computes the same mathematics; a looser one says
why next to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy import special, stats
from scipy.spatial import distance
from sklearn import metrics

from service.losses import LOSSES, Regularization, evaluate, evaluate_many, get_loss

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# (predictions, targets, sample weights) -> (sum_i w_i l_i, sum_i w_i)
Reference = Callable[[FloatArray, FloatArray, FloatArray], tuple[float, float]]

RTOL = 1e-12
LOG_COSH_ATOL = 4.5e-16  # two ulps of log 2; see the log_cosh cases
POISSON_ATOL = 3e-14  # a few ulps of log(y!) < 20; see the poisson cases
SAMPLES = 24
OUTPUTS = 3
CLASSES = 4
BINARY_LABELS = [0, 1]
CLASS_LABELS = np.arange(CLASSES)

rng = np.random.default_rng(20240517)


# --- inputs -----------------------------------------------------------------------------------


def _binary_labels(shape: tuple[int, ...]) -> FloatArray:
    """Random 0/1 labels with both classes present in the first two samples."""
    labels = rng.integers(0, 2, size=shape).astype(np.float64)
    labels[0], labels[1] = 0.0, 1.0
    return labels


def _class_labels() -> npt.NDArray[np.int64]:
    """Random class labels with every class present."""
    labels = rng.integers(0, CLASSES, size=SAMPLES)
    labels[:CLASSES] = CLASS_LABELS
    return labels


WEIGHTS = rng.uniform(0.2, 2.0, size=SAMPLES)

REAL_1D = rng.normal(0.0, 2.0, size=(2, SAMPLES))
REAL_2D = rng.normal(0.0, 2.0, size=(2, SAMPLES, OUTPUTS))
NON_NEGATIVE_1D = rng.uniform(0.0, 6.0, size=(2, SAMPLES))
NON_NEGATIVE_2D = rng.uniform(0.0, 6.0, size=(2, SAMPLES, OUTPUTS))
RATES_1D = rng.gamma(2.0, 1.5, size=SAMPLES)
RATES_2D = rng.gamma(2.0, 1.5, size=(SAMPLES, OUTPUTS))
COUNTS_1D = rng.poisson(3.0, size=SAMPLES).astype(np.float64)
COUNTS_2D = rng.poisson(3.0, size=(SAMPLES, OUTPUTS)).astype(np.float64)
RATES_WITH_ZEROS = RATES_1D.copy()
RATES_WITH_ZEROS[::4] = 0.0
TARGETS_WITH_ZERO = REAL_1D[1].copy()
TARGETS_WITH_ZERO[3] = 0.0

# Probabilities kept inside [0.02, 0.98]: scikit-learn clips at machine epsilon, the core at eps.
PROBABILITIES_1D = rng.uniform(0.02, 0.98, size=SAMPLES)
PROBABILITIES_2D = rng.uniform(0.02, 0.98, size=(SAMPLES, OUTPUTS))
LABELS_1D = _binary_labels((SAMPLES,))
LABELS_2D = _binary_labels((SAMPLES, OUTPUTS))
SOFT_1D = rng.uniform(0.0, 1.0, size=SAMPLES)
SOFT_2D = rng.uniform(0.0, 1.0, size=(SAMPLES, OUTPUTS))
LOGITS_1D = rng.uniform(-3.0, 3.0, size=SAMPLES)
LOGITS_2D = rng.uniform(-3.0, 3.0, size=(SAMPLES, OUTPUTS))
# Probabilities at and beyond the clip boundaries, for the eps parameter.
EDGE_PROBABILITIES = PROBABILITIES_1D.copy()
EDGE_PROBABILITIES[:6] = [0.0, 1.0, 1e-5, 1.0 - 1e-5, 0.01, 0.99]
EDGE_LABELS = LABELS_1D.copy()
EDGE_LABELS[:6] = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]

SCORES_1D = rng.normal(0.0, 1.5, size=SAMPLES)
SCORES_2D = rng.normal(0.0, 1.5, size=(SAMPLES, OUTPUTS))
SIGNS_1D = 2.0 * LABELS_1D - 1.0

CLASS_SCORES = rng.normal(0.0, 1.5, size=(SAMPLES, CLASSES))
CLASS_LOGITS = rng.normal(0.0, 2.0, size=(SAMPLES, CLASSES))
CLASS_PROBABILITIES = rng.dirichlet(np.full(CLASSES, 2.0), size=SAMPLES)
CLASS_TARGETS = _class_labels()
ONE_HOT = np.eye(CLASSES)[CLASS_TARGETS]
SOFT_ROWS = rng.dirichlet(np.full(CLASSES, 1.0), size=SAMPLES)
# Rows with exact zeros, for 0 log 0 and for the eps clip.
SPARSE_ROWS = SOFT_ROWS.copy()
SPARSE_ROWS[::3] = np.eye(CLASSES)[(CLASS_TARGETS[::3] + 1) % CLASSES]
SPARSE_ROWS[1::3, 0] = 0.0
SPARSE_ROWS[1::3] /= SPARSE_ROWS[1::3].sum(axis=1, keepdims=True)
CLASS_WEIGHT = (0.5, 2.0, 1.0, 3.0)
IGNORED_TARGETS = CLASS_TARGETS.copy()
IGNORED_TARGETS[[2, 7, 11, 19]] = -100  # PyTorch's default ignore_index


# --- reference builders -----------------------------------------------------------------------


def _row_mean(values: FloatArray) -> FloatArray:
    """The per-sample loss of elementwise (N, K) losses: the mean over K (Keras)."""
    return values.mean(axis=1) if values.ndim == 2 else values


def per_sample(formula: Callable[[FloatArray, FloatArray], FloatArray]) -> Reference:
    """A reference from a per-sample (N,) or elementwise (N, K) formula."""

    def reference(p: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
        return float(w @ _row_mean(formula(p, y))), float(w.sum())

    return reference


def sklearn_mean(metric: Callable[[FloatArray, FloatArray, FloatArray], float]) -> Reference:
    """A reference from a scikit-learn weighted average metric(predictions, targets, w)."""

    def reference(p: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
        return float(metric(p, y, w)) * float(w.sum()), float(w.sum())

    return reference


def raveled(
    metric: Callable[[FloatArray, FloatArray, FloatArray], float],
) -> Callable[[FloatArray, FloatArray, FloatArray], float]:
    """A scikit-learn binary metric on (N, K) inputs: all N K elements, sample weights repeated.

    The mean over all elements with w_i repeated K times is sum_i w_i mean_k l_ik / sum_i w_i.
    """

    def metric_2d(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
        if p.ndim == 1:
            return metric(p, y, w)
        return metric(p.ravel(), y.ravel(), np.repeat(w, p.shape[1]))

    return metric_2d


def _rows(
    function: Callable[[FloatArray, FloatArray], float],
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """A row-by-row scipy function as a per-sample formula."""

    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        return np.array([function(a, b) for a, b in zip(p, y, strict=True)])

    return formula


# --- scikit-learn metrics with the argument order (predictions, targets, weights) ----------


def sk_mse(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.mean_squared_error(y, p, sample_weight=w))


def sk_mae(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.mean_absolute_error(y, p, sample_weight=w))


def sk_pinball(q: float) -> Callable[[FloatArray, FloatArray, FloatArray], float]:
    def metric(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
        return float(metrics.mean_pinball_loss(y, p, alpha=q, sample_weight=w))

    return metric


def sk_msle(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.mean_squared_log_error(y, p, sample_weight=w))


def sk_mape(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.mean_absolute_percentage_error(y, p, sample_weight=w))


def sk_binary_log_loss(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.log_loss(y, p, sample_weight=w, labels=BINARY_LABELS))


def sk_binary_hinge(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    # scikit-learn maps the two labels to {-1, 1} itself (LabelBinarizer(neg_label=-1)).
    return float(metrics.hinge_loss(y, p, sample_weight=w))


def sk_zero_one_thresholded(
    threshold: float,
) -> Callable[[FloatArray, FloatArray, FloatArray], float]:
    def metric(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
        return float(metrics.zero_one_loss(y, (p >= threshold).astype(np.float64), sample_weight=w))

    return metric


def sk_zero_one_labels(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.zero_one_loss(y, p, sample_weight=w))


def sk_zero_one_scores(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    actual = y.argmax(axis=1) if y.ndim == 2 else y
    return float(metrics.zero_one_loss(actual, p.argmax(axis=1), sample_weight=w))


def sk_categorical_log_loss(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    return float(metrics.log_loss(labels, p, sample_weight=w, labels=CLASS_LABELS))


def sk_categorical_log_loss_from_logits(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return sk_categorical_log_loss(special.softmax(p, axis=1), y, w)


def sk_categorical_hinge(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.hinge_loss(y.argmax(axis=1), p, labels=CLASS_LABELS, sample_weight=w))


def sk_class_weighted_log_loss(p: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
    """Class weights as extra sample weights in the loss sum; the mean still divides by sum w."""
    labels = y.argmax(axis=1) if y.ndim == 2 else y.astype(np.int64)
    factor = np.asarray(CLASS_WEIGHT)[labels]
    loss_sum = metrics.log_loss(
        labels, p, sample_weight=w * factor, labels=CLASS_LABELS, normalize=False
    )
    return float(loss_sum), float(w.sum())


def sk_ignoring_log_loss(p: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
    """ignore_index=-100: those samples are left out of both sums (weight 0)."""
    kept = (y != -100) & (w > 0)
    if not kept.any():  # scikit-learn refuses all-zero weights; nothing left means (0, 0)
        return 0.0, 0.0
    loss_sum = metrics.log_loss(
        y[kept], p[kept], sample_weight=w[kept], labels=CLASS_LABELS, normalize=False
    )
    return float(loss_sum), float(w[kept].sum())


# --- hand derivations and scipy formulas --------------------------------------------------------


def scipy_huber(delta: float) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # scipy.special.huber(delta, r) = r^2 / 2 within delta, delta (|r| - delta / 2) beyond.
    return lambda p, y: special.huber(delta, p - y)


def smooth_l1_formula(beta: float) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # PyTorch documents SmoothL1(beta) = Huber(delta=beta) / beta: within beta
    # (r^2 / 2) / beta = 0.5 r^2 / beta, beyond beta (|r| - beta / 2) beta / beta = |r| - 0.5 beta.
    return lambda p, y: special.huber(beta, p - y) / beta


def log_cosh_formula(p: FloatArray, y: FloatArray) -> FloatArray:
    # cosh r = 1 + 2 sinh^2(r / 2), so log cosh r = log1p(2 sinh^2(r / 2)): no cancellation at
    # small r and no overflow for the moderate r used here.
    return np.log1p(2.0 * np.square(np.sinh(0.5 * (p - y))))


def poisson_formula(eps: float) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # The Poisson log-pmf is y log(mu) - mu - log(y!); with mu = p + eps,
    # p - y log(p + eps) = -logpmf(y; mu) - log(y!) - eps.
    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        mu = p + eps
        return -stats.poisson.logpmf(y, mu) - special.gammaln(y + 1.0) - eps

    return formula


def binary_entropy(
    pos_weight: float = 1.0, label_smoothing: float = 0.0, eps: float | None = None
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """-(pw y' log p + (1 - y') log(1 - p)) with y' = y (1 - s) + s / 2 and p clipped to eps."""

    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        smoothed = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
        clipped = p if eps is None else np.clip(p, eps, 1.0 - eps)
        return -(
            pos_weight * special.xlogy(smoothed, clipped)
            + special.xlogy(1.0 - smoothed, 1.0 - clipped)
        )

    return formula


def torch_bce_with_logits(
    pos_weight: float = 1.0, label_smoothing: float = 0.0
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """PyTorch's binary_cross_entropy_with_logits, in the form its implementation computes:

    log_weight = 1 + (pos_weight - 1) y;
    l = (1 - y) z + log_weight (log1p(exp(-|z|)) + max(-z, 0)).
    """

    def formula(z: FloatArray, y: FloatArray) -> FloatArray:
        smoothed = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
        log_weight = 1.0 + (pos_weight - 1.0) * smoothed
        return (1.0 - smoothed) * z + log_weight * (
            np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0.0)
        )

    return formula


def keras_focal(
    gamma: float = 2.0, alpha: float | None = None, from_logits: bool = False
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """Keras 3 binary_focal_crossentropy, written out:

    bce = binary_crossentropy(y, p)  (logits: the stable max(z, 0) - z y + log1p(exp(-|z|)))
    p_t = y p + (1 - y)(1 - p);  focal = (1 - p_t)^gamma
    alpha_t = y alpha + (1 - y)(1 - alpha) when class balancing is on (alpha not null)
    l = alpha_t focal bce, averaged over the last axis.
    """

    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        if from_logits:
            bce = np.maximum(p, 0.0) - p * y + np.log1p(np.exp(-np.abs(p)))
            p = special.expit(p)
        else:
            bce = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
        p_t = y * p + (1.0 - y) * (1.0 - p)
        focal = np.power(1.0 - p_t, gamma) * bce
        if alpha is not None:
            focal = (y * alpha + (1.0 - y) * (1.0 - alpha)) * focal
        return focal

    return formula


def focal_clipped(eps: float) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # The core clips p to [eps, 1 - eps] in the whole formula (Keras only inside the log), so
    # that the gradient is 0 on the clipped side as the contract says. With eps = 0.05 and
    # gamma = 2: p = 0, y = 1 gives p_t = 0.05 and l = 0.95^2 (-log 0.05) = 2.7036...
    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        clipped = np.clip(p, eps, 1.0 - eps)
        p_t = y * clipped + (1.0 - y) * (1.0 - clipped)
        return -np.square(1.0 - p_t) * np.log(p_t)

    return formula


def squared_hinge_formula(p: FloatArray, y: FloatArray) -> FloatArray:
    # Keras maps {0, 1} targets to {-1, 1}: y = 0 becomes -1, so l = max(0, 1 + p)^2 there.
    signs = np.where(y == 0.0, -1.0, y)
    return np.square(np.maximum(0.0, 1.0 - signs * p))


def cross_entropy_rows(
    label_smoothing: float = 0.0,
    from_logits: bool = False,
    class_weight: tuple[float, ...] | None = None,
    eps: float | None = None,
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """-sum_c y'_c log p_c with y' = y (1 - s) + s / K, times sum_c y_c class_weight_c."""

    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        smoothed = y * (1.0 - label_smoothing) + label_smoothing / y.shape[1]
        if from_logits:
            log_p = special.log_softmax(p, axis=1)
        else:
            log_p = np.log(p if eps is None else np.clip(p, eps, 1.0 - eps))
        losses = -(smoothed * log_p).sum(axis=1)
        if class_weight is not None:
            losses = losses * (y @ np.asarray(class_weight))
        return losses

    return formula


def sparse_from_logits(p: FloatArray, y: FloatArray) -> FloatArray:
    # -log softmax(z)_y = logsumexp(z) - z_y
    labels = y.astype(np.int64)
    return special.logsumexp(p, axis=1) - p[np.arange(len(labels)), labels]


def sparse_from_logits_ignoring(
    ignored: int,
) -> Callable[[FloatArray, FloatArray, FloatArray], tuple[float, float]]:
    def reference(p: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
        kept = y != ignored
        safe = np.where(kept, y, 0.0)
        losses = np.where(kept, sparse_from_logits(p, safe), 0.0)
        return float(w @ losses), float(w[kept].sum())

    return reference


def sparse_clipped(eps: float) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # With eps = 1e-3, a true class of probability 0 costs -log(1e-3) = 6.9078; one of 1 costs
    # -log(1 - 1e-3) = 0.0010005.
    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        chosen = p[np.arange(len(y)), y.astype(np.int64)]
        return -np.log(np.clip(chosen, eps, 1.0 - eps))

    return formula


def kl_rows(
    from_logits: bool = False, eps: float | None = None
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # rel_entr(y, p) = y log(y / p), with 0 log 0 = 0.
    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        if from_logits:
            p = special.softmax(p, axis=1)
        elif eps is not None:
            p = np.clip(p, eps, 1.0)
        return special.rel_entr(y, p).sum(axis=1)

    return formula


def js_rows(p: FloatArray, y: FloatArray) -> FloatArray:
    # scipy's jensenshannon is the square root of the divergence (natural log by default).
    return np.square(distance.jensenshannon(p, y, axis=1))


def dice_rows(smooth: float) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # E.g. p = [0.9, 0.1, 0.8], y = [1, 0, 1], s = 1: 1 - (2 * 1.7 + 1) / (1.8 + 2 + 1) = 0.0833.
    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        overlap = (p * y).sum(axis=1)
        return 1.0 - (2.0 * overlap + smooth) / (p.sum(axis=1) + y.sum(axis=1) + smooth)

    return formula


# --- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One loss with one set of parameters on one input, and its independent reference."""

    id: str
    loss: str
    predictions: FloatArray
    targets: FloatArray
    reference: Reference
    params: Mapping[str, Any] = field(default_factory=dict)
    # Samples the loss counts as absent (ignore_index): out of `count` though in the input.
    absent: BoolArray | None = None
    # Looser tolerance with its reason, where the reference takes a different numerical route.
    rtol: float = RTOL
    atol: float = 0.0

    def score(self, **options: Any) -> Any:
        return evaluate(self.loss, self.predictions, self.targets, **self.params, **options)


def _case(id: str, loss: str, p: Any, y: Any, reference: Reference, **params: Any) -> Case:
    return Case(
        id,
        loss,
        np.asarray(p, dtype=np.float64),
        np.asarray(y, dtype=np.float64),
        reference,
        params,
    )


CASES: list[Case] = [
    # Regression: scikit-learn where it has the loss, (N,) and (N, K).
    _case("mse-1d", "mean_squared_error", *REAL_1D, sklearn_mean(sk_mse)),
    _case("mse-2d", "mean_squared_error", *REAL_2D, sklearn_mean(sk_mse)),
    _case("mae-1d", "mean_absolute_error", *REAL_1D, sklearn_mean(sk_mae)),
    _case("mae-2d", "mean_absolute_error", *REAL_2D, sklearn_mean(sk_mae)),
    _case("huber-1d", "huber", *REAL_1D, per_sample(scipy_huber(1.0))),
    _case("huber-1d-delta", "huber", *REAL_1D, per_sample(scipy_huber(0.3)), delta=0.3),
    _case("huber-2d-delta", "huber", *REAL_2D, per_sample(scipy_huber(2.5)), delta=2.5),
    _case("smooth_l1-1d", "smooth_l1", *REAL_1D, per_sample(smooth_l1_formula(1.0))),
    _case("smooth_l1-1d-beta", "smooth_l1", *REAL_1D, per_sample(smooth_l1_formula(0.4)), beta=0.4),
    _case("smooth_l1-2d-beta", "smooth_l1", *REAL_2D, per_sample(smooth_l1_formula(2.0)), beta=2.0),
    _case("quantile-1d", "quantile", *REAL_1D, sklearn_mean(sk_pinball(0.5))),
    _case("quantile-1d-q", "quantile", *REAL_1D, sklearn_mean(sk_pinball(0.1)), quantile=0.1),
    _case("quantile-2d-q", "quantile", *REAL_2D, sklearn_mean(sk_pinball(0.9)), quantile=0.9),
    # The core uses Keras's |r| + log1p(exp(-2|r|)) - log 2 (STYLE.md), which cancels against
    # log 2 near r = 0: its absolute error is up to 2.2e-16 (half an ulp of log 2), i.e. a
    # relative error of 3e-12 on a residual of 4e-3. atol states that bound.
    Case("log_cosh-1d", "log_cosh", *REAL_1D, per_sample(log_cosh_formula), atol=LOG_COSH_ATOL),
    Case("log_cosh-2d", "log_cosh", *REAL_2D, per_sample(log_cosh_formula), atol=LOG_COSH_ATOL),
    _case("msle-1d", "mean_squared_logarithmic_error", *NON_NEGATIVE_1D, sklearn_mean(sk_msle)),
    _case("msle-2d", "mean_squared_logarithmic_error", *NON_NEGATIVE_2D, sklearn_mean(sk_msle)),
    _case("mape-1d", "mean_absolute_percentage_error", *REAL_1D, sklearn_mean(sk_mape)),
    _case("mape-2d", "mean_absolute_percentage_error", *REAL_2D, sklearn_mean(sk_mape)),
    # A zero target divides by machine epsilon (scikit-learn's guard): a loss near 1e16.
    _case(
        "mape-1d-zero-target",
        "mean_absolute_percentage_error",
        REAL_1D[0],
        TARGETS_WITH_ZERO,
        sklearn_mean(sk_mape),
    ),
    Case(
        "poisson-1d",
        "poisson",
        RATES_1D,
        COUNTS_1D,
        per_sample(poisson_formula(1e-7)),
        # The reference subtracts log(y!) (below 20 for these counts) from -logpmf, so it carries
        # an absolute error of a few ulps of 20 (~1e-14) that is large relative to a loss near 0.
        atol=POISSON_ATOL,
    ),
    Case(
        "poisson-2d",
        "poisson",
        RATES_2D,
        COUNTS_2D,
        per_sample(poisson_formula(1e-7)),
        atol=POISSON_ATOL,  # as poisson-1d
    ),
    Case(
        "poisson-1d-eps",
        "poisson",
        RATES_WITH_ZEROS,
        COUNTS_1D,
        per_sample(poisson_formula(1e-3)),
        params={"eps": 1e-3},
        atol=POISSON_ATOL,  # as poisson-1d
    ),
    _case(
        "cosine_similarity-2d",
        "cosine_similarity",
        *REAL_2D,
        per_sample(_rows(distance.cosine)),
    ),
    # Binary cross-entropy.
    _case(
        "bce-1d",
        "binary_cross_entropy",
        PROBABILITIES_1D,
        LABELS_1D,
        sklearn_mean(sk_binary_log_loss),
    ),
    _case(
        "bce-2d-multilabel",
        "binary_cross_entropy",
        PROBABILITIES_2D,
        LABELS_2D,
        sklearn_mean(raveled(sk_binary_log_loss)),
    ),
    _case(
        "bce-1d-soft",
        "binary_cross_entropy",
        PROBABILITIES_1D,
        SOFT_1D,
        per_sample(binary_entropy()),
    ),
    _case(
        "bce-1d-logits",
        "binary_cross_entropy",
        LOGITS_1D,
        LABELS_1D,
        sklearn_mean(lambda z, y, w: sk_binary_log_loss(special.expit(z), y, w)),
        from_logits=True,
    ),
    _case(
        "bce-2d-logits-soft-pos_weight",
        "binary_cross_entropy",
        LOGITS_2D,
        SOFT_2D,
        per_sample(torch_bce_with_logits(pos_weight=3.0)),
        from_logits=True,
        pos_weight=3.0,
    ),
    _case(
        "bce-1d-pos_weight",
        "binary_cross_entropy",
        PROBABILITIES_1D,
        LABELS_1D,
        per_sample(binary_entropy(pos_weight=0.4)),
        pos_weight=0.4,
    ),
    # s = 0.2: label 1 becomes 0.9 and label 0 becomes 0.1.
    _case(
        "bce-1d-label_smoothing",
        "binary_cross_entropy",
        PROBABILITIES_1D,
        LABELS_1D,
        per_sample(binary_entropy(label_smoothing=0.2)),
        label_smoothing=0.2,
    ),
    _case(
        "bce-1d-logits-label_smoothing-pos_weight",
        "binary_cross_entropy",
        LOGITS_1D,
        LABELS_1D,
        per_sample(torch_bce_with_logits(pos_weight=2.0, label_smoothing=0.1)),
        from_logits=True,
        label_smoothing=0.1,
        pos_weight=2.0,
    ),
    # eps = 1e-3: p = 0 with y = 1 costs -log(1e-3) = 6.9078; p = 1e-5 is clipped the same way.
    _case(
        "bce-1d-eps",
        "binary_cross_entropy",
        EDGE_PROBABILITIES,
        EDGE_LABELS,
        per_sample(binary_entropy(eps=1e-3)),
        eps=1e-3,
    ),
    # Binary focal cross-entropy: Keras's formula written out; gamma = 0 is plain log loss.
    _case(
        "focal-1d",
        "binary_focal_cross_entropy",
        PROBABILITIES_1D,
        LABELS_1D,
        per_sample(keras_focal()),
    ),
    _case(
        "focal-1d-gamma0-is-log_loss",
        "binary_focal_cross_entropy",
        PROBABILITIES_1D,
        LABELS_1D,
        sklearn_mean(sk_binary_log_loss),
        gamma=0.0,
    ),
    _case(
        "focal-2d-gamma-alpha",
        "binary_focal_cross_entropy",
        PROBABILITIES_2D,
        LABELS_2D,
        per_sample(keras_focal(gamma=1.5, alpha=0.25)),
        gamma=1.5,
        alpha=0.25,
    ),
    _case(
        "focal-1d-logits-soft-alpha",
        "binary_focal_cross_entropy",
        LOGITS_1D,
        SOFT_1D,
        per_sample(keras_focal(alpha=0.75, from_logits=True)),
        alpha=0.75,
        from_logits=True,
    ),
    _case(
        "focal-2d-logits",
        "binary_focal_cross_entropy",
        LOGITS_2D,
        LABELS_2D,
        per_sample(keras_focal(gamma=3.0, from_logits=True)),
        gamma=3.0,
        from_logits=True,
    ),
    _case(
        "focal-1d-eps",
        "binary_focal_cross_entropy",
        EDGE_PROBABILITIES,
        EDGE_LABELS,
        per_sample(focal_clipped(0.05)),
        eps=0.05,
    ),
    # Hinge: scikit-learn maps two labels to {-1, 1}; {0, 1} and {-1, 1} targets agree.
    _case("hinge-1d-signs", "hinge", SCORES_1D, SIGNS_1D, sklearn_mean(sk_binary_hinge)),
    _case("hinge-1d-01", "hinge", SCORES_1D, LABELS_1D, sklearn_mean(sk_binary_hinge)),
    _case("hinge-2d-01", "hinge", SCORES_2D, LABELS_2D, sklearn_mean(raveled(sk_binary_hinge))),
    _case(
        "squared_hinge-1d-signs",
        "squared_hinge",
        SCORES_1D,
        SIGNS_1D,
        per_sample(squared_hinge_formula),
    ),
    _case(
        "squared_hinge-2d-01",
        "squared_hinge",
        SCORES_2D,
        LABELS_2D,
        per_sample(squared_hinge_formula),
    ),
    _case(
        "categorical_hinge",
        "categorical_hinge",
        CLASS_SCORES,
        ONE_HOT,
        sklearn_mean(sk_categorical_hinge),
    ),
    # Zero-one: predictions at exactly the threshold count as class 1 (p >= threshold).
    _case(
        "zero_one-1d-threshold",
        "zero_one",
        np.where(np.arange(SAMPLES) % 5 == 0, 0.5, PROBABILITIES_1D),
        LABELS_1D,
        sklearn_mean(sk_zero_one_thresholded(0.5)),
    ),
    _case(
        "zero_one-1d-threshold-0.3",
        "zero_one",
        np.where(np.arange(SAMPLES) % 5 == 0, 0.3, PROBABILITIES_1D),
        LABELS_1D,
        sklearn_mean(sk_zero_one_thresholded(0.3)),
        threshold=0.3,
    ),
    _case(
        "zero_one-1d-labels",
        "zero_one",
        np.where(np.arange(SAMPLES) % 3 == 0, CLASS_TARGETS, (CLASS_TARGETS + 1) % CLASSES),
        CLASS_TARGETS,
        sklearn_mean(sk_zero_one_labels),
        predictions_are_labels=True,
    ),
    _case(
        "zero_one-2d-labels",
        "zero_one",
        CLASS_SCORES,
        CLASS_TARGETS,
        sklearn_mean(sk_zero_one_scores),
    ),
    _case(
        "zero_one-2d-one-hot", "zero_one", CLASS_SCORES, ONE_HOT, sklearn_mean(sk_zero_one_scores)
    ),
    # Categorical cross-entropy.
    _case(
        "cce-one-hot",
        "categorical_cross_entropy",
        CLASS_PROBABILITIES,
        ONE_HOT,
        sklearn_mean(sk_categorical_log_loss),
    ),
    _case(
        "cce-soft",
        "categorical_cross_entropy",
        CLASS_PROBABILITIES,
        SOFT_ROWS,
        per_sample(cross_entropy_rows()),
    ),
    _case(
        "cce-logits-one-hot",
        "categorical_cross_entropy",
        CLASS_LOGITS,
        ONE_HOT,
        sklearn_mean(sk_categorical_log_loss_from_logits),
        from_logits=True,
    ),
    _case(
        "cce-logits-soft",
        "categorical_cross_entropy",
        CLASS_LOGITS,
        SOFT_ROWS,
        per_sample(cross_entropy_rows(from_logits=True)),
        from_logits=True,
    ),
    # s = 0.2, K = 4: the true class gets 0.85, every other class 0.05.
    _case(
        "cce-label_smoothing",
        "categorical_cross_entropy",
        CLASS_PROBABILITIES,
        ONE_HOT,
        per_sample(cross_entropy_rows(label_smoothing=0.2)),
        label_smoothing=0.2,
    ),
    _case(
        "cce-class_weight",
        "categorical_cross_entropy",
        CLASS_PROBABILITIES,
        ONE_HOT,
        sk_class_weighted_log_loss,
        class_weight=CLASS_WEIGHT,
    ),
    # Soft labels: the factor is sum_c y_c class_weight_c of the unsmoothed targets.
    _case(
        "cce-logits-soft-class_weight-label_smoothing",
        "categorical_cross_entropy",
        CLASS_LOGITS,
        SOFT_ROWS,
        per_sample(cross_entropy_rows(0.1, from_logits=True, class_weight=CLASS_WEIGHT)),
        from_logits=True,
        class_weight=CLASS_WEIGHT,
        label_smoothing=0.1,
    ),
    # eps = 1e-3: a true class of probability 0 costs -log(1e-3) = 6.9078; rows not renormalised.
    _case(
        "cce-eps",
        "categorical_cross_entropy",
        SPARSE_ROWS,
        ONE_HOT,
        per_sample(cross_entropy_rows(eps=1e-3)),
        eps=1e-3,
    ),
    # Sparse categorical cross-entropy.
    _case(
        "sparse_cce",
        "sparse_categorical_cross_entropy",
        CLASS_PROBABILITIES,
        CLASS_TARGETS,
        sklearn_mean(sk_categorical_log_loss),
    ),
    _case(
        "sparse_cce-logits",
        "sparse_categorical_cross_entropy",
        CLASS_LOGITS,
        CLASS_TARGETS,
        per_sample(sparse_from_logits),
        from_logits=True,
    ),
    _case(
        "sparse_cce-class_weight",
        "sparse_categorical_cross_entropy",
        CLASS_PROBABILITIES,
        CLASS_TARGETS,
        sk_class_weighted_log_loss,
        class_weight=CLASS_WEIGHT,
    ),
    Case(
        "sparse_cce-ignore_index",
        "sparse_categorical_cross_entropy",
        CLASS_PROBABILITIES,
        IGNORED_TARGETS.astype(np.float64),
        sk_ignoring_log_loss,
        params={"ignore_index": -100},
        absent=IGNORED_TARGETS == -100,
    ),
    # ignore_index may be a real class: here every sample of class 2 is left out.
    Case(
        "sparse_cce-logits-ignore_index-class",
        "sparse_categorical_cross_entropy",
        CLASS_LOGITS,
        CLASS_TARGETS.astype(np.float64),
        sparse_from_logits_ignoring(2),
        params={"ignore_index": 2, "from_logits": True},
        absent=CLASS_TARGETS == 2,
    ),
    _case(
        "sparse_cce-eps",
        "sparse_categorical_cross_entropy",
        SPARSE_ROWS,
        CLASS_TARGETS,
        per_sample(sparse_clipped(1e-3)),
        eps=1e-3,
    ),
    # Distributions.
    _case("kl", "kl_divergence", CLASS_PROBABILITIES, SPARSE_ROWS, per_sample(kl_rows())),
    _case(
        "kl-entropy",
        "kl_divergence",
        SOFT_ROWS,
        CLASS_PROBABILITIES,
        per_sample(lambda p, y: stats.entropy(y, p, axis=1)),
    ),
    _case(
        "kl-logits",
        "kl_divergence",
        CLASS_LOGITS,
        SPARSE_ROWS,
        per_sample(kl_rows(from_logits=True)),
        from_logits=True,
    ),
    # eps = 1e-4: y_c = 0.5 against p_c = 0 costs 0.5 log(0.5 / 1e-4) = 4.2586.
    _case(
        "kl-eps",
        "kl_divergence",
        SPARSE_ROWS,
        SOFT_ROWS,
        per_sample(kl_rows(eps=1e-4)),
        eps=1e-4,
    ),
    _case("js", "js_divergence", CLASS_PROBABILITIES, SPARSE_ROWS, per_sample(js_rows)),
    _case("dice", "dice", PROBABILITIES_2D, LABELS_2D, per_sample(dice_rows(1e-6))),
    _case(
        "dice-smooth-soft",
        "dice",
        PROBABILITIES_2D,
        SOFT_2D,
        per_sample(dice_rows(1.0)),
        smooth=1.0,
    ),
    _case(
        "dice-smooth0", "dice", PROBABILITIES_2D, LABELS_2D, per_sample(dice_rows(0.0)), smooth=0.0
    ),
]


# --- the losses added with the registry as data (issue 14) ----------------------------------------


def sk_tweedie(power: float) -> Callable[[FloatArray, FloatArray, FloatArray], float]:
    def metric(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
        return float(metrics.mean_tweedie_deviance(y, p, sample_weight=w, power=power))

    return metric


def sk_poisson_deviance(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.mean_poisson_deviance(y, p, sample_weight=w))


def sk_gamma_deviance(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    return float(metrics.mean_gamma_deviance(y, p, sample_weight=w))


def sk_brier(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
    if p.ndim == 1:
        return float(metrics.brier_score_loss(y, p, sample_weight=w))
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    # scikit-learn's multiclass Brier score, unscaled: sum_k (p_k - y_k)^2.
    return float(
        metrics.brier_score_loss(
            labels, p, sample_weight=w, labels=CLASS_LABELS, scale_by_half=False
        )
    )


def sk_hamming(threshold: float) -> Callable[[FloatArray, FloatArray, FloatArray], float]:
    def metric(p: FloatArray, y: FloatArray, w: FloatArray) -> float:
        predicted = (p >= threshold).astype(np.int64)
        if p.ndim == 1:  # (N,) is K = 1: scikit-learn's multilabel form with one label
            predicted, y = predicted[:, None], y[:, None]
        return float(metrics.hamming_loss(y.astype(np.int64), predicted, sample_weight=w))

    return metric


def poisson_log_input_formula(z: FloatArray, y: FloatArray) -> FloatArray:
    # With the rate mu = exp(z): -logpmf(y; mu) - log(y!) = mu - y log mu = exp(z) - y z.
    return -stats.poisson.logpmf(y, np.exp(z)) - special.gammaln(y + 1.0)


def keras_categorical_focal(
    alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """Keras 3 categorical_focal_crossentropy written out, on rows that sum to 1 (so its
    renormalisation is the identity): y' = y (1 - s) + s / K, p = softmax(z) with logits,
    l = sum_c alpha (1 - p_c)^gamma (-y'_c log p_c)."""

    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        smoothed = y * (1.0 - label_smoothing) + label_smoothing / y.shape[1]
        log_p = special.log_softmax(p, axis=1) if from_logits else np.log(p)
        probs = np.exp(log_p)
        return (alpha * np.power(1.0 - probs, gamma) * -(smoothed * log_p)).sum(axis=1)

    return formula


def tversky_rows(
    alpha: float, beta: float, smooth: float
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    # Salehi et al. 2017, eq. 3, per sample: TP / (TP + alpha FP + beta FN), smoothed.
    def formula(p: FloatArray, y: FloatArray) -> FloatArray:
        tp = (p * y).sum(axis=1)
        fp = (p * (1.0 - y)).sum(axis=1)
        fn = ((1.0 - p) * y).sum(axis=1)
        return 1.0 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)

    return formula


def torch_multi_margin(
    margin: float = 1.0, power: int = 1, class_weight: tuple[float, ...] | None = None
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """PyTorch's documented MultiMarginLoss, sample by sample and class by class:
    l(x, y) = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / x.size(0)."""

    def formula(x: FloatArray, y: FloatArray) -> FloatArray:
        losses = []
        for scores, label in zip(x, y.astype(np.int64), strict=True):
            weight = 1.0 if class_weight is None else class_weight[label]
            terms = [
                weight * max(0.0, margin - scores[label] + scores[i]) ** power
                for i in range(len(scores))
                if i != label
            ]
            losses.append(sum(terms) / len(scores))
        return np.array(losses)

    return formula


def soft_margin_formula(p: FloatArray, y: FloatArray) -> FloatArray:
    # PyTorch's SoftMarginLoss log(1 + exp(-y x)) = logaddexp(0, -y x); {0, 1} read as {-1, 1}.
    signs = np.where(y == 0.0, -1.0, y)
    return np.logaddexp(0.0, -signs * p)


POSITIVE_1D = rng.gamma(2.0, 1.5, size=(2, SAMPLES)) + 0.05
POSITIVE_2D = rng.gamma(2.0, 1.5, size=(2, SAMPLES, OUTPUTS)) + 0.05
HAMMING_PREDICTIONS = np.where(np.arange(SAMPLES * OUTPUTS) % 7 == 0, 0.5, PROBABILITIES_2D.ravel())

NEW_CASES: list[Case] = [
    _case("tweedie-1d-normal", "tweedie_deviance", *REAL_1D, sklearn_mean(sk_tweedie(0.0))),
    _case(
        "tweedie-1d-poisson",
        "tweedie_deviance",
        RATES_WITH_ZEROS + 0.1,
        COUNTS_1D,
        sklearn_mean(sk_tweedie(1.0)),
        power=1.0,
    ),
    _case(
        "tweedie-1d-compound",
        "tweedie_deviance",
        RATES_1D,
        COUNTS_1D,
        sklearn_mean(sk_tweedie(1.5)),
        power=1.5,
    ),
    _case(
        "tweedie-2d-compound",
        "tweedie_deviance",
        RATES_2D,
        COUNTS_2D,
        sklearn_mean(raveled(sk_tweedie(1.5))),
        power=1.5,
    ),
    _case(
        "tweedie-1d-gamma",
        "tweedie_deviance",
        *POSITIVE_1D,
        sklearn_mean(sk_tweedie(2.0)),
        power=2.0,
    ),
    _case(
        "tweedie-1d-inverse-gaussian",
        "tweedie_deviance",
        *POSITIVE_1D,
        sklearn_mean(sk_tweedie(3.0)),
        power=3.0,
    ),
    _case(
        "tweedie-1d-negative-power",
        "tweedie_deviance",
        POSITIVE_1D[0],
        REAL_1D[1],
        sklearn_mean(sk_tweedie(-1.0)),
        power=-1.0,
    ),
    _case(
        "poisson_deviance-1d",
        "poisson_deviance",
        RATES_1D,
        COUNTS_1D,
        sklearn_mean(sk_poisson_deviance),
    ),
    _case(
        "poisson_deviance-2d",
        "poisson_deviance",
        RATES_2D,
        COUNTS_2D,
        sklearn_mean(raveled(sk_poisson_deviance)),
    ),
    _case("gamma_deviance-1d", "gamma_deviance", *POSITIVE_1D, sklearn_mean(sk_gamma_deviance)),
    _case(
        "gamma_deviance-2d",
        "gamma_deviance",
        *POSITIVE_2D,
        sklearn_mean(raveled(sk_gamma_deviance)),
    ),
    _case(
        "poisson-1d-log_input",
        "poisson",
        LOGITS_1D,
        COUNTS_1D,
        per_sample(poisson_log_input_formula),
        log_input=True,
    ),
    _case("brier-1d", "brier", PROBABILITIES_1D, LABELS_1D, sklearn_mean(sk_brier)),
    _case("brier-2d-one-hot", "brier", CLASS_PROBABILITIES, ONE_HOT, sklearn_mean(sk_brier)),
    _case("brier-2d-labels", "brier", CLASS_PROBABILITIES, CLASS_TARGETS, sklearn_mean(sk_brier)),
    _case(
        "categorical_focal",
        "categorical_focal_cross_entropy",
        CLASS_PROBABILITIES,
        ONE_HOT,
        per_sample(keras_categorical_focal()),
    ),
    _case(
        "categorical_focal-gamma0-is-cce",
        "categorical_focal_cross_entropy",
        CLASS_PROBABILITIES,
        SOFT_ROWS,
        per_sample(lambda p, y: 0.5 * cross_entropy_rows()(p, y)),
        gamma=0.0,
        alpha=0.5,
    ),
    _case(
        "categorical_focal-logits-soft-smoothing",
        "categorical_focal_cross_entropy",
        CLASS_LOGITS,
        SOFT_ROWS,
        per_sample(keras_categorical_focal(1.5, 1.0, from_logits=True, label_smoothing=0.1)),
        alpha=1.5,
        gamma=1.0,
        from_logits=True,
        label_smoothing=0.1,
    ),
    # eps = 1e-3 clips as categorical_cross_entropy does: p_c = 0 costs alpha (1 - eps)^gamma
    # (-log eps).
    _case(
        "categorical_focal-eps",
        "categorical_focal_cross_entropy",
        SPARSE_ROWS,
        ONE_HOT,
        per_sample(lambda p, y: keras_categorical_focal()(np.clip(p, 1e-3, 1.0 - 1e-3), y)),
        eps=1e-3,
    ),
    _case(
        "tversky",
        "tversky",
        PROBABILITIES_2D,
        LABELS_2D,
        per_sample(tversky_rows(0.5, 0.5, 1e-6)),
    ),
    _case(
        "tversky-alpha-beta-smooth-soft",
        "tversky",
        PROBABILITIES_2D,
        SOFT_2D,
        per_sample(tversky_rows(0.3, 0.7, 1.0)),
        alpha=0.3,
        beta=0.7,
        smooth=1.0,
    ),
    # alpha = beta = 1/2 is soft Dice with smooth 2 s (the contract's identity).
    _case(
        "tversky-half-is-dice",
        "tversky",
        PROBABILITIES_2D,
        LABELS_2D,
        per_sample(dice_rows(0.5)),
        smooth=0.25,
    ),
    _case("hamming-1d", "hamming", PROBABILITIES_1D, LABELS_1D, sklearn_mean(sk_hamming(0.5))),
    _case(
        "hamming-2d-threshold",
        "hamming",
        HAMMING_PREDICTIONS.reshape(SAMPLES, OUTPUTS),
        LABELS_2D,
        sklearn_mean(sk_hamming(0.3)),
        threshold=0.3,
    ),
    _case(
        "hamming-2d-labels",
        "hamming",
        (PROBABILITIES_2D >= 0.5).astype(np.float64),
        LABELS_2D,
        sklearn_mean(sk_hamming(0.5)),
        predictions_are_labels=True,
    ),
    _case(
        "multi_margin",
        "multi_margin",
        CLASS_SCORES,
        CLASS_TARGETS,
        per_sample(torch_multi_margin()),
    ),
    _case(
        "multi_margin-squared-margin-class_weight",
        "multi_margin",
        CLASS_SCORES,
        CLASS_TARGETS,
        per_sample(torch_multi_margin(0.5, 2, CLASS_WEIGHT)),
        margin=0.5,
        power=2,
        class_weight=CLASS_WEIGHT,
    ),
    _case(
        "soft_margin-1d-signs", "soft_margin", SCORES_1D, SIGNS_1D, per_sample(soft_margin_formula)
    ),
    _case(
        "soft_margin-2d-01", "soft_margin", SCORES_2D, LABELS_2D, per_sample(soft_margin_formula)
    ),
]
CASES += NEW_CASES

CASE_IDS = [case.id for case in CASES]
SUMMABLE = [case for case in CASES if "sum" in get_loss(case.loss).reductions]
PER_OUTPUT = [
    case for case in CASES if get_loss(case.loss).per_output and case.predictions.ndim == 2
]


def _ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


def _check(actual: Any, expected: Any, case: Case) -> None:
    np.testing.assert_allclose(actual, expected, rtol=case.rtol, atol=case.atol)


def _count(case: Case, selected: BoolArray) -> int:
    absent = np.zeros(SAMPLES, dtype=bool) if case.absent is None else case.absent
    return int((selected & ~absent).sum())


# --- coverage -----------------------------------------------------------------------------------


def test_every_loss_and_every_parameter_has_a_reference() -> None:
    covered = {get_loss(case.loss).name for case in CASES} | {"root_mean_squared_error"}
    assert covered == set(LOSSES)
    for spec in LOSSES.values():
        for param in spec.params:
            assert any(
                get_loss(case.loss).name == spec.name
                and param.name in case.params
                and case.params[param.name] != param.default
                for case in CASES
            ), f"{spec.name}: no reference case sets {param.name}"


def test_case_inputs_exercise_both_sides() -> None:
    """The data is not degenerate: both branches of every piecewise loss are taken."""
    assert np.any(np.abs(REAL_1D[0] - REAL_1D[1]) < 0.3)
    assert np.any(np.abs(REAL_1D[0] - REAL_1D[1]) > 2.5)
    assert np.any(1.0 - SIGNS_1D * SCORES_1D > 0)
    assert np.any(1.0 - SIGNS_1D * SCORES_1D < 0)
    margins = 1.0 + np.where(ONE_HOT == 1, -np.inf, CLASS_SCORES).max(axis=1)
    margins -= (CLASS_SCORES * ONE_HOT).sum(axis=1)
    assert np.any(margins > 0)
    assert np.any(margins < 0)
    assert 0 < sk_zero_one_scores(CLASS_SCORES, CLASS_TARGETS, np.ones(SAMPLES)) < 1


# --- values and reductions ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_mean_without_weights(case: Case) -> None:
    ones = np.ones(SAMPLES)
    loss_sum, weight_sum = case.reference(case.predictions, case.targets, ones)
    result = case.score()
    _check(result.value, loss_sum / weight_sum, case)
    _check(result.loss_sum, loss_sum, case)
    assert result.weight_sum == weight_sum
    assert result.count == _count(case, np.ones(SAMPLES, dtype=bool))
    assert result.omitted == 0


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_weighted_mean(case: Case) -> None:
    loss_sum, weight_sum = case.reference(case.predictions, case.targets, WEIGHTS)
    result = case.score(sample_weight=WEIGHTS)
    _check(result.value, loss_sum / weight_sum, case)
    _check(result.loss_sum, loss_sum, case)
    np.testing.assert_allclose(result.weight_sum, weight_sum, rtol=RTOL)


@pytest.mark.parametrize("case", SUMMABLE, ids=_ids(SUMMABLE))
def test_weighted_sum(case: Case) -> None:
    loss_sum, _ = case.reference(case.predictions, case.targets, WEIGHTS)
    result = case.score(sample_weight=WEIGHTS, reduction="sum")
    _check(result.value, loss_sum, case)
    _check(result.loss_sum, loss_sum, case)


@pytest.mark.parametrize("case", SUMMABLE, ids=_ids(SUMMABLE))
def test_none_gives_weighted_per_sample_losses(case: Case) -> None:
    # The reference with weights that pick sample i alone gives l_i.
    expected = np.array(
        [
            case.reference(case.predictions, case.targets, np.eye(SAMPLES)[i])[0]
            for i in range(SAMPLES)
        ]
    )
    result = case.score(sample_weight=WEIGHTS, reduction="none")
    assert result.value is None
    assert result.losses is not None
    _check(result.losses, WEIGHTS * expected, case)


@pytest.mark.parametrize("case", PER_OUTPUT, ids=_ids(PER_OUTPUT))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_per_output_is_the_reduced_loss_of_each_column(case: Case, reduction: str) -> None:
    expected = []
    for column in range(case.predictions.shape[1]):
        loss_sum, weight_sum = case.reference(
            case.predictions[:, column], case.targets[:, column], WEIGHTS
        )
        expected.append(loss_sum / weight_sum if reduction == "mean" else loss_sum)
    result = case.score(sample_weight=WEIGHTS, reduction=reduction)
    assert result.per_output is not None
    _check(result.per_output, expected, case)


SKLEARN_RAW_VALUES = [
    ("mean_squared_error", {}, metrics.mean_squared_error, REAL_2D, {}),
    ("mean_absolute_error", {}, metrics.mean_absolute_error, REAL_2D, {}),
    ("quantile", {"quantile": 0.7}, metrics.mean_pinball_loss, REAL_2D, {"alpha": 0.7}),
    ("mean_squared_logarithmic_error", {}, metrics.mean_squared_log_error, NON_NEGATIVE_2D, {}),
    ("mean_absolute_percentage_error", {}, metrics.mean_absolute_percentage_error, REAL_2D, {}),
    ("root_mean_squared_error", {}, metrics.root_mean_squared_error, REAL_2D, {}),
]


@pytest.mark.parametrize(
    ("loss", "params", "metric", "data", "metric_options"),
    SKLEARN_RAW_VALUES,
    ids=[row[0] for row in SKLEARN_RAW_VALUES],
)
def test_per_output_matches_sklearn_raw_values(
    loss: str,
    params: dict[str, Any],
    metric: Callable[..., Any],
    data: FloatArray,
    metric_options: dict[str, Any],
) -> None:
    predictions, targets = data
    expected = metric(
        targets, predictions, sample_weight=WEIGHTS, multioutput="raw_values", **metric_options
    )
    result = evaluate(loss, predictions, targets, sample_weight=WEIGHTS, **params)
    assert result.per_output is not None
    np.testing.assert_allclose(result.per_output, expected, rtol=RTOL)


def test_per_output_is_absent_for_one_dimensional_inputs() -> None:
    assert evaluate("mse", *REAL_1D).per_output is None


# --- groups and NaN omission --------------------------------------------------------------------

GROUP_KEYS = np.array(["eu", "us", "apac"])[np.arange(SAMPLES) % 3]


@pytest.mark.parametrize("case", SUMMABLE, ids=_ids(SUMMABLE))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_groups_are_the_loss_over_each_segment(case: Case, reduction: str) -> None:
    result = case.score(sample_weight=WEIGHTS, group_by=GROUP_KEYS, reduction=reduction)
    assert result.groups is not None
    assert [group.key for group in result.groups] == sorted(set(GROUP_KEYS))
    for group in result.groups:
        selected = np.equal(GROUP_KEYS, group.key)
        # Weight 0 outside the segment is the reference's way of leaving those samples out.
        loss_sum, weight_sum = case.reference(case.predictions, case.targets, WEIGHTS * selected)
        assert group.count == _count(case, selected)
        _check(group.loss_sum, loss_sum, case)
        np.testing.assert_allclose(group.weight_sum, weight_sum, rtol=RTOL)
        _check(group.value, loss_sum / weight_sum if reduction == "mean" else loss_sum, case)


def test_groups_with_integer_keys_partition_the_totals() -> None:
    keys = np.arange(SAMPLES) % 4
    result = evaluate("mae", *REAL_1D, sample_weight=WEIGHTS, group_by=keys)
    assert result.groups is not None
    assert [group.key for group in result.groups] == [0, 1, 2, 3]
    np.testing.assert_allclose(sum(g.loss_sum for g in result.groups), result.loss_sum, rtol=RTOL)
    np.testing.assert_allclose(
        sum(g.weight_sum for g in result.groups), result.weight_sum, rtol=RTOL
    )
    assert sum(g.count for g in result.groups) == result.count == SAMPLES


DROPPED = np.isin(np.arange(SAMPLES), [1, 6, 13])


def _with_nan(array: FloatArray) -> FloatArray:
    """A copy with NaN in the dropped samples (one element per row for (N, K))."""
    spoiled = array.copy()
    if spoiled.ndim == 2:
        spoiled[DROPPED, -1] = np.nan
    else:
        spoiled[DROPPED] = np.nan
    return spoiled


@pytest.mark.parametrize("case", SUMMABLE, ids=_ids(SUMMABLE))
def test_nan_omit_drops_the_samples(case: Case) -> None:
    kept = ~DROPPED
    loss_sum, weight_sum = case.reference(case.predictions, case.targets, WEIGHTS * kept)
    spoiled = _with_nan(case.predictions)
    result = evaluate(
        case.loss, spoiled, case.targets, sample_weight=WEIGHTS, nan_policy="omit", **case.params
    )
    assert result.omitted == DROPPED.sum()
    assert result.count == _count(case, kept)
    _check(result.value, loss_sum / weight_sum, case)
    _check(result.loss_sum, loss_sum, case)
    np.testing.assert_allclose(result.weight_sum, weight_sum, rtol=RTOL)
    if get_loss(case.loss).differentiable:
        assert result.gradient is not None
        assert result.gradient.shape == case.predictions.shape
        assert np.all(result.gradient[DROPPED] == 0.0)
        full = case.score(sample_weight=WEIGHTS * kept)
        np.testing.assert_allclose(result.gradient[kept], full.gradient[kept], rtol=RTOL)
    else:
        assert result.gradient is None


@pytest.mark.parametrize("field", ["targets", "sample_weight"])
def test_nan_omit_in_targets_or_weights(field: str) -> None:
    predictions, targets = REAL_2D
    weights = WEIGHTS
    if field == "targets":
        targets = _with_nan(targets)
    else:
        weights = np.where(DROPPED, np.nan, WEIGHTS)
    result = evaluate(
        "mse",
        predictions,
        targets,
        sample_weight=weights,
        nan_policy="omit",
        reduction="none",
    )
    kept = ~DROPPED
    expected = metrics.mean_squared_error(
        REAL_2D[1][kept], predictions[kept], sample_weight=WEIGHTS[kept], multioutput="raw_values"
    )
    assert result.omitted == DROPPED.sum()
    assert result.losses is not None
    assert result.gradient is not None
    assert np.all(result.losses[DROPPED] == 0.0)
    assert np.all(result.gradient[DROPPED] == 0.0)
    np.testing.assert_allclose(result.loss_sum, expected.mean() * WEIGHTS[kept].sum(), rtol=RTOL)


# --- root mean squared error ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [REAL_1D, REAL_2D], ids=["1d", "2d"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_rmse_is_the_root_of_the_weighted_mean(data: FloatArray, weighted: bool) -> None:
    predictions, targets = data
    weights = WEIGHTS if weighted else None
    result = evaluate("rmse", predictions, targets, sample_weight=weights)
    # For (N, K), scikit-learn's uniform RMSE averages the column roots; the contract takes the
    # root of the mean over all elements, sqrt(mean_squared_error).
    expected = np.sqrt(metrics.mean_squared_error(targets, predictions, sample_weight=weights))
    np.testing.assert_allclose(result.value, expected, rtol=RTOL)
    if predictions.ndim == 1:
        np.testing.assert_allclose(
            result.value,
            metrics.root_mean_squared_error(targets, predictions, sample_weight=weights),
            rtol=RTOL,
        )
    else:
        assert result.per_output is not None
        np.testing.assert_allclose(
            result.per_output,
            metrics.root_mean_squared_error(
                targets, predictions, sample_weight=weights, multioutput="raw_values"
            ),
            rtol=RTOL,
        )
    # loss_sum stays the mergeable sum of squared errors, not of roots.
    mse = metrics.mean_squared_error(targets, predictions, sample_weight=weights)
    weight_sum = SAMPLES if weights is None else weights.sum()
    np.testing.assert_allclose(result.loss_sum, mse * weight_sum, rtol=RTOL)


def test_rmse_gradient_is_the_chain_rule_through_the_root() -> None:
    predictions, targets = REAL_1D
    result = evaluate("rmse", predictions, targets, sample_weight=WEIGHTS)
    # d sqrt(sum w r^2 / sum w) / dp_i = w_i r_i / (sum w * rmse)
    value = metrics.root_mean_squared_error(targets, predictions, sample_weight=WEIGHTS)
    expected = WEIGHTS * (predictions - targets) / (WEIGHTS.sum() * value)
    np.testing.assert_allclose(result.gradient, expected, rtol=RTOL)


def test_rmse_groups_take_the_root_per_segment() -> None:
    predictions, targets = REAL_1D
    result = evaluate("rmse", predictions, targets, sample_weight=WEIGHTS, group_by=GROUP_KEYS)
    assert result.groups is not None
    for group in result.groups:
        selected = np.equal(GROUP_KEYS, group.key)
        expected = metrics.root_mean_squared_error(
            targets[selected], predictions[selected], sample_weight=WEIGHTS[selected]
        )
        np.testing.assert_allclose(group.value, expected, rtol=RTOL)


# --- other closed forms -------------------------------------------------------------------------


def test_log_cosh_matches_the_naive_formula_for_moderate_residuals() -> None:
    # |r| in [0.5, 5]: cosh neither overflows nor sits so close to 1 that its log cancels.
    residual = rng.uniform(0.5, 5.0, size=SAMPLES) * rng.choice([-1.0, 1.0], size=SAMPLES)
    result = evaluate("log_cosh", residual, np.zeros(SAMPLES), reduction="none")
    np.testing.assert_allclose(result.losses, np.log(np.cosh(residual)), rtol=RTOL)


def test_log_cosh_stays_finite_where_cosh_overflows() -> None:
    # log cosh r = |r| - log 2 + log1p(exp(-2|r|)); at |r| = 800 the last term is below 1e-600.
    result = evaluate("log_cosh", np.array([800.0, -1000.0]), np.zeros(2), reduction="none")
    np.testing.assert_allclose(
        result.losses, [800.0 - np.log(2.0), 1000.0 - np.log(2.0)], rtol=RTOL
    )


def test_focal_matches_the_keras_documentation_example() -> None:
    # keras.losses.binary_focal_crossentropy's docstring: gamma=2 gives [0.330, 0.206]
    # (float32, printed to three digits; hence rtol 2e-3).
    result = evaluate(
        "binary_focal_cross_entropy",
        [[0.6, 0.4], [0.4, 0.6]],
        [[0.0, 1.0], [0.0, 0.0]],
        gamma=2.0,
        reduction="none",
    )
    np.testing.assert_allclose(result.losses, [0.330, 0.206], rtol=2e-3)


def test_kl_matches_scipy_entropy_rows() -> None:
    result = evaluate("kl", CLASS_PROBABILITIES, SOFT_ROWS, reduction="none")
    np.testing.assert_allclose(
        result.losses, stats.entropy(SOFT_ROWS, CLASS_PROBABILITIES, axis=1), rtol=RTOL
    )


def test_zero_one_has_no_gradient() -> None:
    result = evaluate("zero_one", CLASS_SCORES, CLASS_TARGETS)
    assert result.gradient is None


# --- gradients with a textbook closed form ------------------------------------------------------


def test_mse_gradient_of_the_weighted_mean() -> None:
    predictions, targets = REAL_2D
    result = evaluate("mse", predictions, targets, sample_weight=WEIGHTS)
    # d/dp_ik of sum_i w_i mean_k r_ik^2 / sum w = 2 w_i r_ik / (K sum w)
    expected = 2.0 * WEIGHTS[:, None] * (predictions - targets) / (OUTPUTS * WEIGHTS.sum())
    np.testing.assert_allclose(result.gradient, expected, rtol=RTOL)


def test_bce_with_logits_gradient_matches_pytorch() -> None:
    pos_weight = 3.0
    result = evaluate(
        "bce",
        LOGITS_1D,
        SOFT_1D,
        from_logits=True,
        pos_weight=pos_weight,
        sample_weight=WEIGHTS,
        reduction="sum",
    )
    # d/dz [(1 - y) z + (1 + (pw - 1) y) softplus(-z)] = (1 - y) - (1 + (pw - 1) y) sigmoid(-z)
    log_weight = 1.0 + (pos_weight - 1.0) * SOFT_1D
    expected = WEIGHTS * ((1.0 - SOFT_1D) - log_weight * special.expit(-LOGITS_1D))
    # A difference of two terms of order w: where they nearly cancel, a few ulps absolute.
    np.testing.assert_allclose(result.gradient, expected, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize(
    ("loss", "targets"),
    [
        ("categorical_cross_entropy", SOFT_ROWS),
        ("kl_divergence", SOFT_ROWS),
        ("sparse_categorical_cross_entropy", CLASS_TARGETS),
    ],
)
def test_softmax_losses_have_gradient_softmax_minus_targets(loss: str, targets: Any) -> None:
    result = evaluate(loss, CLASS_LOGITS, targets, from_logits=True, reduction="sum")
    rows = SOFT_ROWS if np.ndim(targets) == 2 else ONE_HOT
    expected = special.softmax(CLASS_LOGITS, axis=1) - rows
    # softmax(z) - y cancels where softmax(z)_c is close to y_c, and the core's softmax(z) sum(y)
    # rounds sum(y) to 1 differently: agreement to a few ulps of 1 absolute.
    np.testing.assert_allclose(result.gradient, expected, rtol=RTOL, atol=1e-15)


# --- regularisation and composite losses --------------------------------------------------------

MODEL_WEIGHTS = rng.normal(0.0, 1.0, size=(5, 3))


@pytest.mark.parametrize("as_mapping", [False, True], ids=["dataclass", "mapping"])
def test_regularization_adds_keras_l1_l2(as_mapping: bool) -> None:
    l1, l2 = 0.01, 0.003
    regularization: Any = (
        {"weights": MODEL_WEIGHTS.tolist(), "l1": l1, "l2": l2}
        if as_mapping
        else Regularization(MODEL_WEIGHTS, l1=l1, l2=l2)
    )
    result = evaluate("huber", *REAL_1D, sample_weight=WEIGHTS, regularization=regularization)
    loss_sum, weight_sum = per_sample(scipy_huber(1.0))(*REAL_1D, WEIGHTS)
    # Keras L1L2: l1 sum|w| + l2 sum w^2; its gradient l1 sign(w) + 2 l2 w.
    penalty = l1 * np.abs(MODEL_WEIGHTS).sum() + l2 * np.square(MODEL_WEIGHTS).sum()
    np.testing.assert_allclose(result.value, loss_sum / weight_sum, rtol=RTOL)
    np.testing.assert_allclose(result.penalty, penalty, rtol=RTOL)
    np.testing.assert_allclose(result.cost, loss_sum / weight_sum + penalty, rtol=RTOL)
    np.testing.assert_allclose(
        result.weights_gradient, l1 * np.sign(MODEL_WEIGHTS) + 2.0 * l2 * MODEL_WEIGHTS, rtol=RTOL
    )
    # The penalty does not change the loss's own gradient with respect to the predictions.
    plain = evaluate("huber", *REAL_1D, sample_weight=WEIGHTS)
    np.testing.assert_array_equal(result.gradient, plain.gradient)


def test_regularization_without_a_value_has_no_cost() -> None:
    result = evaluate(
        "mse", *REAL_1D, reduction="none", regularization={"weights": [1.0, -2.0], "l1": 0.5}
    )
    assert result.penalty == 0.5 * 3.0
    assert result.cost is None


def test_evaluate_many_total_is_the_weighted_sum() -> None:
    losses = [
        {"name": "bce", "weight": 0.7, "label_smoothing": 0.1},
        {"name": "dice", "weight": 0.3, "smooth": 1.0},
    ]
    composite = evaluate_many(losses, PROBABILITIES_2D, LABELS_2D, sample_weight=WEIGHTS)
    bce_sum, weight_sum = per_sample(binary_entropy(label_smoothing=0.1))(
        PROBABILITIES_2D, LABELS_2D, WEIGHTS
    )
    dice_sum, _ = per_sample(dice_rows(1.0))(PROBABILITIES_2D, LABELS_2D, WEIGHTS)
    bce, dice = composite.results
    np.testing.assert_allclose(bce.value, bce_sum / weight_sum, rtol=RTOL)
    np.testing.assert_allclose(dice.value, dice_sum / weight_sum, rtol=RTOL)
    total = composite.total
    assert composite.weights == [0.7, 0.3]
    np.testing.assert_allclose(
        total.value, (0.7 * bce_sum + 0.3 * dice_sum) / weight_sum, rtol=RTOL
    )
    np.testing.assert_allclose(total.loss_sum, 0.7 * bce_sum + 0.3 * dice_sum, rtol=RTOL)
    assert total.gradient is not None
    assert bce.gradient is not None
    assert dice.gradient is not None
    np.testing.assert_allclose(total.gradient, 0.7 * bce.gradient + 0.3 * dice.gradient, rtol=RTOL)
    assert total.count == SAMPLES
    np.testing.assert_allclose(total.weight_sum, weight_sum, rtol=RTOL)


def test_evaluate_many_none_sums_per_sample_losses_and_regularizes_the_total() -> None:
    losses = [{"name": "mse"}, {"name": "mae", "weight": 2.0}]
    composite = evaluate_many(
        losses,
        *REAL_1D,
        reduction="none",
        regularization={"weights": MODEL_WEIGHTS, "l2": 0.1},
    )
    residual = REAL_1D[0] - REAL_1D[1]
    np.testing.assert_allclose(
        composite.total.losses, np.square(residual) + 2.0 * np.abs(residual), rtol=RTOL
    )
    np.testing.assert_allclose(
        composite.total.penalty, 0.1 * np.square(MODEL_WEIGHTS).sum(), rtol=RTOL
    )
    assert composite.results[0].penalty is None


def test_evaluate_many_with_zero_one_has_no_total_gradient() -> None:
    composite = evaluate_many(
        [{"name": "sparse_cce"}, {"name": "zero_one", "weight": 0.5}],
        CLASS_PROBABILITIES,
        CLASS_TARGETS,
    )
    expected = metrics.log_loss(CLASS_TARGETS, CLASS_PROBABILITIES, labels=CLASS_LABELS)
    expected += 0.5 * metrics.zero_one_loss(CLASS_TARGETS, CLASS_PROBABILITIES.argmax(axis=1))
    np.testing.assert_allclose(composite.total.value, expected, rtol=RTOL)
    assert composite.total.gradient is None


# Computed once with PyTorch 2.13 (CPU, float64): the loss written in torch (F.soft_margin_loss,
# F.multi_margin_loss, F.poisson_nll_loss(log_input=True, full=False), or the formula for the
# losses torch lacks) on these inputs, value = the mean, gradient by autograd (.backward()).
# torch is not a test dependency, so the numbers are kept here with the inputs they came from.
SCORES = [[2.0, 0.5, -1.0], [0.3, 0.2, 0.9], [0.1, 1.2, 0.4], [0.0, 0.3, 0.25]]
PROBS = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.25, 0.25, 0.5]]
ONE_HOT_4 = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


@pytest.mark.parametrize(
    ("name", "predictions", "targets", "params", "value", "gradient"),
    [
        pytest.param(
            "soft_margin",
            [0.8, -0.3, 1.5, -2.0, 0.1],
            [1.0, -1.0, 1.0, 1.0, -1.0],
            {},
            0.7996387719031202,
            [
                -0.06200510377447751,
                0.08511149663766822,
                -0.036485104761271266,
                -0.1761594155955765,
                0.104995837495788,
            ],
            id="soft_margin",
        ),
        pytest.param(
            "multi_margin",
            SCORES,
            [0, 2, 1, 2],
            {},
            0.22499999999999998,
            [
                [0.0, 0.0, 0.0],
                [0.08333333333333333, 0.08333333333333333, -0.16666666666666666],
                [0.0, -0.08333333333333333, 0.08333333333333333],
                [0.08333333333333333, 0.08333333333333333, -0.16666666666666666],
            ],
            id="multi_margin",
        ),
        pytest.param(
            "multi_margin",
            SCORES,
            [0, 2, 1, 2],
            {"power": 2, "margin": 0.5, "class_weight": [0.5, 2.0, 1.0]},
            0.03041666666666667,
            [
                [0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0],
                [0.041666666666666664, 0.09166666666666667, -0.13333333333333333],
            ],
            id="multi_margin_p2_w",
        ),
        pytest.param(
            "poisson",
            [0.5, -1.0, 1.2, 0.0],
            [1.0, 0.0, 4.0, 2.0],
            {"log_input": True},
            0.2591794086520295,
            [0.16218031767503205, 0.09196986029286058, -0.1699707693158632, -0.25],
            id="poisson_log_input",
        ),
        pytest.param(
            "categorical_focal_cross_entropy",
            SCORES,
            ONE_HOT_4,
            {"from_logits": True},
            0.04652139343281389,
            [
                [-0.0017052921300261753, 0.0013942033199632938, 0.0003110888100628823],
                [0.010377774481825721, 0.009390198667094654, -0.019767973148920377],
                [0.005571027609589959, -0.013091128295644048, 0.007520100686054093],
                [0.015368588900468928, 0.02074542508731278, -0.036114013987781704],
            ],
            id="categorical_focal_logits",
        ),
        pytest.param(
            "categorical_focal_cross_entropy",
            PROBS,
            ONE_HOT_4,
            {},
            0.16627675872120987,
            [
                [-0.021411024683416758, 0.0, 0.0],
                [0.0, 0.0, -0.76529082296183],
                [0.0, -0.20743095371185272, 0.0],
                [0.0, 0.0, -0.07457169878499659],
            ],
            id="categorical_focal_probs",
        ),
        pytest.param(
            "tversky",
            [[0.9, 0.1, 0.8], [0.2, 0.7, 0.6], [0.5, 0.5, 0.05]],
            [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]],
            {"alpha": 0.3, "beta": 0.7},
            0.45724879753404063,
            [
                [-0.12665171872441403, 0.04516949854987258, -0.12665171872441403],
                [0.037983918030523096, -0.14219616475501773, -0.14219616475501773],
                [0.0048533962460635, 0.0048533962460635, -0.32355350515928816],
            ],
            id="tversky",
        ),
        pytest.param(
            "tweedie_deviance",
            [1.0, 2.5, 0.5, 4.0],
            [1.0, 3.0, 0.0, 5.0],
            {"power": 1.5},
            0.7493746372344309,
            [0.0, -0.06324555320336755, 0.7071067811865475, -0.0625],
            id="tweedie_1.5",
        ),
        pytest.param(
            "gamma_deviance",
            [1.0, 2.5, 0.5, 4.0],
            [1.5, 3.0, 0.5, 5.0],
            {},
            0.06953489189183559,
            [-0.25, -0.04000000000000001, 0.0, -0.03125],
            id="gamma_deviance",
        ),
        pytest.param(
            "poisson_deviance",
            [1.0, 2.5, 0.5, 4.0],
            [1.0, 3.0, 0.0, 5.0],
            {},
            0.3313412134764562,
            [0.0, -0.09999999999999998, 0.5, -0.125],
            id="poisson_deviance",
        ),
        pytest.param(
            "brier",
            PROBS,
            ONE_HOT_4,
            {},
            0.6787500000000001,
            [
                [-0.15000000000000002, 0.1, 0.05],
                [0.05, 0.4, -0.45],
                [0.15, -0.35, 0.2],
                [0.125, 0.125, -0.25],
            ],
            id="brier_2d",
        ),
    ],
)
def test_value_and_gradient_match_pytorch_autograd(
    name: str,
    predictions: Any,
    targets: Any,
    params: dict[str, Any],
    value: float,
    gradient: Any,
) -> None:
    result = evaluate(name, predictions, targets, **params)
    assert result.value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(result.gradient, gradient, rtol=1e-10, atol=1e-15)
