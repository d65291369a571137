"""Numerically stable building blocks shared by the losses."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .base import FloatArray


def log1p(values: FloatArray) -> FloatArray:
    """log(1 + x) for x > -1, within an ulp of `np.log1p`, through numpy's log, which is
    vectorised on CPUs where its log1p is not (bench/README.md)."""
    return log_of_one_plus(values, values + 1.0)[0]


def log_of_one_plus(
    values: FloatArray, one_plus: FloatArray, scratch: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """log(1 + x) given one_plus = fl(1 + x), and the scratch array it used (`scratch` when
    given, which the caller may reuse): the rounding d = (one_plus - 1) - x is exact, and
    log(one_plus) - d / one_plus corrects for it to first order (also where x vanishes beside 1:
    the result is then x itself)."""
    result: FloatArray = np.log(one_plus)
    rounding = np.subtract(one_plus, 1.0, out=scratch)
    rounding -= values
    rounding /= one_plus
    result -= rounding
    return result, rounding


def log_of_one_minus(values: FloatArray, one_minus: FloatArray) -> FloatArray:
    """log(1 - x) given one_minus = fl(1 - x), for 0 <= x < 1: corrected for the rounding of
    1 - x as `log_of_one_plus` corrects for that of 1 + x (the caller keeps 1 - x for itself)."""
    result: FloatArray = np.log(one_minus)
    rounding = np.subtract(one_minus, 1.0)
    rounding += values
    rounding /= one_minus
    result -= rounding
    return result


class Logistic(NamedTuple):
    """The pieces of the logistic losses at logits z, from one exp (see `logistic`)."""

    log_term: FloatArray  # log1p(exp(-|z|)): softplus(z) = max(z, 0) + log_term
    positive: FloatArray  # sigmoid(z)
    negative: FloatArray  # sigmoid(-z)


def logistic(logits: FloatArray) -> Logistic:
    """log1p(exp(-|z|)), sigmoid(z) and sigmoid(-z), from one exp of -|z| (which never
    overflows).

    Callers add their linear part to max(z, 0) first, so that it cancels exactly before the
    small log term is added (Keras's order). With e = exp(-|z|): small = e / (1 + e) is the
    sigmoid of -|z|, gap = 1 / (1 + e) - small what the sigmoid of |z| has more. Each sigmoid is
    small + (its side's 0 or 1) x gap, the step a 0.0 / 1.0 array: exact on the small side
    (+ 0), where 1 - sigmoid(z) would cancel to 0, and in arithmetic passes rather than masked
    selections, which are several times slower in numpy. Four arrays the size of z in all."""
    decay = np.abs(logits)
    np.negative(decay, out=decay)
    np.exp(decay, out=decay)
    one_plus = decay + 1.0
    log_term, scratch = log_of_one_plus(decay, one_plus)
    small = np.divide(decay, one_plus, out=decay)
    gap = np.divide(1.0, one_plus, out=one_plus)
    gap -= small
    upper = np.greater_equal(logits, 0.0, out=scratch, casting="unsafe")
    upper *= gap  # the sigmoid of z beyond small: gap where z >= 0, else 0
    below = np.subtract(gap, upper, out=gap)  # 0 exactly where z >= 0
    below += small
    upper += small
    return Logistic(log_term, upper, below)


def binary_logistic(
    logits: FloatArray, labels: FloatArray, *, pos_weight: float = 1.0, gradient: bool = True
) -> tuple[FloatArray, FloatArray | None]:
    """Binary cross-entropy on logits, -(w y log sigmoid(z) + (1 - y) log sigmoid(-z)), and its
    derivative in z, from one exp of -|z|.

    With t = 1 where z >= +0 (else 0), s = sigmoid(-|z|) = e / (1 + e), c = w y + (1 - y) and
    v = c t - w y: the loss is v z + c log1p(e) and its derivative v - c s where z >= +0,
    v + c s below. For a label on the side of its logit (y = t), v is 0 exactly, so a
    confident right answer keeps its tiny loss c log1p(e) and slope -+c s instead of a
    cancelled 0; elsewhere nothing cancels. All in arithmetic passes: the sign of z as -+1 picks
    the side, no masked selection (several times slower in numpy) and no sigmoid of z."""
    decay = np.copysign(logits, -1.0)  # -|z|
    np.exp(decay, out=decay)
    one_plus = decay + 1.0
    # log1p(e) from u = fl(1 + e): u - 1 - e is the rounding, exactly (u in [1, 2]), and taking
    # it off corrects log u to first order. (The first-order term is that over u; leaving the
    # division out costs less than half an ulp here.)
    values = np.log(one_plus)
    scratch = np.subtract(one_plus, 1.0)
    scratch -= decay
    values -= scratch
    slope = np.divide(decay, one_plus, out=decay) if gradient else None
    linear = np.copysign(0.5, logits, out=one_plus)
    linear += 0.5  # t
    if pos_weight == 1.0:
        linear -= labels
        scale = None
    else:
        weighted = labels * pos_weight
        scale = np.subtract(1.0, labels)
        scale += weighted  # exactly w where y = 1 and 1 where y = 0
        linear *= scale
        linear -= weighted
        values *= scale
    values += np.multiply(linear, logits, out=scratch)
    if slope is not None:
        if scale is not None:
            slope *= scale
        np.copysign(slope, logits, out=slope)
        np.subtract(linear, slope, out=slope)
    return values, slope


def power(values: FloatArray, exponent: float) -> FloatArray:
    """values ** exponent, values >= 0: numpy's power is a slow scalar loop, and the exponents
    the focal losses use by default have vectorised forms (a square, a copy, ones)."""
    if exponent == 2.0:
        return np.square(values)
    if exponent == 1.0:
        return values.copy()
    if exponent == 0.0:
        return np.ones_like(values)
    result: FloatArray = np.power(values, exponent)
    return result


def flat_index(label: npt.NDArray[np.intp], classes: int) -> npt.NDArray[np.intp]:
    """The flat positions of (row, label[row]) in a C-ordered (N, classes) array: numpy gathers
    (`take`) and scatters through one index array about twice as fast as through a (rows, label)
    pair."""
    index = np.arange(0, label.shape[0] * classes, classes)
    index += label
    return index


def row_sum(values: FloatArray) -> FloatArray:
    """(N,) sums of the rows of an (N, K) array, through BLAS: numpy's own reduction over a
    short last axis is several times slower (bench/README.md)."""
    result: FloatArray = values @ np.ones(values.shape[1])
    return result


def row_dot(left: FloatArray, right: FloatArray) -> FloatArray:
    """(N,) sums of the rows of left * right, without the (N, K) product."""
    result: FloatArray = np.einsum("ij,ij->i", left, right)
    return result


def row_max(values: FloatArray) -> FloatArray:
    """(N,) maxima of the rows: column by column for many short rows, where numpy's own
    reduction over the last axis is slow, and by that reduction otherwise (a few rows: fewer
    calls; long rows: numpy is fast)."""
    rows, columns = values.shape
    if columns > 32 or rows < 1024:
        result: FloatArray = values.max(axis=1)
        return result
    result = values[:, 0].copy()
    for column in range(1, columns):
        np.maximum(result, values[:, column], out=result)
    return result


class Softmax(NamedTuple):
    """Row-wise softmax pieces from one exp: log_softmax = shifted - log_norm[:, None]."""

    shifted: FloatArray  # (N, K) logits less their row max
    log_norm: FloatArray  # (N,) log of the row sums of exp(shifted)
    probs: FloatArray | None  # (N, K) softmax, when asked for


def softmax(logits: FloatArray, *, probs: bool = True) -> Softmax:
    """Shifting by the row max keeps exp in range (log-sum-exp), and the softmax is the shifted
    exp over its row sum. The log-softmax is left to the caller: a loss that reads it through a
    row product or at one label each spares a pass over (N, K)."""
    shifted: FloatArray = logits - row_max(logits)[:, None]
    exps = np.exp(shifted)
    sums = row_sum(exps)
    log_norm: FloatArray = np.log(sums)
    if not probs:
        return Softmax(shifted, log_norm, None)
    exps /= sums[:, None]
    return Softmax(shifted, log_norm, exps)


def clipped_slope(slope: FloatArray, values: FloatArray, clipped: FloatArray) -> FloatArray:
    """`slope` times 0 where clipping moved a value: the derivative through clip is 0 on the
    clipped side (as torch.clamp's), and clip leaves the values in range as they are. A product,
    not a masked copy, which numpy makes several times slower."""
    slope *= clipped == values
    return slope


def is_zero(values: FloatArray) -> FloatArray:
    """1.0 where values == 0, else 0.0: a step to add where a masked selection would be several
    times slower in numpy (1 standing in for 0 under a log or a division)."""
    return np.equal(values, 0.0, out=np.empty_like(values), casting="unsafe")


def inside(values: FloatArray, low: float, high: float) -> FloatArray:
    """1.0 where low <= values <= high, else 0.0: the derivative of clip (as torch.clamp)."""
    return ((values >= low) & (values <= high)).astype(np.float64)
