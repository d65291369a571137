"""Properties every registered loss must have, checked over the registry's cases.

Dtypes are computed in float64; a perfect prediction scores the loss's minimum; extreme inputs
stay finite; reductions, aggregates, groups and NaN omission agree with each other; and random
input, valid or not, only ever raises the documented `LossError`s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    EXTREME,
    Array,
    Case,
    Inputs,
    all_cases,
    params_of,
    sample_weight,
)

from service.losses import (
    REDUCTIONS,
    LossError,
    LossResult,
    UnknownLossError,
    evaluate,
    evaluate_many,
    get_loss,
    loss_names,
)
from service.losses.domains import Labels, Signs

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
    for array, role, dtype in (
        (inputs.predictions, "predictions", np.int32),
        (inputs.targets, "targets", np.int64),
    ):
        if np.array_equal(array, np.round(array)):
            forms.append(array.astype(dtype))
        elif case.kind(role).integral:
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


def test_integer_cases_cover_every_kind_of_domain() -> None:
    # The integer form is not vacuous: labels, one-hot rows, signs and real values all get one.
    covered = {type(case.domain(role)).__name__ for case in INTEGER_CASES for role in ROLES}
    assert {"Interval", "Labels", "OneHotRows", "Signs", "ValuesIn"} <= covered


# ------------------------------------------------------------------------------ minimum

ROLES = ("predictions", "targets")
# Hard labels at p = y sit on the eps clip: -log(1 - eps) is about 1e-7, not 0.
MINIMUM_ATOL = 1e-6


def _perfect(case: Case, inputs: Inputs) -> Array:
    """The prediction no other beats, from the targets' domain: the targets themselves; one-hot
    rows of label targets; scores far past the margin on the targets' side for sign targets."""
    targets = inputs.targets
    domain = case.domain("targets")
    if isinstance(domain, Labels):
        return np.eye(inputs.predictions.shape[1])[targets.astype(int)]
    if isinstance(domain, Signs):
        signs = 2.0 * targets - 1.0 if not (targets == -1.0).any() else targets
        return EXTREME * signs
    return targets.copy()


# Soft labels move the minimiser of focal, Dice and Tversky away from p = y, and make the
# minimum of the cross-entropies the targets' entropy: the exact minimum is checked on hard ones.
MINIMUM_CASES = [case for case in DEFAULT_CASES if case.variant != "soft"]


@pytest.mark.parametrize("case", params_of(MINIMUM_CASES))
def test_perfect_prediction_scores_the_minimum(case: Case) -> None:
    inputs = case.draw()
    perfect = Inputs(_perfect(case, inputs), inputs.targets, inputs.params)
    result = _score(case, perfect, reduction="mean")
    minimum = case.spec.minimum
    assert result.value is not None
    if minimum is None:
        return  # target-dependent: the property below, that nothing beats it, still holds
    assert result.value == pytest.approx(minimum, abs=MINIMUM_ATOL)
    if "none" in case.spec.reductions:
        losses = _score(case, perfect, reduction="none").losses
        np.testing.assert_allclose(losses, minimum, rtol=0, atol=MINIMUM_ATOL)


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
    inputs = case.draw(seed, samples=samples, classes=classes)
    perfect = _perfect(case, inputs)
    reduction = "none" if "none" in case.spec.reductions else "mean"
    best = _score(case, Inputs(perfect, inputs.targets, inputs.params), reduction=reduction)
    # Any valid prediction, and any point between it and the perfect one (the domains are convex).
    for predictions in (inputs.predictions, (1.0 - mix) * perfect + mix * inputs.predictions):
        candidate = Inputs(predictions, inputs.targets, inputs.params)
        result = _score(case, candidate, reduction=reduction)
        if result.losses is not None:
            assert best.losses is not None
            assert (result.losses >= best.losses - 1e-9).all()
        else:
            assert result.value is not None
            assert best.value is not None
            assert result.value >= best.value - 1e-9


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
