"""Regression losses: one pure function each, returning per-sample values and their gradient.

Inputs are float64 arrays of shape (N,) or (N, K) already checked for shape and finiteness;
for (N, K) the per-sample loss is the mean over the K outputs (Keras). Gradients are
d l_i / d predictions, 0 at kinks (as PyTorch's abs and relu give).
"""

from __future__ import annotations

import numpy as np

from ._numerics import is_zero, log1p, log_of_one_plus
from .base import FloatArray, PerSample, mean_over_outputs

__all__ = [
    "gamma_deviance",
    "huber",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "poisson_deviance",
    "quantile",
    "root_mean_squared_error",
    "smooth_l1",
    "tweedie_deviance",
]

LOG_2 = float(np.log(2.0))
# Past this |r|, log cosh r rounds to |r| - log 2 and tanh r to +-1 in float64.
LARGE_ERROR = 20.0


def mean_squared_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Squared error (p - y)^2."""
    residual = predictions - targets
    # The gradient 2r is the residual, its 2 applied by the reduction's own pass.
    grad = residual if gradient else None
    return mean_over_outputs(np.square(residual), grad, keep_elementwise=True, gradient_scale=2.0)


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
    # Not in place: numpy's sign over its own input takes several times longer.
    grad = np.sign(residual) if gradient else None
    values = np.abs(residual, out=residual)
    return mean_over_outputs(values, grad, keep_elementwise=True)


def huber(
    predictions: FloatArray, targets: FloatArray, *, delta: float = 1.0, gradient: bool = True
) -> PerSample:
    """Huber loss: quadratic within delta of the target, linear beyond."""
    # With c = clip(r, -delta, delta): c (2 r - c) / 2 is r^2 / 2 inside and delta (|r| - delta /
    # 2) outside, and c itself is the gradient: in place over r, no third array the size of r
    # (fewer cache misses than one pass fewer would save).
    residual = predictions - targets
    clipped = np.clip(residual, -delta, delta)
    residual *= 2.0
    residual -= clipped
    residual *= clipped
    values = np.multiply(residual, 0.5, out=residual)
    return mean_over_outputs(values, clipped if gradient else None, keep_elementwise=True)


def smooth_l1(
    predictions: FloatArray, targets: FloatArray, *, beta: float = 1.0, gradient: bool = True
) -> PerSample:
    """Smooth L1 (PyTorch): quadratic below beta, scaled by 1 / beta; linear beyond."""
    # PyTorch's identity smooth_l1(beta) = huber(delta=beta) / beta, in huber's clipped form.
    per_sample = huber(predictions, targets, delta=beta, gradient=gradient)
    if beta == 1.0:
        return per_sample
    scale = 1.0 / beta
    for array in (per_sample.losses, per_sample.elementwise):
        if array is not None:
            array *= scale
    return per_sample._replace(gradient_scale=per_sample.gradient_scale * scale)


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
    # From one f = expm1(|r|), exact near 0: with q = f / (1 + f), cosh r - 1 = x = f q / 2, so
    # log cosh r = log1p(x), and tanh |r| = sinh |r| / cosh r with sinh |r| = x + q: products and
    # sums of positive terms. Past |r| = 20 these round to |r| - log 2 and 1 (exp(-2|r|) <
    # 1e-17), and f is capped there so that it never overflows.
    residual = predictions - targets
    size = np.abs(residual)
    # One reduction instead of a capped copy and a mask, for the usual inputs with none far.
    far = size > LARGE_ERROR if size.max(initial=0.0) > LARGE_ERROR else None
    capped = size if far is None else np.minimum(size, LARGE_ERROR)
    growth = np.expm1(capped, out=capped)
    share = np.add(growth, 1.0)
    np.divide(growth, share, out=share)  # f / (1 + f)
    excess = np.multiply(growth, share, out=growth)
    excess *= 0.5
    cosh = np.add(excess, 1.0)
    grad = None
    if gradient:
        share += excess  # sinh |r|
        share /= cosh
        grad = np.copysign(share, residual, out=share)
    # The residual's array is free now: five arrays the size of r in all, not six.
    values = log_of_one_plus(excess, cosh, scratch=residual)[0]
    if far is not None:
        values[far] = size[far] - LOG_2
    return mean_over_outputs(values, grad, keep_elementwise=True)


def mean_squared_logarithmic_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Squared difference of log1p(p) and log1p(y); p and y must be >= 0."""
    shifted = np.add(predictions, 1.0)  # 1 + p, which the gradient divides by too
    log_gap = log_of_one_plus(predictions, shifted)[0]
    log_gap -= log1p(targets)
    grad = None
    if gradient:
        # 2 (log1p(p) - log1p(y)) / (1 + p), its 2 applied by the reduction's own pass.
        grad = np.divide(log_gap, shifted, out=shifted)
    return mean_over_outputs(
        np.square(log_gap, out=log_gap), grad, keep_elementwise=True, gradient_scale=2.0
    )


def mean_absolute_percentage_error(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Absolute error relative to |y| (a fraction, as scikit-learn; not multiplied by 100)."""
    residual = predictions - targets
    # scikit-learn's guard against division by zero targets.
    scale = np.abs(targets)
    np.maximum(scale, np.finfo(np.float64).eps, out=scale)
    grad = None
    if gradient:
        grad = np.sign(residual)  # not in place: see mean_absolute_error
        grad /= scale
    values = np.abs(residual, out=residual)
    values /= scale
    return mean_over_outputs(values, grad, keep_elementwise=True)


def poisson(
    predictions: FloatArray,
    targets: FloatArray,
    *,
    log_input: bool = False,
    eps: float = 1e-7,
    gradient: bool = True,
) -> PerSample:
    """Poisson negative log-likelihood without the constant: p - y log(p + eps); p, y >= 0.

    With log_input the predictions are log-rates z and the loss is exp(z) - y z (PyTorch's
    poisson_nll_loss with log_input, without the Stirling term); eps is then unused, as there.
    """
    # In place after the first two arrays: each fresh one costs a pass of its own.
    if log_input:
        rate = np.exp(predictions)
        values = np.multiply(targets, predictions)
        np.subtract(rate, values, out=values)
        grad = np.subtract(rate, targets, out=rate) if gradient else None
        return mean_over_outputs(values, grad, keep_elementwise=True)
    shifted = predictions + eps
    values = np.log(shifted)
    values *= targets
    np.subtract(predictions, values, out=values)
    grad = None
    if gradient:
        grad = np.divide(targets, shifted, out=shifted)
        np.subtract(1.0, grad, out=grad)
    return mean_over_outputs(values, grad, keep_elementwise=True)


def tweedie_deviance(
    predictions: FloatArray, targets: FloatArray, *, power: float = 0.0, gradient: bool = True
) -> PerSample:
    """Tweedie deviance of the given power (scikit-learn's mean_tweedie_deviance, per sample).

    power 0: (y - p)^2; 1: 2 (y log(y / p) - y + p); 2: 2 (log(p / y) + y / p - 1); otherwise
    2 (max(y, 0)^(2-k) / ((1-k)(2-k)) - y p^(1-k) / (1-k) + p^(2-k) / (2-k)), k the power.
    Every power has the same derivative, d/dp = 2 p^(-k) (p - y).
    """
    residual = predictions - targets
    lower = None
    if power == 0.0:
        values = np.square(residual)
    elif power == 1.0:
        # y log(y / p) is 0 at y = 0, the deviance's limit there: the ratio is 1 there (a sum
        # with a 0/1 step rather than a masked selection, which numpy makes several times slower).
        values = np.divide(targets, predictions)
        values += is_zero(targets)
        np.log(values, out=values)
        values *= targets
        values += residual
        values *= 2.0
    elif power == 2.0:
        # 2 (log(p / y) + y / p - 1) = 2 (q - 1 - log q) with q = y / p: one division, in place.
        values = np.divide(targets, predictions)
        log_ratio = np.log(values)
        values -= 1.0
        values -= log_ratio
        values *= 2.0
    else:
        # numpy's power is a slow scalar loop: p^(2-k) is p p^(1-k), and the gradient's p^-k is
        # p^(1-k) / p, so two powers in all.
        k = power
        lower = np.power(predictions, 1.0 - k)
        values = np.multiply(predictions, lower)
        values *= 1.0 / (2.0 - k)
        values -= targets * lower / (1.0 - k)
        values += np.power(np.maximum(targets, 0.0), 2.0 - k) / ((1.0 - k) * (2.0 - k))
        values *= 2.0
    grad = None
    if gradient:
        # 2 p^(-k) (p - y), its 2 applied by the reduction's own pass; p^-k by divisions.
        grad = residual
        if power in (1.0, 2.0):
            grad /= predictions
            if power == 2.0:
                grad /= predictions
        elif lower is not None:
            grad *= lower
            grad /= predictions
    return mean_over_outputs(values, grad, keep_elementwise=True, gradient_scale=2.0)


def poisson_deviance(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Poisson deviance 2 (y log(y / p) - y + p): the Tweedie deviance of power 1."""
    return tweedie_deviance(predictions, targets, power=1.0, gradient=gradient)


def gamma_deviance(
    predictions: FloatArray, targets: FloatArray, *, gradient: bool = True
) -> PerSample:
    """Gamma deviance 2 (log(p / y) + y / p - 1): the Tweedie deviance of power 2."""
    return tweedie_deviance(predictions, targets, power=2.0, gradient=gradient)
