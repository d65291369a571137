"""Losses between rows of (N, K) arrays: distributions (KL, JS), vectors (cosine), sets (Dice)."""

from __future__ import annotations

import numpy as np

from ._numerics import inside, log_softmax, xlogy
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
    squared_norm = np.square(predictions).sum(axis=1)
    norm = np.sqrt(np.maximum(squared_norm, NORM_FLOOR_SQUARED))
    target_norm = np.sqrt(np.maximum(np.square(targets).sum(axis=1), NORM_FLOOR_SQUARED))
    unit_targets = targets / target_norm[:, None]
    cosine = (predictions * unit_targets).sum(axis=1) / norm
    grad = None
    if gradient:
        # Where the norm is floored it is a constant, so only the first term remains.
        unfloored = (squared_norm > NORM_FLOOR_SQUARED).astype(np.float64)
        d_cosine = (
            unit_targets / norm[:, None]
            - (cosine * unfloored / np.square(norm))[:, None] * predictions
        )
        grad = -d_cosine
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
    entropy_term = xlogy(targets, targets).sum(axis=1)
    grad = None
    if from_logits:
        log_probs = log_softmax(predictions)
        values = entropy_term - (targets * log_probs).sum(axis=1)
        if gradient:
            grad = np.exp(log_probs) * targets.sum(axis=1, keepdims=True) - targets
    else:
        clipped = np.clip(predictions, eps, 1.0)
        values = entropy_term - (targets * np.log(clipped)).sum(axis=1)
        if gradient:
            grad = -targets / clipped * inside(predictions, eps, 1.0)
    return PerSample(losses=values, gradient=grad)


def js_divergence(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Jensen-Shannon divergence of each prediction row and target row (natural log)."""
    middle = 0.5 * (predictions + targets)
    # m > 0 wherever p > 0 or y > 0, so xlogy never takes the log of 0 on a non-zero term.
    safe_middle = np.where(middle > 0, middle, 1.0)
    values = 0.5 * (
        xlogy(predictions, predictions / safe_middle) + xlogy(targets, targets / safe_middle)
    ).sum(axis=1)
    grad = None
    if gradient:
        # d/dp = log(p / m) / 2, exact wherever p > 0; only at p = 0 (limit -infinity) floored.
        zero = predictions == 0
        floored = np.where(zero, JS_GRADIENT_FLOOR, predictions)
        floored_middle = np.where(zero, np.maximum(middle, 0.5 * JS_GRADIENT_FLOOR), middle)
        grad = 0.5 * (np.log(floored) - np.log(floored_middle))
    return PerSample(losses=values, gradient=grad)


def dice(
    predictions: FloatArray, targets: FloatArray, *, smooth: float = 1e-6, gradient: bool = True
) -> PerSample:
    """Soft Dice loss of each row: one minus the smoothed Dice coefficient."""
    overlap = 2.0 * (predictions * targets).sum(axis=1) + smooth
    total = predictions.sum(axis=1) + targets.sum(axis=1) + smooth
    # Two empty rows with smooth = 0 agree perfectly: coefficient 1, loss 0, gradient 0.
    empty = total == 0
    safe_total = np.where(empty, 1.0, total)
    coefficient = np.where(empty, 1.0, overlap / safe_total)
    grad = None
    if gradient:
        grad = np.where(
            empty[:, None],
            0.0,
            -(2.0 * targets - coefficient[:, None]) / safe_total[:, None],
        )
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
    overlap = (predictions * targets).sum(axis=1)
    # Summed as written, not as sum(p) - TP: a difference could fall below 0 by rounding.
    false_positive = (predictions * (1.0 - targets)).sum(axis=1)
    false_negative = ((1.0 - predictions) * targets).sum(axis=1)
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
        d_denominator = targets + alpha * (1.0 - targets) - beta * targets
        grad = (
            -(targets * denominator[:, None] - numerator[:, None] * d_denominator)
            / np.square(denominator)[:, None]
        )
    return PerSample(losses=1.0 - numerator / denominator, gradient=grad)
