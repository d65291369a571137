"""The core's stable building blocks against numpy's and scipy's own functions, to the ulp, and
the losses built on them where their forms cancel (tiny and huge arguments)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from service.losses import evaluate
from service.losses._numerics import (
    binary_logistic,
    log1p,
    log_of_one_minus,
    logistic,
)

rng = np.random.default_rng(7)
# Every scale a loss meets: tiny, near 1, huge; and the values where 1 + x rounds to 1.
SPREAD = np.concatenate(
    [
        10.0 ** rng.uniform(-300, 300, 4000),
        rng.random(4000),
        10.0 ** rng.uniform(-20, 0, 4000),
        [0.0, 5e-324, 1e-17, 1.1e-16, 2.3e-16, 1.0, 2.0],
    ]
)


def ulps(values: np.ndarray, expected: np.ndarray) -> float:
    return float((np.abs(values - expected) / np.spacing(np.abs(expected))).max())


def test_log1p_is_within_an_ulp_of_numpys() -> None:
    # np.log1p is itself within an ulp of the exact value, so two between the two.
    assert ulps(log1p(SPREAD), np.log1p(SPREAD)) <= 2
    below = -np.concatenate([rng.random(4000), 1.0 - 10.0 ** rng.uniform(-16, 0, 4000)])
    assert ulps(log1p(below), np.log1p(below)) <= 2
    assert log1p(np.array([0.0]))[0] == 0.0


def test_log_of_one_minus_is_within_an_ulp_of_numpys() -> None:
    # Probabilities at every scale, and those next to 1 where 1 - x has few bits left.
    fractions = np.concatenate(
        [
            rng.random(4000),
            10.0 ** rng.uniform(-300, 0, 4000),
            1.0 - 10.0 ** rng.uniform(-16, 0, 4000),
        ]
    )
    fractions = fractions[fractions < 1.0]
    assert ulps(log_of_one_minus(fractions, 1.0 - fractions), np.log1p(-fractions)) <= 2


@pytest.mark.parametrize("scale", [1e-8, 1.0, 30.0, 800.0, 1e4])
def test_softplus_and_sigmoid_match_scipy(scale: float) -> None:
    logits = rng.normal(scale=scale, size=4000)
    log_term, probs, negative = logistic(logits)
    np.testing.assert_allclose(log_term, np.log1p(np.exp(-np.abs(logits))), rtol=4e-16, atol=0)
    # atol: below exp(-708) ours are subnormal numbers where scipy's expit gives 0.
    np.testing.assert_allclose(probs, special.expit(logits), rtol=4e-16, atol=1e-300)
    np.testing.assert_allclose(negative, special.expit(-logits), rtol=4e-16, atol=1e-300)
    # softplus(z) = max(z, 0) + log_term, as the losses add them (binary focal on logits).
    softplus = np.maximum(logits, 0.0) + log_term
    np.testing.assert_allclose(softplus, np.logaddexp(0.0, logits), rtol=4e-16, atol=0)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 30.0, 800.0])
@pytest.mark.parametrize("pos_weight", [1.0, 2.5, 0.3])
def test_binary_logistic_matches_scipy(scale: float, pos_weight: float) -> None:
    logits = np.concatenate([rng.normal(scale=scale, size=3000), [0.0, -0.0]])
    # Hard labels, where one side cancels exactly, and soft ones, where neither does.
    labels = np.concatenate([rng.integers(0, 2, 1500), rng.random(1502)])
    values, slope = binary_logistic(logits, labels, pos_weight=pos_weight)
    expected = pos_weight * labels * np.logaddexp(0.0, -logits) + (1.0 - labels) * np.logaddexp(
        0.0, logits
    )
    hard, soft = slice(0, 1500), slice(1500, None)
    np.testing.assert_allclose(values[hard], expected[hard], rtol=1e-15, atol=0)
    # A soft label's linear part, (c t - w y) z with c = w y + 1 - y, is exact to an ulp of c z.
    scale = np.maximum(1.0, pos_weight) * (1.0 + np.abs(logits[soft]))
    np.testing.assert_array_less(
        np.abs(values[soft] - expected[soft]), 4.5e-16 * scale + 1e-15 * expected[soft]
    )
    raised = (1.0 - labels) * special.expit(logits)
    lowered = pos_weight * labels * special.expit(-logits)
    assert slope is not None
    # Hard labels: one term is 0, and the slope is exact to a few ulps however small.
    np.testing.assert_allclose(slope[hard], (raised - lowered)[hard], rtol=1e-15, atol=1e-300)
    # Soft labels: both the slope and the reference are differences of numbers up to 1 or w,
    # exact to a few ulps of those.
    np.testing.assert_allclose(
        slope[soft], (raised - lowered)[soft], rtol=0, atol=4.5e-16 * max(1.0, pos_weight)
    )
    values_only, none = binary_logistic(logits, labels, pos_weight=pos_weight, gradient=False)
    assert none is None
    np.testing.assert_array_equal(values_only, values)


def test_bce_from_logits_keeps_tiny_losses_of_confident_predictions() -> None:
    # Right with logit 40: the loss is log1p(exp(-40)) = 4.2e-18, not 0 by cancellation of z - z.
    logits = np.array([40.0, -40.0, 700.0, 3.0, -3.0])
    labels = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    expected = np.log1p(np.exp(-np.abs(logits)))
    for pos_weight in (1.0, 2.5):
        result = evaluate(
            "bce", logits, labels, from_logits=True, pos_weight=pos_weight, reduction="none"
        )
        weight = np.where(labels == 1.0, pos_weight, 1.0)
        np.testing.assert_allclose(result.losses, weight * expected, rtol=4e-16, atol=0)
        # d/dz = (1 - y) sigmoid(z) - w y sigmoid(-z): -2e-18 for y = 1 and z = 40, not 0.
        slope = (1.0 - labels) * special.expit(logits) - pos_weight * labels * special.expit(
            -logits
        )
        np.testing.assert_allclose(result.gradient, slope, rtol=4e-16, atol=1e-300)


def test_soft_margin_keeps_tiny_losses_and_slopes() -> None:
    scores = np.array([40.0, -40.0, 1e-9, 5.0, -700.0])
    signs = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    result = evaluate("soft_margin", scores, signs, reduction="none")
    margins = signs * scores
    np.testing.assert_allclose(result.losses, np.logaddexp(0.0, -margins), rtol=4e-16, atol=0)
    np.testing.assert_allclose(
        result.gradient, -signs * special.expit(-margins), rtol=4e-16, atol=0
    )


def test_log_cosh_to_the_ulp_at_every_scale() -> None:
    # log cosh r = log1p(2 sinh^2(r / 2)) exactly; sinh is finite up to |r| ~ 1420.
    residual = np.concatenate(
        [10.0 ** rng.uniform(-150, 2.8, 4000), [1e-8, 19.999, 20.0, 20.001, 700.0]]
    )
    residual *= rng.choice([-1.0, 1.0], size=residual.size)
    result = evaluate("log_cosh", residual, np.zeros(residual.size), reduction="none")
    expected = np.log1p(2.0 * np.square(np.sinh(0.5 * residual)))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-15, atol=0)
    # The gradient of the summed losses is tanh(r).
    total = evaluate("log_cosh", residual, np.zeros(residual.size), reduction="sum")
    np.testing.assert_allclose(total.gradient, np.tanh(residual), rtol=1e-15, atol=0)


def test_msle_matches_log1p_of_large_and_tiny_values() -> None:
    predictions = np.array([0.0, 1e-17, 3e-9, 1.0, 1e300])
    targets = np.array([1e-300, 0.0, 2e-9, 1e6, 1e299])
    result = evaluate("msle", predictions, targets, reduction="none")
    gap = np.log1p(predictions) - np.log1p(targets)
    np.testing.assert_allclose(result.losses, gap**2, rtol=1e-15, atol=0)
