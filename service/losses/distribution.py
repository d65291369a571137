"""Losses between rows of (N, K) arrays: distributions (KL, JS), vectors (cosine), sets (Dice)."""

from __future__ import annotations

import numpy as np

from ._numerics import clipped_slope, is_zero, row_dot, row_sum, softmax
from .base import FloatArray, PerSample
from .errors import DomainError

__all__ = ["cosine_similarity", "dice", "js_divergence", "kl_divergence", "tversky"]

# Keras's l2_normalize floor on the squared norm: a zero vector has cosine 0, not NaN.
NORM_FLOOR_SQUARED = 1e-12
# Stands in for p = 0 in the log of the JS gradient, whose one-sided limit there is -infinity.
JS_GRADIENT_FLOOR = 1e-7


def cosine_similarity(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """One minus the cosine similarity of each prediction row with its target row."""
    # Row products (einsum) rather than squares and sums over the short last axis.
    squared_norm = row_dot(predictions, predictions)
    norm = np.sqrt(np.maximum(squared_norm, NORM_FLOOR_SQUARED))
    target_norm = np.sqrt(np.maximum(row_dot(targets, targets), NORM_FLOOR_SQUARED))
    cosine = row_dot(predictions, targets)
    cosine /= target_norm
    cosine /= norm
    grad = None
    if gradient:
        # -d cos / dp = cos p / |p|^2 - y / (|y| |p|); where the norm is floored it is a
        # constant, so only the second term remains.
        along = cosine * (squared_norm > NORM_FLOOR_SQUARED) / np.square(norm)
        grad = np.multiply(predictions, along[:, None])
        grad -= np.multiply(targets, (1.0 / (target_norm * norm))[:, None])
    return PerSample(losses=1.0 - cosine, gradient=grad)


def kl_divergence(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    from_logits: bool = False,
    eps: float = 1e-7,
    gradient: bool = True,
) -> PerSample:
    """Kullback-Leibler divergence KL(targets || predictions) of each row."""
    positive = targets > 0
    grad = None
    if from_logits:
        shifted, log_norm, probs = softmax(predictions, probs=gradient)
        # sum y (log y - log p) with log p = z - log_norm, and 0 log 0 = 0: log 1 stands in
        # where y = 0.
        log_ratio = np.log(np.where(positive, targets, 1.0))
        log_ratio -= shifted
        values = row_dot(targets, log_ratio)
        values += row_sum(targets) * log_norm
        if probs is not None:
            probs *= row_sum(targets)[:, None]
            probs -= targets
            grad = probs
    else:
        clipped = np.clip(predictions, eps, 1.0)
        # sum y log(y / p): one log, and no cancellation of two large terms when p is near y.
        log_ratio = np.divide(targets, clipped, out=np.ones_like(targets), where=positive)
        np.log(log_ratio, out=log_ratio)
        values = row_dot(targets, log_ratio)
        if gradient:
            slope = np.divide(targets, clipped, out=log_ratio)
            grad = clipped_slope(np.negative(slope, out=slope), predictions, clipped)
    return PerSample(losses=values, gradient=grad)


def js_divergence(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Jensen-Shannon divergence of each prediction row and target row (natural log)."""
    middle = np.add(predictions, targets)
    middle *= 0.5
    # m = 0 only where p = y = 0, whose terms vanish: 1 stands in, and 1 stands in for the
    # ratio where its numerator is 0 (0 log 0 = 0). Sums with a 0/1 step each, rather than
    # masked selections, which numpy makes several times slower.
    middle += is_zero(middle)
    log_hit = np.divide(predictions, middle)
    log_hit += is_zero(predictions)
    np.log(log_hit, out=log_hit)  # log(p / m), 0 where p = 0
    log_target = np.divide(targets, middle)
    log_target += is_zero(targets)
    np.log(log_target, out=log_target)
    log_target *= targets
    values = row_dot(predictions, log_hit)
    values += row_sum(log_target)
    values *= 0.5
    grad = None
    if gradient:
        # d/dp = log(p / m) / 2, exact wherever p > 0; only at p = 0 (limit -infinity) floored.
        grad = np.multiply(log_hit, 0.5, out=log_hit)
        zero = predictions == 0
        if zero.any():
            floored_middle = np.maximum(0.5 * targets[zero], 0.5 * JS_GRADIENT_FLOOR)  # m = y / 2
            grad[zero] = 0.5 * np.log(JS_GRADIENT_FLOOR / floored_middle)
    return PerSample(losses=values, gradient=grad)


def dice(
    predictions: FloatArray, targets: FloatArray, *, smooth: float = 1e-6, gradient: bool = True
) -> PerSample:
    """Soft Dice loss of each row: one minus the smoothed Dice coefficient."""
    overlap = 2.0 * row_dot(predictions, targets) + smooth
    total = row_sum(predictions) + row_sum(targets) + smooth
    # Two empty rows with smooth = 0 agree perfectly: coefficient 1, loss 0, gradient 0.
    empty = total == 0
    safe_total = np.where(empty, 1.0, total)
    coefficient = np.where(empty, 1.0, overlap / safe_total)
    grad = None
    if gradient:
        # d/dp_k of -(2 sum p y + s) / T: -(2 y_k - coefficient) / T.
        grad = np.multiply(targets, -2.0)
        grad += coefficient[:, None]
        grad /= safe_total[:, None]
        if empty.any():
            grad[empty] = 0.0
    return PerSample(losses=1.0 - coefficient, gradient=grad)


def tversky(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 1e-6,
    gradient: bool = True,
) -> PerSample:
    """Tversky loss of each row: Dice with false positives and false negatives weighed apart.

    l = 1 - (TP + s) / (TP + alpha FP + beta FN + s) with TP = sum_k p y, FP = sum_k p (1 - y),
    FN = sum_k (1 - p) y (Salehi et al. 2017); alpha = beta = 0.5 is dice with smooth 2s.
    """
    overlap = row_dot(predictions, targets)
    # FP = sum(p) - TP and FN = sum(y) - TP, from two BLAS row sums rather than two more row
    # products with 1 - y and 1 - p; a difference that rounding takes below 0 is 0.
    false_positive = np.maximum(row_sum(predictions) - overlap, 0.0)
    false_negative = np.maximum(row_sum(targets) - overlap, 0.0)
    numerator = overlap + smooth
    denominator = overlap + alpha * false_positive + beta * false_negative + smooth
    empty = denominator == 0
    if empty.any():
        row = int(np.argmax(empty))
        raise DomainError(
            f"row predictions[{row}] gives tversky 0 / 0 (no overlap, nothing weighed and "
            "smooth = 0); expected smooth > 0 or a row with a positive prediction or target",
            field="predictions",
            index=(row,),
            value="0 / 0",
        )
    grad = None
    if gradient:
        # d/dp_k of N / D: (y_k D - N (y_k + alpha (1 - y_k) - beta y_k)) / D^2, negated.
        # = N (y_k (1 - alpha - beta) + alpha) / D^2 - y_k / D.
        grad = np.multiply(targets, 1.0 - alpha - beta)
        grad += alpha
        grad *= (numerator / np.square(denominator))[:, None]
        grad -= targets / denominator[:, None]
    return PerSample(losses=1.0 - numerator / denominator, gradient=grad)
