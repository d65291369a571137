"""What every loss function returns: per-sample losses and their gradient, before reduction."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class PerSample(NamedTuple):
    """One loss evaluated on N samples, not yet weighted or reduced.

    losses: (N,) the per-sample loss l_i.
    gradient: d l_i / d predictions[i], the shape of the predictions; None when not asked for
        or when the loss is not differentiable.
    elementwise: (N, K) losses whose row means are `losses`, for losses that report
        `per_output` (regression on (N, K) inputs); None otherwise.
    ignored: (N,) True where a sample counts as absent (weight 0), e.g. `ignore_index`.
    gradient_scale: a constant the gradient is still to be multiplied by: `reduce` applies it
        with the reduction's own factor, in the one pass over the gradient it makes anyway.
    """

    losses: FloatArray
    gradient: FloatArray | None = None
    elementwise: FloatArray | None = None
    ignored: BoolArray | None = None
    gradient_scale: float = 1.0

    def scaled_gradient(self) -> FloatArray | None:
        """d l_i / d predictions with `gradient_scale` applied, for a reader other than reduce."""
        if self.gradient is None or self.gradient_scale == 1.0:
            return self.gradient
        scaled: FloatArray = self.gradient * self.gradient_scale
        return scaled


def mean_over_outputs(
    values: FloatArray,
    gradient: FloatArray | None,
    *,
    keep_elementwise: bool = False,
    gradient_scale: float = 1.0,
) -> PerSample:
    """Per-sample losses from elementwise ones: (N,) as they are, (N, K) as the row mean (Keras).

    The gradient of a row mean is the elementwise gradient divided by K (a `gradient_scale`).
    """
    if values.ndim == 1:
        return PerSample(losses=values, gradient=gradient, gradient_scale=gradient_scale)
    outputs = values.shape[1]
    return PerSample(
        losses=values.mean(axis=1),
        gradient=gradient,
        elementwise=values if keep_elementwise else None,
        gradient_scale=gradient_scale / outputs,
    )
