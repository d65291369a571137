"""Every differentiable loss's gradient against central finite differences, over the registry.

The contract: the gradient is the derivative of the returned value (for `none`, of
sum_i w_i l_i) with respect to every element of `predictions` (the logits with from_logits);
0 at kinks and on the clipped side of a clip. Inputs are drawn away from kinks and clips (see
strategies.py), so there the finite difference is the derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from strategies import Array, Case, all_cases, params_of, sample_weight

from service.losses import LOSSES, evaluate

DIFFERENTIABLE = all_cases(where=lambda spec: spec.differentiable)
RELATIVE_STEP = 1e-6


def _objective(case: Case, predictions: Array, targets: Array, **options: Any) -> float:
    """The scalar whose derivative the gradient is: the value, or the sum of `none` losses."""
    result = evaluate(case.name, predictions, targets, gradient=False, **options)
    if result.value is not None:
        return result.value
    assert result.losses is not None
    return float(result.losses.sum())


def _central_differences(case: Case, predictions: Array, targets: Array, **options: Any) -> Array:
    numeric = np.zeros_like(predictions)
    for index in np.ndindex(predictions.shape):
        step = RELATIVE_STEP * max(1.0, abs(float(predictions[index])))
        up, down = predictions.copy(), predictions.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (
            _objective(case, up, targets, **options) - _objective(case, down, targets, **options)
        ) / (2.0 * step)
    return numeric


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", params_of(DIFFERENTIABLE))
def test_gradient_matches_central_differences(case: Case, weighted: bool) -> None:
    inputs = case.draw()
    rng = np.random.default_rng(case.seed + 1)
    weights = sample_weight(rng, inputs.predictions.shape[0]) if weighted else None
    for reduction in case.spec.reductions:
        options = {"sample_weight": weights, "reduction": reduction, **inputs.params}
        result = evaluate(case.name, inputs.predictions, inputs.targets, **options)
        assert result.gradient is not None
        assert result.gradient.shape == inputs.predictions.shape
        assert result.gradient.dtype == np.float64
        numeric = _central_differences(case, inputs.predictions, inputs.targets, **options)
        scale = max(1.0, float(np.abs(numeric).max()))
        np.testing.assert_allclose(
            result.gradient, numeric, rtol=1e-5, atol=1e-6 * scale, err_msg=reduction
        )
        if weights is not None:
            # A sample of weight 0 contributes nothing, so its gradient row is exactly 0.
            assert not result.gradient[-1].any()


def test_every_differentiable_loss_has_gradient_cases() -> None:
    tested = {case.name for case in DIFFERENTIABLE}
    assert tested == {name for name, spec in LOSSES.items() if spec.differentiable}


@pytest.mark.parametrize(
    "case", params_of(all_cases(all_settings=False, where=lambda spec: not spec.differentiable))
)
def test_non_differentiable_loss_has_no_gradient(case: Case) -> None:
    inputs = case.draw()
    for reduction in case.spec.reductions:
        result = evaluate(
            case.name, inputs.predictions, inputs.targets, reduction=reduction, **inputs.params
        )
        assert result.gradient is None


def test_zero_one_is_not_differentiable() -> None:
    assert not LOSSES["zero_one"].differentiable
    result = evaluate("zero_one", [0.2, 0.7], [0, 1], gradient=True)
    assert result.gradient is None
    assert result.value == 0.0


@pytest.mark.parametrize("case", params_of(all_cases(all_settings=False)))
def test_no_gradient_when_not_asked(case: Case) -> None:
    inputs = case.draw()
    result = evaluate(case.name, inputs.predictions, inputs.targets, gradient=False)
    assert result.gradient is None
    assert result.value is not None


# Kinks and clips: the contract fixes the gradient there (0, as PyTorch's abs, relu and clamp),
# where a finite difference would give the mean of the two one-sided slopes.


@pytest.mark.parametrize(
    ("name", "predictions", "targets", "expected"),
    [
        # |r| at r = 0.
        ("mae", [1.0, 2.0], [1.0, 3.0], [0.0, -0.5]),
        # max(q (y - p), (q - 1)(y - p)) at y = p.
        ("quantile", [1.0, 2.0], [1.0, 3.0], [0.0, -0.25]),
        # |r| / |y| at r = 0.
        ("mape", [2.0, 2.0], [2.0, 4.0], [0.0, -0.125]),
        # max(0, 1 - y p) at the margin y p = 1, and beyond it.
        ("hinge", [1.0, -1.0, 3.0, 0.0], [1.0, -1.0, 1.0, 1.0], [0.0, 0.0, 0.0, -0.25]),
        ("squared_hinge", [1.0, 0.0], [1.0, 1.0], [0.0, -1.0]),
        # Probabilities exactly 0 and 1 lie on the clipped side of [eps, 1 - eps].
        ("bce", [0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]),
        ("binary_focal", [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]),
    ],
)
def test_gradient_at_kinks_and_clips(
    name: str, predictions: list[float], targets: list[float], expected: list[float]
) -> None:
    result = evaluate(name, predictions, targets)
    assert result.gradient is not None
    np.testing.assert_allclose(result.gradient, expected, rtol=1e-12, atol=1e-15)


def test_rmse_gradient_at_a_perfect_prediction_is_zero() -> None:
    # sqrt(m) at m = 0: a kink, so 0 rather than 0 / 0.
    result = evaluate("rmse", [1.0, 2.0], [1.0, 2.0])
    assert result.value == 0.0
    assert result.gradient is not None
    assert not result.gradient.any()


def test_categorical_hinge_gradient_at_a_tie_for_the_best_wrong_class() -> None:
    # Classes 1 and 2 tie for the best wrong score: the max has a kink there (gradient 0), while
    # the true class's score still moves the margin one for one.
    result = evaluate("categorical_hinge", [[0.5, 0.2, 0.2]], [[1.0, 0.0, 0.0]])
    assert result.value == pytest.approx(0.7)
    assert result.gradient is not None
    np.testing.assert_array_equal(result.gradient, [[-1.0, 0.0, 0.0]])


@pytest.mark.parametrize("name", ["cce", "sparse_cce", "kl"])
def test_clipped_class_probabilities_have_zero_gradient(name: str) -> None:
    predictions = [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]
    targets = [0.0, 0.0] if name == "sparse_cce" else [[1.0, 0.0, 0.0], [0.5, 0.0, 0.5]]
    result = evaluate(name, predictions, targets)
    assert result.gradient is not None
    # p = 1 and p = 0 are outside [eps, 1 - eps] (KL: p = 0 outside [eps, 1]), so 0 there.
    assert result.gradient[1, 0] == 0.0
    if name != "kl":
        assert result.gradient[0, 0] == 0.0
    assert np.isfinite(result.gradient).all()


@pytest.mark.parametrize("small", [1e-9, 1e-12, 1e-300])
def test_js_gradient_is_exact_near_zero_probabilities(small: float) -> None:
    # d/dp_k of (p log(p/m) + y log(y/m)) / 2 with m = (p + y) / 2 is log(p_k / m_k) / 2: the
    # p / (2m) and y / (2m) terms cancel the +1. Exact for every p_k > 0, however small.
    predictions = np.array([[small, 1.0 - small], [small, 1.0 - small]])
    targets = np.array([[0.5, 0.5], [0.0, 1.0]])
    result = evaluate("js_divergence", predictions, targets, reduction="sum")
    middle = 0.5 * (predictions + targets)
    expected = 0.5 * np.log(predictions / middle)
    np.testing.assert_allclose(result.gradient, expected, rtol=1e-12, atol=1e-15)


def test_js_gradient_at_zero_probability_is_finite() -> None:
    # At p_k = 0 the one-sided derivative is -infinity (y_k > 0) or log 2 / 2 (y_k = 0).
    result = evaluate("js_divergence", [[0.0, 1.0], [0.0, 1.0]], [[0.5, 0.5], [0.0, 1.0]])
    assert result.gradient is not None
    assert np.isfinite(result.gradient).all()
    assert result.gradient[0, 0] < result.gradient[0, 1]
    assert result.gradient[1, 0] == pytest.approx(0.25 * np.log(2.0))
