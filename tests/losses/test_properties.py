"""Properties every registered loss must have, checked over the registry's cases.

Dtypes are computed in float64; a perfect prediction scores the loss's minimum; extreme inputs
stay finite; reductions, aggregates, groups and NaN omission agree with each other; and random
input, valid or not, only ever raises the documented `LossError`s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    Array,
    Case,
    Inputs,
    all_cases,
    params_of,
    prediction_kind,
    sample_weight,
    target_kind,
)

from service.losses import (
    LOSSES,
    REDUCTIONS,
    LossError,
    LossResult,
    UnknownLossError,
    evaluate,
    evaluate_many,
    get_loss,
    loss_names,
)

ALL_CASES = all_cases()
DEFAULT_CASES = all_cases(all_settings=False)
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _score(case: Case, inputs: Inputs, **options: Any) -> LossResult:
    return evaluate(case.name, inputs.predictions, inputs.targets, **inputs.params, **options)


def _assert_finite(result: LossResult) -> None:
    for name in ("value", "loss_sum", "weight_sum", "penalty", "cost"):
        number = getattr(result, name)
        assert number is None or np.isfinite(number), name
    for name in ("losses", "gradient", "per_output", "weights_gradient"):
        array = getattr(result, name)
        assert array is None or np.isfinite(array).all(), name


def _assert_same(result: LossResult, expected: LossResult) -> None:
    """Bit-identical: the same float64 computation on the same float64 values."""
    assert result.value == expected.value
    assert result.loss_sum == expected.loss_sum
    for name in ("losses", "gradient", "per_output"):
        got, want = getattr(result, name), getattr(expected, name)
        assert (got is None) == (want is None), name
        if got is not None:
            assert got.dtype == np.float64, name
            np.testing.assert_array_equal(got, want, err_msg=name)


# ------------------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("case", params_of(ALL_CASES))
def test_float32_input_is_computed_in_float64(case: Case) -> None:
    inputs = case.draw()
    predictions = inputs.predictions.astype(np.float32)
    targets = inputs.targets.astype(np.float32)
    weights = sample_weight(np.random.default_rng(case.seed), len(targets)).astype(np.float32)
    for reduction in case.spec.reductions:
        options = {"reduction": reduction, **inputs.params}
        got = evaluate(case.name, predictions, targets, sample_weight=weights, **options)
        want = evaluate(
            case.name,
            predictions.astype(np.float64),
            targets.astype(np.float64),
            sample_weight=weights.astype(np.float64),
            **options,
        )
        _assert_same(got, want)


def _integer_form(case: Case) -> tuple[Array | None, Array | None]:
    """Int versions of the case's arrays where integers are valid input (None where not)."""
    inputs = case.draw()
    forms: list[Array | None] = []
    for array, kind, dtype in (
        (inputs.predictions, prediction_kind(case.spec), np.int32),
        (inputs.targets, target_kind(case.spec), np.int64),
    ):
        if np.array_equal(array, np.round(array)):
            forms.append(array.astype(dtype))
        elif kind.integral(inputs.params):
            forms.append(np.round(array).astype(dtype))
        else:
            forms.append(None)
    return forms[0], forms[1]


INTEGER_CASES = [
    case for case in ALL_CASES if any(form is not None for form in _integer_form(case))
]


@pytest.mark.parametrize("case", params_of(INTEGER_CASES))
def test_integer_input_is_computed_in_float64(case: Case) -> None:
    inputs = case.draw()
    int_predictions, int_targets = _integer_form(case)
    predictions = inputs.predictions if int_predictions is None else int_predictions
    targets = inputs.targets if int_targets is None else int_targets
    options = dict(inputs.params)
    got = evaluate(case.name, predictions, targets, sample_weight=[2] * len(targets), **options)
    want = evaluate(
        case.name,
        np.asarray(predictions, dtype=np.float64),
        np.asarray(targets, dtype=np.float64),
        sample_weight=np.full(len(targets), 2.0),
        **options,
    )
    _assert_same(got, want)


def test_integer_cases_cover_labels_and_regression() -> None:
    # The integer form is not vacuous: labels, one-hot rows and real values all get one.
    covered = {case.name for case in INTEGER_CASES}
    expected = {"mean_squared_error", "poisson", "hinge", "zero_one", "categorical_hinge"}
    expected |= {"sparse_categorical_cross_entropy", "categorical_cross_entropy", "dice"}
    assert expected <= covered


# ------------------------------------------------------------------------------ minimum


def _zero(targets: Array, params: Mapping[str, Any]) -> Array:
    return np.zeros(targets.shape[0])


def _per_sample(elementwise: Array) -> Array:
    """(N,) as it is, (N, K) as the row mean: the contract's per-sample loss."""
    return elementwise if elementwise.ndim == 1 else elementwise.mean(axis=1)


def _xlogx(values: Array) -> Array:
    positive = values > 0
    return np.where(positive, values * np.log(np.where(positive, values, 1.0)), 0.0)


def _binary_entropy(targets: Array, params: Mapping[str, Any]) -> Array:
    # -(y log p + (1 - y) log(1 - p)) is minimised over p at p = y (Gibbs' inequality), where it
    # equals the binary entropy of y: 0 for hard labels.
    return _per_sample(-(_xlogx(targets) + _xlogx(1.0 - targets)))


def _row_entropy(targets: Array, params: Mapping[str, Any]) -> Array:
    # -sum_c y_c log p_c over the simplex is minimised at p = y (Gibbs), where it is the entropy.
    return -_xlogx(targets).sum(axis=1)


def _poisson_minimum(targets: Array, params: Mapping[str, Any]) -> Array:
    # d/dp (p - y log(p + eps)) = 1 - y / (p + eps) = 0 at p* = y - eps (or p* = 0 when y < eps):
    # the minimum is p* - y log(p* + eps), about y - y log y, not 0.
    eps = params.get("eps", 1e-7)
    best = np.maximum(targets - eps, 0.0)
    return _per_sample(best - targets * np.log(best + eps))


def _same(inputs: Inputs, case: Case) -> Array:
    return inputs.targets.copy()


def _scaled(inputs: Inputs, case: Case) -> Array:
    return 2.5 * inputs.targets  # cosine ignores the length of the prediction


def _signed(inputs: Inputs, case: Case) -> Array:
    targets = inputs.targets
    return 2.0 * targets - 1.0 if not (targets == -1.0).any() else targets.copy()


def _one_hot_of_labels(inputs: Inputs, case: Case) -> Array:
    if inputs.targets.ndim == inputs.predictions.ndim:
        return inputs.targets.copy()
    return np.eye(inputs.predictions.shape[1])[inputs.targets.astype(int)]


@dataclass(frozen=True)
class Minimum:
    """A loss's perfect prediction for given targets and the per-sample loss it scores, which no
    prediction beats. `variants`: the target variants for which that holds (None: all)."""

    perfect: Callable[[Inputs, Case], Array]
    value: Callable[[Array, Mapping[str, Any]], Array] = _zero
    variants: tuple[str, ...] | None = None


MINIMA: dict[str, Minimum] = {
    "mean_squared_error": Minimum(_same),
    "mean_absolute_error": Minimum(_same),
    "root_mean_squared_error": Minimum(_same),
    "huber": Minimum(_same),
    "smooth_l1": Minimum(_same),
    "quantile": Minimum(_same),
    "log_cosh": Minimum(_same),
    "mean_squared_logarithmic_error": Minimum(_same),
    "mean_absolute_percentage_error": Minimum(_same),
    "poisson": Minimum(_same, _poisson_minimum),
    "cosine_similarity": Minimum(_scaled),
    "binary_cross_entropy": Minimum(_same, _binary_entropy),
    # With soft labels the focal term moves the minimiser away from p = y: hard labels only.
    "binary_focal_cross_entropy": Minimum(_same, variants=("hard",)),
    "hinge": Minimum(_signed),
    "squared_hinge": Minimum(_signed),
    "categorical_hinge": Minimum(_same),
    "zero_one": Minimum(_one_hot_of_labels),
    "categorical_cross_entropy": Minimum(_same, _row_entropy),
    "sparse_categorical_cross_entropy": Minimum(_one_hot_of_labels),
    "kl_divergence": Minimum(_same),
    "js_divergence": Minimum(_same),
    # Soft Dice is not minimised at p = y for soft labels (y = 0.5 alone: p = 1 scores 1/3,
    # p = 0.5 scores 1/2): hard labels only.
    "dice": Minimum(_same, variants=("hard",)),
}

# Hard labels at p = y sit on the eps clip: -log(1 - eps) is about 1e-7, not 0.
MINIMUM_ATOL = 1e-6


def test_every_loss_states_its_minimum() -> None:
    assert set(MINIMA) == set(LOSSES), "add the new loss's perfect prediction to MINIMA"


MINIMUM_CASES = [
    case
    for case in DEFAULT_CASES
    if case.name in MINIMA
    and (MINIMA[case.name].variants is None or case.variant in MINIMA[case.name].variants)
]


@pytest.mark.parametrize("case", params_of(MINIMUM_CASES))
def test_perfect_prediction_scores_the_minimum(case: Case) -> None:
    minimum = MINIMA[case.name]
    inputs = case.draw()
    perfect = Inputs(minimum.perfect(inputs, case), inputs.targets, inputs.params)
    expected = minimum.value(inputs.targets, inputs.params)
    result = _score(case, perfect, reduction="mean")
    value = float(expected.mean())
    if case.spec.sqrt_of_mean:
        value = float(np.sqrt(value))
    assert result.value == pytest.approx(value, abs=MINIMUM_ATOL)
    if "none" in case.spec.reductions:
        losses = _score(case, perfect, reduction="none").losses
        np.testing.assert_allclose(losses, expected, rtol=0, atol=MINIMUM_ATOL)


@pytest.mark.parametrize(
    ("name", "predictions", "targets", "expected"),
    [
        # Poisson at p = y = 4: 4 - 4 log 4, negative, and below its value at p = 3 or 5.
        ("poisson", [4.0], [4.0], 4.0 - 4.0 * np.log(4.0)),
        # CCE with soft targets at p = y: the entropy, here of (1/2, 1/4, 1/4) = 1.5 log 2.
        ("cce", [[0.5, 0.25, 0.25]], [[0.5, 0.25, 0.25]], 1.5 * np.log(2.0)),
        # BCE with a soft label y = 1/2 at p = 1/2: log 2.
        ("bce", [0.5], [0.5], np.log(2.0)),
    ],
)
def test_minimum_that_is_not_zero(
    name: str, predictions: list[Any], targets: list[Any], expected: float
) -> None:
    assert evaluate(name, predictions, targets).value == pytest.approx(expected, rel=1e-6)


@HYPOTHESIS
@given(
    case=st.sampled_from(MINIMUM_CASES),
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 8),
    classes=st.integers(2, 5),
    mix=st.floats(0.0, 1.0),
)
def test_no_prediction_beats_the_minimum(
    case: Case, seed: int, samples: int, classes: int, mix: float
) -> None:
    minimum = MINIMA[case.name]
    inputs = case.draw(seed, samples=samples, classes=classes)
    perfect = minimum.perfect(inputs, case)
    # Any valid prediction, and any point between it and the perfect one (the domains are convex).
    for predictions in (inputs.predictions, (1.0 - mix) * perfect + mix * inputs.predictions):
        candidate = Inputs(predictions, inputs.targets, inputs.params)
        reduction = "none" if "none" in case.spec.reductions else "mean"
        result = _score(case, candidate, reduction=reduction)
        expected = minimum.value(inputs.targets, inputs.params)
        if result.losses is not None:
            assert (result.losses >= expected - 1e-9).all()
        else:
            assert result.value is not None
            assert result.value >= np.sqrt(expected.mean()) - 1e-9


# ------------------------------------------------------------------------------ extremes


@pytest.mark.parametrize("case", params_of(ALL_CASES))
def test_extreme_inputs_stay_finite(case: Case) -> None:
    # Probabilities exactly 0 and 1, logits and scores of +-1e4, zero counts and zero vectors.
    inputs = case.draw(extreme=True)
    for reduction in case.spec.reductions:
        result = _score(case, inputs, reduction=reduction)
        _assert_finite(result)
        if case.spec.differentiable:
            assert result.gradient is not None


@pytest.mark.parametrize(
    ("name", "predictions", "targets", "params", "expected", "gradient"),
    [
        # softplus(1e4) = 1e4 exactly in float64; d/dz = sigmoid(z) - y.
        ("bce", [1e4, -1e4], [0.0, 1.0], {"from_logits": True}, 1e4, [0.5, -0.5]),
        ("bce", [1e4, -1e4], [1.0, 0.0], {"from_logits": True}, 0.0, [0.0, 0.0]),
        # log-softmax of (1e4, -1e4) at the second class is -2e4.
        ("cce", [[1e4, -1e4]], [[0.0, 1.0]], {"from_logits": True}, 2e4, [[1.0, -1.0]]),
        ("sparse_cce", [[1e4, -1e4]], [1], {"from_logits": True}, 2e4, [[1.0, -1.0]]),
        ("kl", [[1e4, -1e4]], [[0.0, 1.0]], {"from_logits": True}, 2e4, [[1.0, -1.0]]),
        # -log(eps) with p = 0 clipped to eps = 1e-7, gradient 0 on the clipped side.
        ("bce", [0.0], [1.0], {}, -np.log(1e-7), [0.0]),
        # log cosh(r) ~ |r| - log 2 for large |r|; its derivative tanh(r) ~ sign(r).
        ("log_cosh", [1e4, -1e4], [0.0, 0.0], {}, 1e4 - np.log(2.0), [0.5, -0.5]),
    ],
)
def test_extreme_values_are_exact(
    name: str,
    predictions: list[Any],
    targets: list[Any],
    params: dict[str, Any],
    expected: float,
    gradient: list[Any],
) -> None:
    result = evaluate(name, predictions, targets, **params)
    assert result.value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(result.gradient, gradient, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------ reductions


@pytest.mark.parametrize("case", params_of(ALL_CASES))
def test_reductions_agree(case: Case) -> None:
    inputs = case.draw()
    weights = sample_weight(np.random.default_rng(case.seed), len(inputs.targets))
    results = {
        reduction: _score(case, inputs, sample_weight=weights, reduction=reduction)
        for reduction in case.spec.reductions
    }
    mean = results["mean"]
    weight_sum = float(weights.sum())
    ignored = 0
    if inputs.params.get("ignore_index") is not None:
        ignored_rows = inputs.targets == inputs.params["ignore_index"]
        weight_sum = float(weights[~ignored_rows].sum())
        ignored = int(ignored_rows.sum())
    assert mean.weight_sum == pytest.approx(weight_sum, rel=1e-12)
    assert mean.count == len(inputs.targets) - ignored
    assert mean.value is not None
    if case.spec.sqrt_of_mean:
        assert mean.value**2 * weight_sum == pytest.approx(mean.loss_sum, rel=1e-12)
        assert set(results) == {"mean"}
        return
    assert mean.value * weight_sum == pytest.approx(mean.loss_sum, rel=1e-12, abs=1e-15)
    total, each = results["sum"], results["none"]
    assert total.value == pytest.approx(mean.loss_sum, rel=1e-12, abs=1e-15)
    assert each.value is None
    assert each.losses is not None
    assert each.losses.sum() == pytest.approx(mean.loss_sum, rel=1e-12, abs=1e-15)
    # `none` holds w_i l_i: the unweighted per-sample losses times their weights.
    plain = _score(case, inputs, reduction="none").losses
    assert plain is not None
    np.testing.assert_allclose(each.losses, weights * plain, rtol=1e-12, atol=0)
    # Unweighted mean: the plain average of the per-sample losses (of the samples counted).
    counted = _score(case, inputs, reduction="mean")
    assert counted.value == pytest.approx(plain.sum() / counted.count, rel=1e-12, abs=1e-15)
    if case.spec.differentiable:
        assert mean.gradient is not None
        # sum and none both differentiate sum_i w_i l_i; mean divides it by sum_i w_i.
        np.testing.assert_allclose(total.gradient, mean.gradient * weight_sum, rtol=1e-12)
        np.testing.assert_array_equal(each.gradient, total.gradient)


@pytest.mark.parametrize("case", params_of([case for case in DEFAULT_CASES if case.ndim == 2]))
def test_per_output_is_each_column_reduced(case: Case) -> None:
    inputs = case.draw()
    weights = sample_weight(np.random.default_rng(case.seed), len(inputs.targets))
    for reduction in case.spec.reductions:
        result = _score(case, inputs, sample_weight=weights, reduction=reduction)
        if not case.spec.per_output or reduction == "none":
            assert result.per_output is None
            continue
        assert result.per_output is not None
        columns = [
            evaluate(
                case.name,
                inputs.predictions[:, column],
                inputs.targets[:, column],
                sample_weight=weights,
                reduction=reduction,
                **inputs.params,
            ).value
            for column in range(inputs.predictions.shape[1])
        ]
        np.testing.assert_allclose(result.per_output, columns, rtol=1e-12)


# ------------------------------------------------------------------------------ aggregates


@pytest.mark.parametrize("case", params_of(ALL_CASES))
def test_halves_merge_into_the_whole(case: Case) -> None:
    inputs = case.draw(samples=7)
    weights = sample_weight(np.random.default_rng(case.seed), 7)
    half = 3
    whole = _score(case, inputs, sample_weight=weights)
    reduction = "sum" if "sum" in case.spec.reductions else "mean"
    parts = [
        evaluate(
            case.name,
            inputs.predictions[rows],
            inputs.targets[rows],
            sample_weight=weights[rows],
            reduction=reduction,
            **inputs.params,
        )
        for rows in (slice(None, half), slice(half, None))
    ]
    loss_sum = sum(part.loss_sum for part in parts)
    weight_sum = sum(part.weight_sum for part in parts)
    assert sum(part.count for part in parts) == whole.count
    assert weight_sum == pytest.approx(whole.weight_sum, rel=1e-12)
    assert loss_sum == pytest.approx(whole.loss_sum, rel=1e-12, abs=1e-15)
    merged = loss_sum / weight_sum
    if case.spec.sqrt_of_mean:
        merged = float(np.sqrt(merged))
    assert whole.value == pytest.approx(merged, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("keys", ["int", "str"])
@pytest.mark.parametrize("case", params_of(DEFAULT_CASES))
def test_groups_are_the_subsets_scored_alone(case: Case, keys: str) -> None:
    samples = 9
    inputs = case.draw(samples=samples)
    rng = np.random.default_rng(case.seed)
    weights = rng.uniform(0.5, 2.0, samples)
    codes = rng.integers(0, 3, samples)
    codes[:3] = [0, 1, 2]  # every key present
    group_by = codes if keys == "int" else np.array(["eu", "us", "asia"])[codes]
    for reduction in case.spec.reductions:
        result = _score(case, inputs, sample_weight=weights, group_by=group_by, reduction=reduction)
        assert result.groups is not None
        assert sorted(group.key for group in result.groups) == sorted(set(group_by.tolist()))
        for group in result.groups:
            rows = group_by == group.key
            alone = evaluate(
                case.name,
                inputs.predictions[rows],
                inputs.targets[rows],
                sample_weight=weights[rows],
                reduction=reduction,
                **inputs.params,
            )
            assert group.count == alone.count == rows.sum()
            assert group.weight_sum == pytest.approx(alone.weight_sum, rel=1e-12)
            assert group.loss_sum == pytest.approx(alone.loss_sum, rel=1e-12, abs=1e-15)
            if reduction == "none":
                assert group.value == pytest.approx(alone.loss_sum / alone.weight_sum)
            else:
                assert group.value == pytest.approx(alone.value, rel=1e-12, abs=1e-15)
        assert sum(group.loss_sum for group in result.groups) == pytest.approx(
            result.loss_sum, rel=1e-12, abs=1e-15
        )
        assert sum(group.count for group in result.groups) == result.count


# ------------------------------------------------------------------------------ NaN omission


@pytest.mark.parametrize("case", params_of(ALL_CASES))
def test_nan_policy_omit_drops_exactly_the_nan_samples(case: Case) -> None:
    samples = 8
    inputs = case.draw(samples=samples)
    weights = np.random.default_rng(case.seed).uniform(0.5, 2.0, samples)
    predictions, targets = inputs.predictions.copy(), inputs.targets.copy()
    predictions[2] = np.nan  # a whole row
    targets.flat[targets[0].size * 4] = np.nan  # the first element of sample 4
    weights[6] = np.nan
    dropped = np.isin(np.arange(samples), [2, 4, 6])
    kept = ~dropped
    for reduction in case.spec.reductions:
        options = {"reduction": reduction, **inputs.params}
        result = evaluate(
            case.name, predictions, targets, sample_weight=weights, nan_policy="omit", **options
        )
        alone = evaluate(
            case.name,
            predictions[kept],
            targets[kept],
            sample_weight=weights[kept],
            **options,
        )
        assert result.omitted == 3
        assert result.count == alone.count
        assert result.value == alone.value
        assert result.loss_sum == alone.loss_sum
        if result.losses is not None:
            assert alone.losses is not None
            np.testing.assert_array_equal(result.losses[kept], alone.losses)
            assert not result.losses[dropped].any()
        if case.spec.differentiable:
            assert result.gradient is not None
            assert alone.gradient is not None
            assert result.gradient.shape == predictions.shape
            np.testing.assert_array_equal(result.gradient[kept], alone.gradient)
            assert not result.gradient[dropped].any()


# ------------------------------------------------------------------------------ other


@pytest.mark.parametrize("case", params_of(DEFAULT_CASES))
def test_inputs_are_not_modified(case: Case) -> None:
    inputs = case.draw()
    predictions, targets = inputs.predictions.copy(), inputs.targets.copy()
    weights = np.ones(len(targets))
    for reduction in case.spec.reductions:
        _score(case, inputs, sample_weight=weights, reduction=reduction)
    np.testing.assert_array_equal(inputs.predictions, predictions)
    np.testing.assert_array_equal(inputs.targets, targets)
    np.testing.assert_array_equal(weights, 1.0)


def test_evaluate_many_total_is_the_weighted_sum() -> None:
    rng = np.random.default_rng(7)
    predictions = rng.uniform(0.05, 0.95, (6, 3))
    targets = rng.integers(0, 2, (6, 3)).astype(np.float64)
    composite = evaluate_many(
        [{"name": "bce", "weight": 0.7}, {"name": "dice", "weight": 0.3, "smooth": 1.0}],
        predictions,
        targets,
    )
    bce = evaluate("bce", predictions, targets)
    dice = evaluate("dice", predictions, targets, smooth=1.0)
    assert bce.value is not None
    assert dice.value is not None
    assert bce.gradient is not None
    assert dice.gradient is not None
    assert composite.total.value == pytest.approx(0.7 * bce.value + 0.3 * dice.value)
    np.testing.assert_allclose(composite.total.gradient, 0.7 * bce.gradient + 0.3 * dice.gradient)
    assert [result.loss for result in composite.results] == [
        "binary_cross_entropy",
        "dice",
    ]


# ------------------------------------------------------------------------------ hypothesis


@HYPOTHESIS
@given(
    case=st.sampled_from(ALL_CASES),
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 8),
    classes=st.integers(2, 5),
    weighted=st.booleans(),
)
def test_valid_random_inputs_always_score(
    case: Case, seed: int, samples: int, classes: int, weighted: bool
) -> None:
    inputs = case.draw(seed, samples=samples, classes=classes)
    weights = np.random.default_rng(seed).uniform(0.1, 3.0, samples) if weighted else None
    for reduction in case.spec.reductions:
        result = _score(case, inputs, sample_weight=weights, reduction=reduction)
        _assert_finite(result)
        assert (result.value is None) == (reduction == "none")
        if case.spec.differentiable:
            assert result.gradient is not None
            assert result.gradient.shape == inputs.predictions.shape


ODD_VALUES = [0.0, 1.0, -1.0, 0.5, 2.0, 3.0, -100.0, 1e-300, 1e4, -1e4, 1e200, -1e200, 1.7e308]
ODD_VALUES += [float("nan"), float("inf"), float("-inf")]
# The odd values float32 holds exactly (1e-300 and 1e200 it does not).
ODD_FLOAT32 = [value for value in ODD_VALUES if not 0 < abs(value) < 1e-30 and abs(value) < 1e30]
ODD_OBJECTS = [[], [[1.0], [1.0, 2.0]], "abc", None, [["a", "b"]], [1 + 2j], {"a": 1}, [None, 1.0]]


SHAPES = st.one_of(
    st.tuples(st.integers(1, 5)),
    st.tuples(st.integers(1, 5), st.integers(1, 4)),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
PLAIN_VALUES = st.sampled_from([0.0, 1.0, 0.0, 1.0, 0.5, 0.25, -1.0, 2.0])


@st.composite
def arrays(draw: st.DrawFn, shape: tuple[int, ...] | None = None) -> Any:
    """Any array: every real dtype, odd values and shapes, now and then not an array at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(ODD_OBJECTS))
    if shape is None:
        shape = draw(SHAPES)
    dtype = draw(st.sampled_from(["float64", "float64", "float32", "int64", "int32", "bool"]))
    elements: st.SearchStrategy[Any]
    if dtype == "bool":
        elements = st.booleans()
    elif dtype.startswith("int"):
        elements = st.one_of(st.integers(-1, 3), st.integers(-101, 5))
    else:
        width = 32 if dtype == "float32" else 64
        odd = ODD_FLOAT32 if width == 32 else ODD_VALUES
        elements = st.one_of(
            PLAIN_VALUES, PLAIN_VALUES, st.sampled_from(odd), st.floats(width=width)
        )
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))


PARAM_VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, 1, 2, 3, -100, 0.0, 0.25, 0.5, 1.0, -1.0, 1e308]),
    st.sampled_from([float("nan"), "x", [], [1.0], [1.0, 2.0, 3.0], [1.0, -1.0, 2.0], ["a"]]),
    st.floats(),
)


@HYPOTHESIS
@given(data=st.data())
def test_any_input_raises_only_loss_errors(data: st.DataObject) -> None:
    known = data.draw(st.integers(0, 9), label="known name") > 0
    names = st.sampled_from(loss_names(aliases=True)) if known else st.text(max_size=12)
    name = data.draw(names, label="name")
    predictions = data.draw(arrays(), label="predictions")
    shape = np.shape(predictions) if isinstance(predictions, np.ndarray) else None
    target_shape = data.draw(
        st.sampled_from([shape, shape, shape[:1] if shape else shape, None]), label="target shape"
    )
    targets = data.draw(arrays(target_shape), label="targets")
    samples = shape[:1] if shape else (3,)
    options: dict[str, Any] = {
        "reduction": data.draw(st.sampled_from([*REDUCTIONS, "mean", "median"])),
        "gradient": data.draw(st.booleans()),
        "nan_policy": data.draw(st.sampled_from(["raise", "omit", "omit", "ignore"])),
        "sample_weight": data.draw(
            st.none() | arrays(data.draw(st.sampled_from([samples, samples, None])))
        ),
        "group_by": data.draw(
            st.none() | hnp.arrays(np.int64, samples, elements=st.integers(0, 2))
        ),
    }
    try:
        declared = [param.name for param in get_loss(name).params]
    except UnknownLossError:
        declared = []
    chosen = st.lists(st.sampled_from([*declared, *declared, "bogus"]), max_size=2, unique=True)
    for param in data.draw(chosen, label="parameters"):
        options[param] = data.draw(PARAM_VALUES, label=param)
    raised: LossError | None = None
    try:
        result = evaluate(name, predictions, targets, **options)
    except LossError as error:  # anything else fails the test
        raised = error
    if raised is not None:
        assert isinstance(raised, ValueError)
        assert raised.message
        return
    _assert_finite(result)
    assert result.count >= 1
