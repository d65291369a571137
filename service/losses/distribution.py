"""Losses between rows of (N, K) arrays: distributions (KL, JS), vectors (cosine), sets (Dice)."""

from __future__ import annotations

import numpy as np

from ._checks import check_probabilities, check_simplex_rows
from ._numerics import inside, log_softmax, xlogy
from .base import FloatArray, PerSample

__all__ = ["cosine_similarity", "dice", "js_divergence", "kl_divergence"]

# Keras's l2_normalize floor on the squared norm: a zero vector has cosine 0, not NaN.
NORM_FLOOR_SQUARED = 1e-12
# Stands in for p = 0 in the log of the JS gradient, whose one-sided limit there is -infinity.
JS_GRADIENT_FLOOR = 1e-7
LOGITS_HINT = "; pass from_logits=true if these are logits"


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
    check_simplex_rows(targets, "targets")
    entropy_term = xlogy(targets, targets).sum(axis=1)
    grad = None
    if from_logits:
        log_probs = log_softmax(predictions)
        values = entropy_term - (targets * log_probs).sum(axis=1)
        if gradient:
            grad = np.exp(log_probs) * targets.sum(axis=1, keepdims=True) - targets
    else:
        check_simplex_rows(predictions, "predictions", hint=LOGITS_HINT)
        clipped = np.clip(predictions, eps, 1.0)
        values = entropy_term - (targets * np.log(clipped)).sum(axis=1)
        if gradient:
            grad = -targets / clipped * inside(predictions, eps, 1.0)
    return PerSample(losses=values, gradient=grad)


def js_divergence(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Jensen-Shannon divergence of each prediction row and target row (natural log)."""
    check_simplex_rows(predictions, "predictions")
    check_simplex_rows(targets, "targets")
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
    check_probabilities(predictions, "predictions")
    check_probabilities(targets, "targets")
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
