"""Numerically stable building blocks shared by the classification and distribution losses."""

from __future__ import annotations

import numpy as np

from .base import FloatArray


def sigmoid(logits: FloatArray) -> FloatArray:
    """1 / (1 + exp(-z)) without overflow: exp is only ever taken of -|z|."""
    decay = np.exp(-np.abs(logits))
    return np.where(logits >= 0, 1.0 / (1.0 + decay), decay / (1.0 + decay))


def softplus(logits: FloatArray) -> FloatArray:
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): no overflow for large |z|."""
    result: FloatArray = np.maximum(logits, 0.0) + np.log1p(np.exp(-np.abs(logits)))
    return result


def log_softmax(logits: FloatArray) -> FloatArray:
    """Row-wise log-softmax; shifting by the row max keeps exp in range (log-sum-exp)."""
    shifted: FloatArray = logits - logits.max(axis=-1, keepdims=True)
    result: FloatArray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return result


def xlogy(x: FloatArray, y: FloatArray) -> FloatArray:
    """x log y with 0 log y = 0, so that 0 log 0 terms vanish as in entropy."""
    positive = x > 0
    return np.where(positive, x * np.log(np.where(positive, y, 1.0)), 0.0)


def inside(values: FloatArray, low: float, high: float) -> FloatArray:
    """1.0 where low <= values <= high, else 0.0: the derivative of clip (as torch.clamp)."""
    return ((values >= low) & (values <= high)).astype(np.float64)
