"""Regression losses: one pure function each, returning per-sample values and their gradient.

Inputs are float64 arrays of shape (N,) or (N, K) already checked for shape and finiteness;
for (N, K) the per-sample loss is the mean over the K outputs (Keras). Gradients are
d l_i / d predictions, 0 at kinks (as PyTorch's abs and relu give).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_range
from .base import FloatArray, PerSample, mean_over_outputs

__all__ = [
    "huber",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "quantile",
    "root_mean_squared_error",
    "smooth_l1",
]

LOG_2 = float(np.log(2.0))


def mean_squared_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Squared error (p - y)^2."""
    residual = predictions - targets
    return mean_over_outputs(
        np.square(residual), 2.0 * residual if gradient else None, keep_elementwise=True
    )


def root_mean_squared_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Root of the weighted mean squared error; the square root is taken after reduction.

    Per sample this is the squared error; `reduce` applies the square root to the mean.
    """
    return mean_squared_error(predictions, targets, gradient=gradient)


def mean_absolute_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Absolute error |p - y|."""
    residual = predictions - targets
    return mean_over_outputs(
        np.abs(residual), np.sign(residual) if gradient else None, keep_elementwise=True
    )


def huber(
    predictions: FloatArray, targets: FloatArray, *, delta: float = 1.0, gradient: bool = True
) -> PerSample:
    """Huber loss: quadratic within delta of the target, linear beyond."""
    residual = predictions - targets
    size = np.abs(residual)
    inside = size <= delta
    values = np.where(inside, 0.5 * np.square(residual), delta * (size - 0.5 * delta))
    grad = np.where(inside, residual, delta * np.sign(residual)) if gradient else None
    return mean_over_outputs(values, grad, keep_elementwise=True)


def smooth_l1(
    predictions: FloatArray, targets: FloatArray, *, beta: float = 1.0, gradient: bool = True
) -> PerSample:
    """Smooth L1 (PyTorch): quadratic below beta, scaled by 1 / beta; linear beyond."""
    residual = predictions - targets
    size = np.abs(residual)
    inside = size < beta
    values = np.where(inside, 0.5 * np.square(residual) / beta, size - 0.5 * beta)
    grad = np.where(inside, residual / beta, np.sign(residual)) if gradient else None
    return mean_over_outputs(values, grad, keep_elementwise=True)


def quantile(
    predictions: FloatArray, targets: FloatArray, *, quantile: float = 0.5, gradient: bool = True
) -> PerSample:
    """Pinball loss for the given quantile: max(q (y - p), (q - 1)(y - p))."""
    shortfall = targets - predictions
    values = np.maximum(quantile * shortfall, (quantile - 1.0) * shortfall)
    grad = None
    if gradient:
        # d/dp: -q under-prediction, 1 - q over-prediction, 0 at the kink.
        grad = np.where(shortfall > 0, -quantile, np.where(shortfall < 0, 1.0 - quantile, 0.0))
    return mean_over_outputs(values, grad, keep_elementwise=True)


def log_cosh(predictions: FloatArray, targets: FloatArray, *, gradient: bool = True) -> PerSample:
    """Logarithm of the hyperbolic cosine of the error."""
    residual = predictions - targets
    size = np.abs(residual)
    # cosh overflows past |r| ~ 710, so large errors use |r| + log1p(exp(-2|r|)) - log 2;
    # that form cancels to noise near 0, where log1p(2 sinh(r/2)^2) (= log cosh r) is exact.
    small = size < 1.0
    values = np.where(
        small,
        np.log1p(2.0 * np.square(np.sinh(0.5 * np.minimum(size, 1.0)))),
        size + np.log1p(np.exp(-2.0 * size)) - LOG_2,
    )
    return mean_over_outputs(values, np.tanh(residual) if gradient else None, keep_elementwise=True)


def mean_squared_logarithmic_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Squared difference of log1p(p) and log1p(y); p and y must be >= 0."""
    check_range(predictions, "predictions", low=0.0, expected="a value >= 0 for msle")
    check_range(targets, "targets", low=0.0, expected="a value >= 0 for msle")
    log_gap = np.log1p(predictions) - np.log1p(targets)
    grad = 2.0 * log_gap / (1.0 + predictions) if gradient else None
    return mean_over_outputs(np.square(log_gap), grad, keep_elementwise=True)


def mean_absolute_percentage_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Absolute error relative to |y| (a fraction, as scikit-learn; not multiplied by 100)."""
    residual = predictions - targets
    # scikit-learn's guard against division by zero targets.
    scale = np.maximum(np.abs(targets), np.finfo(np.float64).eps)
    values = np.abs(residual) / scale
    grad = np.sign(residual) / scale if gradient else None
    return mean_over_outputs(values, grad, keep_elementwise=True)


def poisson(
    predictions: FloatArray, targets: FloatArray, *, eps: float = 1e-7, gradient: bool = True
) -> PerSample:
    """Poisson negative log-likelihood without the constant: p - y log(p + eps); p, y >= 0."""
    check_range(predictions, "predictions", low=0.0, expected="a predicted rate >= 0 for poisson")
    check_range(targets, "targets", low=0.0, expected="a count >= 0 for poisson")
    shifted = predictions + eps
    values = predictions - targets * np.log(shifted)
    grad = 1.0 - targets / shifted if gradient else None
    return mean_over_outputs(values, grad, keep_elementwise=True)
