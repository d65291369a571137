"""Classification losses (binary, multi-label and multi-class), each with its gradient.

Probabilities are clipped to [eps, 1 - eps] and the gradient there is the clipped formula's
(0 on the clipped side, as torch.clamp); logits go through log-sigmoid / log-softmax forms that
stay finite for |z| up to 1e4 and beyond.
"""

from __future__ import annotations

import numpy as np

from ._numerics import (
    binary_logistic,
    clipped_slope,
    flat_index,
    inside,
    log_of_one_minus,
    logistic,
    power,
    row_dot,
    row_max,
    row_sum,
    softmax,
)
from .base import FloatArray, PerSample, mean_over_outputs
from .errors import ParameterError

__all__ = [
    "binary_cross_entropy",
    "binary_focal_cross_entropy",
    "brier",
    "categorical_cross_entropy",
    "categorical_focal_cross_entropy",
    "categorical_hinge",
    "hamming",
    "hinge",
    "multi_margin",
    "soft_margin",
    "sparse_categorical_cross_entropy",
    "squared_hinge",
    "zero_one",
]


def binary_cross_entropy(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    pos_weight: float = 1.0,
    eps: float = 1e-7,
    gradient: bool = True,
) -> PerSample:
    """Binary cross-entropy from probabilities or logits; (N, K) is multi-label."""
    labels = targets
    if label_smoothing:
        labels = targets * (1.0 - label_smoothing) + 0.5 * label_smoothing
    grad = None
    if from_logits:
        values, grad = binary_logistic(
            predictions, labels, pos_weight=pos_weight, gradient=gradient
        )
    else:
        clipped = np.clip(predictions, eps, 1.0 - eps)
        values, slope = _clipped_entropy(clipped, labels, pos_weight=pos_weight, gradient=gradient)
        if slope is not None:
            grad = clipped_slope(slope, predictions, clipped)
    return mean_over_outputs(values, grad)


def _clipped_entropy(
    clipped: FloatArray, labels: FloatArray, *, pos_weight: float = 1.0, gradient: bool = True
) -> tuple[FloatArray, FloatArray | None]:
    """-(w y log p + (1 - y) log(1 - p)) over probabilities already clipped, and when asked its
    derivative in p: the clipped formula's, to which the caller applies the clip's own.

    The value is y (log(1 - p) - w log p) - log(1 - p): three in-place passes after the two
    logs, not eleven with a temporary each. The derivative -w y / p + (1 - y) / (1 - p) is over
    one denominator, (p - y (w (1 - p) + p)) / (p (1 - p)): (p - y) / (p (1 - p)) for w = 1,
    PyTorch's form."""
    miss = np.subtract(1.0, clipped)
    log_miss = log_of_one_minus(clipped, miss)
    values = np.log(clipped)
    if pos_weight != 1.0:
        values *= pos_weight
    np.subtract(log_miss, values, out=values)
    values *= labels
    values -= log_miss
    if not gradient:
        return values, None
    if pos_weight == 1.0:
        slope = np.subtract(clipped, labels)
    else:
        slope = np.multiply(miss, pos_weight)
        slope += clipped
        slope *= labels
        np.subtract(clipped, slope, out=slope)
    miss *= clipped
    slope /= miss
    return values, slope


def binary_focal_cross_entropy(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    from_logits: bool = False,
    eps: float = 1e-7,
    gradient: bool = True,
) -> PerSample:
    """Binary focal cross-entropy (Keras): cross-entropy down-weighted on easy samples."""
    weight = None if alpha is None else targets * (2.0 * alpha - 1.0) + (1.0 - alpha)
    clipped = None
    d_entropy: FloatArray | None
    if from_logits:
        parts = logistic(predictions)
        positive, negative = parts.positive, parts.negative
        # y softplus(-z) + (1 - y) softplus(z), the linear parts first (see binary_cross_entropy).
        entropy = targets * np.maximum(-predictions, 0.0)
        entropy += (1.0 - targets) * np.maximum(predictions, 0.0)
        entropy += parts.log_term
        # 1 - p_t, written with sigmoid(-z) so that it is exact when p_t is close to 1.
        miss = targets * negative + (1.0 - targets) * positive
        d_miss = (1.0 - 2.0 * targets) * positive * negative
        d_entropy = positive - targets
    else:
        clipped = np.clip(predictions, eps, 1.0 - eps)
        # The derivatives of the clipped formula; clipped_slope zeroes them outside the clip.
        entropy, d_entropy = _clipped_entropy(clipped, targets, gradient=gradient)
        d_miss = np.multiply(targets, -2.0)
        d_miss += 1.0  # 1 - 2 y
        miss = np.multiply(d_miss, clipped)
        miss += targets  # y (1 - p) + (1 - y) p
    focal = power(miss, gamma)
    values = focal * entropy
    if weight is not None:
        values *= weight
    grad = None
    if gradient:
        # d(miss^gamma) = gamma miss^(gamma - 1) d_miss; its limit is 0 where miss = 0, which
        # the product gives by itself for gamma > 1.
        if gamma > 1.0:
            d_focal = power(miss, gamma - 1.0)
            d_focal *= gamma
            d_focal *= d_miss
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                d_focal = np.where(miss > 0, gamma * np.power(miss, gamma - 1.0) * d_miss, 0.0)
        d_focal *= entropy
        assert d_entropy is not None
        d_entropy *= focal
        d_entropy += d_focal
        grad = d_entropy if weight is None else np.multiply(d_entropy, weight, out=d_entropy)
        if clipped is not None:
            grad = clipped_slope(grad, predictions, clipped)
    return mean_over_outputs(values, grad)


def _signed_targets(targets: FloatArray) -> FloatArray:
    """Hinge targets in {-1, 1}; targets all in {0, 1} are mapped to {-1, 1} (Keras). The
    registry's SIGNS domain has refused a mix of 0 and -1."""
    return 2.0 * targets - 1.0 if targets.min(initial=1.0) == 0.0 else targets


def hinge(predictions: FloatArray, targets: FloatArray, *, gradient: bool = True) -> PerSample:
    """Hinge loss max(0, 1 - y p) on scores, targets in {-1, 1} or {0, 1}."""
    signs = _signed_targets(targets)
    margin = np.multiply(signs, predictions)
    np.subtract(1.0, margin, out=margin)
    grad = None
    if gradient:
        # -y where the margin is positive, else 0: -y times a 0/1 step, in arithmetic passes
        # rather than a masked selection, which numpy makes several times slower.
        grad = np.greater(margin, 0.0, out=np.empty_like(margin), casting="unsafe")
        grad *= signs
        np.negative(grad, out=grad)
    return mean_over_outputs(np.maximum(margin, 0.0, out=margin), grad)


def squared_hinge(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Squared hinge loss max(0, 1 - y p)^2 on scores, targets in {-1, 1} or {0, 1}."""
    signs = _signed_targets(targets)
    active = np.maximum(1.0 - signs * predictions, 0.0)
    return mean_over_outputs(np.square(active), -2.0 * signs * active if gradient else None)


def categorical_hinge(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Multi-class hinge max(0, 1 + best wrong score - true score) (scikit-learn)."""
    # One-hot rows (the registry's domain): each row's true class by one BLAS product.
    label = (targets @ np.arange(targets.shape[1], dtype=np.float64)).astype(np.intp)
    true_class = flat_index(label, targets.shape[1])
    true_score = predictions.take(true_class)
    wrong = predictions.copy()
    wrong.reshape(-1)[true_class] = -np.inf
    best_wrong = row_max(wrong)
    margin = 1.0 + best_wrong - true_score
    values = np.maximum(margin, 0.0)
    grad = None
    if gradient:
        # 1 at the best wrong score; a tie for it is a kink of the max, where its gradient is 0.
        grad = np.equal(wrong, best_wrong[:, None], out=wrong, casting="unsafe")
        active = margin > 0
        grad *= ((row_sum(grad) == 1.0) & active)[:, None]
        # -1 at the true score wherever the margin is positive (a tie of wrong ones included).
        grad.reshape(-1)[true_class] = -active.astype(np.float64)
    return PerSample(losses=values, gradient=grad)


def zero_one(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    threshold: float = 0.5,
    predictions_are_labels: bool = False,
    gradient: bool = True,
) -> PerSample:
    """Misclassification indicator: 1 where the predicted label differs from the target."""
    if predictions.ndim == 2:
        predicted = predictions.argmax(axis=1)
        actual = targets.argmax(axis=1) if targets.ndim == 2 else targets.astype(np.int64)
        return PerSample(losses=(predicted != actual).astype(np.float64))
    if predictions_are_labels:
        return PerSample(losses=(predictions != targets).astype(np.float64))
    predicted_positive = predictions >= threshold
    return PerSample(losses=(predicted_positive != (targets == 1.0)).astype(np.float64))


def hamming(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    threshold: float = 0.5,
    predictions_are_labels: bool = False,
    gradient: bool = True,
) -> PerSample:
    """Fraction of the labels predicted wrong (scikit-learn's hamming_loss); (N,) is K = 1."""
    predicted = predictions == 1.0 if predictions_are_labels else predictions >= threshold
    wrong = (predicted != (targets == 1.0)).astype(np.float64)
    return mean_over_outputs(wrong, None)


def _class_weights(class_weight: tuple[float, ...] | None, classes: int) -> FloatArray | None:
    if class_weight is None:
        return None
    if len(class_weight) != classes:
        raise ParameterError(
            f"class_weight has {len(class_weight)} entries; expected one per class ({classes})",
            field="class_weight",
            value=len(class_weight),
        )
    return np.asarray(class_weight, dtype=np.float64)


def _smoothed(targets: FloatArray, label_smoothing: float) -> FloatArray:
    """Categorical label smoothing y (1 - s) + s / K; the targets themselves when s = 0."""
    if not label_smoothing:
        return targets
    smoothed: FloatArray = targets * (1.0 - label_smoothing) + label_smoothing / targets.shape[1]
    return smoothed


def categorical_cross_entropy(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    class_weight: tuple[float, ...] | None = None,
    eps: float = 1e-7,
    gradient: bool = True,
) -> PerSample:
    """Categorical cross-entropy over class probabilities or logits, one-hot or soft targets."""
    classes = predictions.shape[1]
    weights = _class_weights(class_weight, classes)
    smoothed = _smoothed(targets, label_smoothing)
    grad = None
    if from_logits:
        shifted, log_norm, probs = softmax(predictions, probs=gradient)
        # -sum y (z - log_norm) over the row
        values = row_sum(smoothed) * log_norm
        values -= row_dot(smoothed, shifted)
        if probs is not None:
            # d/dz of -sum y log softmax(z) = softmax(z) sum(y) - y (sum(y) is 1 within 1e-3).
            probs *= row_sum(smoothed)[:, None]
            probs -= smoothed
            grad = probs
    else:
        clipped = np.clip(predictions, eps, 1.0 - eps)
        log_clipped = np.log(clipped)
        values = -row_dot(smoothed, log_clipped)
        if gradient:
            slope = np.divide(smoothed, clipped, out=log_clipped)
            grad = clipped_slope(np.negative(slope, out=slope), predictions, clipped)
    if weights is not None:
        # The true class's weight; for soft labels the label-weighted mean of the class weights.
        factor = targets @ weights
        values = values * factor
        grad = None if grad is None else grad * factor[:, None]
    return PerSample(losses=values, gradient=grad)


def sparse_categorical_cross_entropy(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    from_logits: bool = False,
    class_weight: tuple[float, ...] | None = None,
    ignore_index: int | None = None,
    eps: float = 1e-7,
    gradient: bool = True,
) -> PerSample:
    """Categorical cross-entropy with integer class labels as targets."""
    weights = _class_weights(class_weight, predictions.shape[1])
    ignored = None
    labels = targets
    if ignore_index is not None:
        ignored = targets == ignore_index
        labels = np.where(ignored, 0.0, targets)
    label = labels.astype(np.intp)
    true_class = flat_index(label, predictions.shape[1])
    grad = None
    if from_logits:
        shifted, log_norm, probs = softmax(predictions, probs=gradient)
        values = log_norm - shifted.take(true_class)
        if probs is not None:
            grad = probs
            grad.reshape(-1)[true_class] -= 1.0
    else:
        chosen = predictions.take(true_class)
        clipped = np.clip(chosen, eps, 1.0 - eps)
        values = -np.log(clipped)
        if gradient:
            grad = np.zeros_like(predictions)
            grad.reshape(-1)[true_class] = -inside(chosen, eps, 1.0 - eps) / clipped
    if weights is not None:
        factor = weights[label]
        values = values * factor
        grad = None if grad is None else grad * factor[:, None]
    if ignored is not None:
        values = np.where(ignored, 0.0, values)
        grad = None if grad is None else np.where(ignored[:, None], 0.0, grad)
    return PerSample(losses=values, gradient=grad, ignored=ignored)


def categorical_focal_cross_entropy(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    eps: float = 1e-7,
    gradient: bool = True,
) -> PerSample:
    """Categorical focal cross-entropy (Keras): each class's term scaled by alpha (1 - p_c)^gamma.

    l = -sum_c alpha (1 - p_c)^gamma y_c log p_c, p clipped to [eps, 1 - eps] as in
    categorical_cross_entropy (rows not renormalised); with logits p = softmax(z), unclipped.
    """
    smoothed = _smoothed(targets, label_smoothing)
    if from_logits:
        log_probs, log_norm, exps = softmax(predictions)
        log_probs -= log_norm[:, None]
        assert exps is not None
        probs = exps
    else:
        probs = np.clip(predictions, eps, 1.0 - eps)
        log_probs = np.log(probs)
    miss = np.subtract(1.0, probs)
    focal = power(miss, gamma)
    weighted = np.multiply(smoothed, focal)  # y (1 - p)^gamma
    weighted *= log_probs
    values = row_sum(weighted)
    values *= -alpha
    grad = None
    if gradient:
        # dl/dp = alpha y (gamma (1 - p)^(gamma - 1) log p - (1 - p)^gamma / p). The limit of
        # the first term is 0 where 1 - p = 0, which the product gives by itself for gamma > 1.
        if gamma > 1.0:
            slope = power(miss, gamma - 1.0)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = np.where(miss > 0, np.power(miss, gamma - 1.0), 0.0)
        slope *= log_probs
        slope *= gamma
        if from_logits:
            # Through the softmax, dl/dz_j = h_j - p_j sum_c h_c with h_c = p_c dl/dp_c, written
            # without dividing by p_c: a probability that underflows to 0 costs nothing.
            slope *= probs
            slope -= focal
            slope *= smoothed
            slope *= alpha
            slope -= probs * row_sum(slope)[:, None]
            grad = slope
        else:
            focal /= probs
            slope -= focal
            slope *= smoothed
            slope *= alpha
            # The derivative of the clipped formula: 0 where the clip moved p.
            grad = clipped_slope(slope, predictions, probs)
    return PerSample(losses=values, gradient=grad)


def brier(predictions: FloatArray, targets: FloatArray, *, gradient: bool = True) -> PerSample:
    """Brier score: squared error of predicted probabilities against the outcomes.

    (N,): (p - y)^2 for probabilities of the positive class and y in {0, 1}; (N, K): sum_k
    (p_k - y_k)^2 over class probabilities and one-hot rows (or labels, read as one-hot rows),
    scikit-learn's multiclass Brier score without its scaling.
    """
    if predictions.ndim == 2 and targets.ndim == 1:
        targets = np.eye(predictions.shape[1])[targets.astype(np.int64)]
    residual = predictions - targets
    squared = np.square(residual)
    values = row_sum(squared) if squared.ndim == 2 else squared
    # The gradient 2 (p - y) is the residual, its 2 applied by the reduction's own pass.
    return PerSample(losses=values, gradient=residual if gradient else None, gradient_scale=2.0)


def multi_margin(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    margin: float = 1.0,
    power: int = 1,
    class_weight: tuple[float, ...] | None = None,
    gradient: bool = True,
) -> PerSample:
    """Multi-class margin loss (PyTorch MultiMarginLoss) over scores and integer labels.

    l = sum_{c != y} max(0, margin - p_y + p_c)^power / K, times class_weight[y] when given.
    """
    classes = predictions.shape[1]
    weights = _class_weights(class_weight, classes)
    label = targets.astype(np.intp)
    true_class = flat_index(label, classes)
    gaps = predictions - (predictions.take(true_class) - margin)[:, None]
    gaps.reshape(-1)[true_class] = 0.0  # the true class is not a term of the sum
    active = np.maximum(gaps, 0.0)
    values = row_sum(active if power == 1 else np.square(active)) / classes
    factor = None if weights is None else weights[label]
    if factor is not None:
        values = values * factor
    grad = None
    if gradient:
        # d/dp_c of each active term: power * gap^(power - 1); the true class gets minus their
        # sum. A gap of exactly 0 is the kink: 0 there (relu's convention, as PyTorch).
        slope = (gaps > 0).astype(np.float64) if power == 1 else 2.0 * active
        slope /= classes
        if factor is not None:
            slope *= factor[:, None]
        grad = slope
        grad.reshape(-1)[true_class] = -row_sum(slope)
    return PerSample(losses=values, gradient=grad)


def soft_margin(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Soft margin loss log(1 + exp(-y p)) (PyTorch SoftMarginLoss), targets as for hinge."""
    # log(1 + exp(-y p)) is binary cross-entropy on logits p with labels (y + 1) / 2.
    labels = np.multiply(_signed_targets(targets), 0.5)
    labels += 0.5
    values, grad = binary_logistic(predictions, labels, gradient=gradient)
    return mean_over_outputs(values, grad)
