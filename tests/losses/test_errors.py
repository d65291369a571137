"""Every domain rule raises its typed error, whose message and attributes name field, index and
value. Rules that every loss shares are checked for every registered loss."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from strategies import (
    CLASSES,
    SAMPLES,
    Case,
    all_cases,
    params_of,
)

from service.losses import (
    LOSSES,
    REDUCTIONS,
    DomainError,
    LossError,
    NonFiniteError,
    Param,
    ParameterError,
    ReductionError,
    ResultOverflowError,
    ShapeError,
    UnknownLossError,
    errors,
    evaluate,
    evaluate_many,
    get_loss,
)
from service.losses._checks import check_range
from service.losses.domains import Interval

DEFAULT_CASES = all_cases(all_settings=False)


def _one_per_domain() -> list[Case]:
    """One case per loss, shape, variant and pair of domains: every domain that a parameter
    (from_logits, log_input, power, predictions_are_labels) switches to is drawn once."""
    seen, cases = set(), []
    for case in all_cases():
        key = (case.name, case.ndim, case.layout, case.variant)
        key += (case.domain("predictions"), case.domain("targets"))
        if key not in seen:
            seen.add(key)
            cases.append(case)
    return cases


DOMAIN_CASES = _one_per_domain()
# One case per loss and number of dimensions: enough for the rules that do not depend on values.
ONE_PER_SHAPE = list({(case.name, case.ndim): case for case in DEFAULT_CASES}.values())
ONE_PER_LOSS = list({case.name: case for case in DEFAULT_CASES}.values())


def _shape_text(shape: tuple[int, ...]) -> str:
    return re.escape(str(shape))


def test_every_error_is_a_value_error() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    assert set(classes) == {
        LossError,
        UnknownLossError,
        ShapeError,
        NonFiniteError,
        DomainError,
        ParameterError,
        ReductionError,
        ResultOverflowError,
    }
    for error_class in classes:
        assert issubclass(error_class, LossError)
        assert issubclass(error_class, ValueError)


# ------------------------------------------------------------------------------ shapes


@pytest.mark.parametrize("case", params_of(ONE_PER_SHAPE))
def test_targets_of_another_shape(case: Case) -> None:
    inputs = case.draw()
    targets = np.concatenate([inputs.targets, inputs.targets[:1]])
    with pytest.raises(ShapeError, match=_shape_text(inputs.predictions.shape)) as caught:
        evaluate(case.name, inputs.predictions, targets, **inputs.params)
    assert re.search(_shape_text(targets.shape), str(caught.value))
    assert caught.value.field == "targets"
    assert caught.value.value == list(targets.shape)


@pytest.mark.parametrize("case", params_of(ONE_PER_LOSS))
def test_predictions_of_an_unsupported_rank(case: Case) -> None:
    for shape in [(SAMPLES, CLASSES, 2), ()] + [
        (SAMPLES,) * ndim for ndim in (1, 2) if ndim not in case.spec.ndims
    ]:
        predictions = np.full(shape, 0.5)
        expected = " or ".join({1: r"\(N,\)", 2: r"\(N, K\)"}[n] for n in case.spec.ndims)
        pattern = rf"predictions has shape {_shape_text(shape)}, expected {expected}"
        with pytest.raises(ShapeError, match=pattern) as caught:
            evaluate(case.name, predictions, predictions)
        assert caught.value.field == "predictions"
        assert caught.value.value == list(shape)


@pytest.mark.parametrize("case", params_of(ONE_PER_LOSS))
def test_empty_predictions(case: Case) -> None:
    shape = (0,) if 1 in case.spec.ndims else (0, CLASSES)
    with pytest.raises(ShapeError, match="predictions is empty"):
        evaluate(case.name, np.zeros(shape), np.zeros(shape))


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        ([[1.0, 2.0], [3.0]], "predictions is not a rectangular array of numbers"),
        (["a", "b"], "predictions must hold real numbers, got dtype <U1"),
        ([1.0, None], "predictions must hold real numbers, got dtype object"),
        ([1 + 2j, 3.0], "predictions must hold real numbers, got dtype complex128"),
    ],
)
def test_predictions_that_are_not_real_arrays(predictions: Any, message: str) -> None:
    with pytest.raises(ShapeError, match=re.escape(message)) as caught:
        evaluate("mse", predictions, [1.0, 2.0])
    assert caught.value.field == "predictions"


def test_labels_of_the_wrong_shape() -> None:
    with pytest.raises(
        ShapeError,
        match=r"predictions has shape \(2, 3\) but targets has shape \(2, 3\); expected integer "
        r"labels of shape \(2,\)",
    ):
        evaluate("sparse_cce", np.full((2, 3), 1 / 3), np.eye(3)[:2])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sample_weight", [1.0, 1.0], r"sample_weight has shape \(2,\); expected \(3,\)"),
        ("sample_weight", [[1.0, 1.0, 1.0]], r"sample_weight has shape \(1, 3\); expected \(3,\)"),
        ("group_by", [0, 1], r"group_by has shape \(2,\); expected \(3,\)"),
        ("group_by", [0.5, 1.0, 2.0], "group_by holds float64 values; expected all strings or"),
    ],
)
def test_per_sample_arrays_of_the_wrong_length(field: str, value: Any, message: str) -> None:
    with pytest.raises(ShapeError, match=message) as caught:
        evaluate("mse", [1.0, 2.0, 3.0], [1.0, 2.0, 2.0], **{field: value})
    assert caught.value.field == field


# ------------------------------------------------------------------------------ non-finite


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("field", ["predictions", "targets", "sample_weight"])
@pytest.mark.parametrize("case", params_of(ONE_PER_SHAPE))
def test_non_finite_values_are_counted_and_located(case: Case, field: str, bad: float) -> None:
    inputs = case.draw()
    arrays = {
        "predictions": inputs.predictions.copy(),
        "targets": inputs.targets.copy(),
        "sample_weight": np.ones(SAMPLES),
    }
    array = arrays[field]
    first = (2,) + (array.ndim - 1) * (array.shape[-1] - 1,)
    array[first] = bad
    array[(4,) + (array.ndim - 1) * (0,)] = np.nan
    where = rf"{field}\[{', '.join(map(str, first))}\] = {re.escape(repr(bad))}"
    with pytest.raises(
        NonFiniteError, match=rf"{field} holds 2 non-finite .* first at {where}"
    ) as caught:
        evaluate(
            case.name,
            arrays["predictions"],
            arrays["targets"],
            sample_weight=arrays["sample_weight"],
            **inputs.params,
        )
    assert caught.value.field == field
    assert caught.value.index == first
    assert caught.value.value == repr(bad)


PROPAGATING = [case for case in all_cases() if case.spec.propagates_nonfinite]


@pytest.mark.parametrize("extreme", [False, True], ids=["drawn", "extreme"])
@pytest.mark.parametrize("case", params_of(PROPAGATING))
def test_losses_that_check_finiteness_from_their_sum_always_propagate(
    case: Case, extreme: bool
) -> None:
    # LossSpec.propagates_nonfinite: such a loss skips the inputs' own finiteness pass, so a
    # single NaN or infinity anywhere, among any values, must make its loss sum non-finite.
    assert PROPAGATING, "no loss checks finiteness from its sum"
    inputs = case.draw(extreme=extreme)
    rng = np.random.default_rng(case.seed)
    for field in ("predictions", "targets"):
        for bad in (np.nan, np.inf, -np.inf):
            arrays = {"predictions": inputs.predictions.copy(), "targets": inputs.targets.copy()}
            array = arrays[field]
            index = tuple(int(rng.integers(size)) for size in array.shape)
            array[index] = bad
            with np.errstate(all="ignore"):  # as evaluate runs the losses
                per_sample = case.spec.function(
                    arrays["predictions"], arrays["targets"], **inputs.params
                )
                assert not np.isfinite(per_sample.losses.sum()), (field, bad, index)
            with pytest.raises(NonFiniteError) as caught:
                evaluate(case.name, arrays["predictions"], arrays["targets"], **inputs.params)
            assert (caught.value.field, caught.value.index) == (field, index)


def _layouts(values: np.ndarray[Any, Any]) -> dict[str, np.ndarray[Any, Any]]:
    """`values` (N, 2) as a contiguous array, a strided (N,) column, an (N, 2) slice of (N, 4)."""
    wide = np.zeros((values.shape[0], 4))
    wide[:, :2] = values
    return {"contiguous": values.copy(), "column": wide[:, 1], "slice": wide[:, :2]}


# Small and large arrays: finiteness is checked by a dot up to 4096 elements, by a sum beyond.
@pytest.mark.parametrize("rows", [3, 5000])
@pytest.mark.parametrize("layout", ["contiguous", "column", "slice"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_are_found_in_any_memory_layout(
    layout: str, bad: float, rows: int
) -> None:
    values = np.ones((rows, 2))
    values[2, 1] = bad
    predictions = _layouts(values)[layout]
    with pytest.raises(NonFiniteError, match="predictions holds 1 non-finite") as caught:
        evaluate("mse", predictions, np.ones(predictions.shape))
    assert caught.value.index == (2, 1)[: predictions.ndim]


@pytest.mark.parametrize("rows", [3, 5000])
@pytest.mark.parametrize("layout", ["contiguous", "column", "slice"])
def test_finite_values_whose_check_overflows_pass_in_any_memory_layout(
    layout: str, rows: int
) -> None:
    # Finiteness is first checked by the sum of squares (small contiguous arrays) or the sum (the
    # others): 1e305^2 overflows, and so does the sum of 5000 of them. The exact check then
    # passes them, without a RuntimeWarning (warnings are errors here).
    predictions = _layouts(np.full((rows, 2), 1e305))[layout]
    assert evaluate("mae", predictions, predictions).value == 0.0


def test_infinity_is_refused_even_when_nan_is_omitted() -> None:
    with pytest.raises(NonFiniteError, match=r"predictions holds 1 infinite .* predictions\[1\]"):
        evaluate("mse", [1.0, np.inf, np.nan], [1.0, 2.0, 3.0], nan_policy="omit")


def test_nothing_left_after_omitting_nan() -> None:
    with pytest.raises(NonFiniteError, match="all 2 samples hold NaN"):
        evaluate("mse", [np.nan, 1.0], [1.0, np.nan], nan_policy="omit")


# ------------------------------------------------------------------------------ domains


def _invalid_params() -> list[Any]:
    """Every declared invalid value of every loss's predictions and targets."""
    params = []
    for case in DOMAIN_CASES:
        for field in ("predictions", "targets"):
            for invalid in case.kind(field).invalid:
                params.append(
                    pytest.param(case, field, invalid, id=f"{case.id}-{field}-{invalid.label}")
                )
    return params


@pytest.mark.parametrize(("case", "field", "invalid"), _invalid_params())
def test_values_outside_the_domain(case: Case, field: str, invalid: Any) -> None:
    inputs = case.draw()
    arrays = {"predictions": inputs.predictions, "targets": inputs.targets}
    arrays[field], message, index = invalid.apply(arrays[field], case.context(inputs), field)
    with pytest.raises(DomainError, match=message) as caught:
        evaluate(case.name, arrays["predictions"], arrays["targets"], **inputs.params)
    assert caught.value.field == field
    assert caught.value.index == index
    assert caught.value.value is not None
    if field == "predictions" and case.resolve().get("from_logits") is False:
        assert "pass from_logits=true if these are logits" in str(caught.value)
        # The same numbers are valid logits.
        params = {**inputs.params, "from_logits": True}
        result = evaluate(case.name, arrays["predictions"], arrays["targets"], **params)
        assert result.value is not None


def test_every_bounded_domain_declares_invalid_values() -> None:
    # A domain narrower than the real line must say how to break it, or it goes untested.
    for case in DOMAIN_CASES:
        for field in ("predictions", "targets"):
            domain = case.domain(field)
            whole_line = isinstance(domain, Interval) and domain.bounds == ""
            assert whole_line or case.kind(field).invalid, (case.id, field)


@pytest.mark.parametrize(
    ("name", "predictions", "targets", "options", "message", "field", "index"),
    [
        (
            "hinge",
            [0.5, 1.0, -1.0, 2.0],
            [1.0, 0.0, -1.0, 1.0],
            {},
            r"targets\[1\] = 0 but targets also hold -1; expected targets all in \{-1, 1\} or "
            r"all in \{0, 1\}",
            "targets",
            (1,),
        ),
        (
            "sparse_cce",
            [[0.5, 0.5], [0.2, 0.8]],
            [0, 2],
            {},
            r"targets\[1\] = 2; expected an integer class label in \[0, 2\)",
            "targets",
            (1,),
        ),
        (
            "zero_one",
            [[0.5, 0.5], [0.2, 0.8]],
            [1, -1],
            {},
            r"targets\[1\] = -1; expected an integer class label in \[0, 2\)",
            "targets",
            (1,),
        ),
        (
            "zero_one",
            [0.5, 0.2],
            [1, 2],
            {},
            r"targets\[1\] = 2; expected one of \{0, 1\}",
            "targets",
            (1,),
        ),
        (
            "kl",
            [[0.5, 0.5], [0.2, 0.8]],
            [[0.5, 0.5], [0.25, 0.7485]],
            {},
            r"row targets\[1\] sums to 0\.9985; expected a distribution summing to 1 "
            r"\(within 0\.001\)",
            "targets",
            (1,),
        ),
        (
            "js_divergence",
            [[0.5, 0.5], [0.25, 0.7485]],
            [[0.5, 0.5], [0.2, 0.8]],
            {},
            r"row predictions\[1\] sums to 0\.9985",
            "predictions",
            (1,),
        ),
        (
            "msle",
            [1.0, 2.0],
            [1.0, -0.5],
            {},
            r"targets\[1\] = -0\.5; expected a value >= 0$",
            "targets",
            (1,),
        ),
        (
            "poisson",
            [[1.0, 2.0], [1.0, -3.0]],
            [[1.0, 2.0], [1.0, 3.0]],
            {},
            r"predictions\[1, 1\] = -3; expected a value >= 0$",
            "predictions",
            (1, 1),
        ),
        (
            "mse",
            [1.0, 2.0, 3.0],
            [1.0, 2.0, 3.0],
            {"sample_weight": [1.0, 2.0, -0.5]},
            r"sample_weight\[2\] = -0\.5; expected a weight >= 0",
            "sample_weight",
            (2,),
        ),
    ],
)
def test_domain_rules(
    name: str,
    predictions: Any,
    targets: Any,
    options: dict[str, Any],
    message: str,
    field: str,
    index: tuple[int, ...],
) -> None:
    with pytest.raises(DomainError, match=message) as caught:
        evaluate(name, predictions, targets, **options)
    assert caught.value.field == field
    assert caught.value.index == index
    assert caught.value.value is not None


def test_simplex_tolerance_is_1e_3() -> None:
    evaluate("kl", [[0.5, 0.5]], [[0.5, 0.5009]])
    with pytest.raises(DomainError, match=r"row targets\[0\] sums to 1\.0011"):
        evaluate("kl", [[0.5, 0.5]], [[0.5, 0.5011]])


@pytest.mark.parametrize("case", params_of(ONE_PER_LOSS))
def test_sample_weight_all_zero(case: Case) -> None:
    inputs = case.draw()
    with pytest.raises(DomainError, match="sample_weight is all 0") as caught:
        evaluate(
            case.name,
            inputs.predictions,
            inputs.targets,
            sample_weight=np.zeros(SAMPLES),
            **inputs.params,
        )
    assert caught.value.field == "sample_weight"


def test_every_sample_ignored() -> None:
    with pytest.raises(DomainError, match="every sample is ignored"):
        evaluate("sparse_cce", [[0.5, 0.5]], [1], ignore_index=1)
    # Under `sum` there is nothing to divide by and the answer is 0.
    assert evaluate("sparse_cce", [[0.5, 0.5]], [1], ignore_index=1, reduction="sum").value == 0


@pytest.mark.parametrize(
    ("values", "index", "value"),
    [
        # NaN is never out of range, and does not hide an element that is.
        ([np.nan, -0.5, 0.5], (1,), "-0.5"),
        ([0.5, np.nan, 1.5], (2,), "1.5"),
        ([[0.5, 2.0], [-np.inf, np.nan]], (0, 1), "2"),
        ([[0.5, 0.5], [np.inf, 0.5]], (1, 0), "inf"),
    ],
)
def test_check_range_finds_the_first_element_out_of_range(
    values: list[Any], index: tuple[int, ...], value: str
) -> None:
    with pytest.raises(
        DomainError, match=rf"^p\[.*\] = {value}; expected p in \[0, 1\]$"
    ) as caught:
        check_range(np.array(values), "p", low=0.0, high=1.0, expected="p in [0, 1]")
    assert (caught.value.index, caught.value.value) == (index, value)


@pytest.mark.parametrize(
    "values", [[], [[]], [np.nan, np.nan], [0.0, -0.0, 1.0]], ids=["empty", "0x0", "nan", "edges"]
)
def test_check_range_passes_what_is_not_out_of_range(values: list[Any]) -> None:
    check_range(np.array(values), "p", low=0.0, high=1.0, expected="p in [0, 1]")
    check_range(np.array(values), "p", low=0.0, expected="p >= 0")
    check_range(np.array(values), "p", high=1.0, expected="p <= 1")


# ------------------------------------------------------------------------------ reductions


def _reduction_params() -> list[Any]:
    params = []
    for name, spec in LOSSES.items():
        for reduction in (*REDUCTIONS, "median", "MEAN"):
            if reduction not in spec.reductions:
                params.append(pytest.param(name, reduction, id=f"{name}-{reduction}"))
    return params


@pytest.mark.parametrize(("name", "reduction"), _reduction_params())
def test_unsupported_reduction(name: str, reduction: str) -> None:
    spec = LOSSES[name]
    case = next(case for case in DEFAULT_CASES if case.name == name)
    inputs = case.draw()
    supported = re.escape(", ".join(spec.reductions))
    with pytest.raises(
        ReductionError, match=rf"reduction = '{reduction}'.*; {name} supports: {supported}$"
    ) as caught:
        evaluate(name, inputs.predictions, inputs.targets, reduction=reduction)
    assert caught.value.field == "reduction"
    assert caught.value.value == reduction
    assert ("(not a reduction)" in str(caught.value)) == (reduction not in REDUCTIONS)


def test_rmse_supports_only_mean() -> None:
    with pytest.raises(ReductionError, match=r"root_mean_squared_error supports: mean$"):
        evaluate("rmse", [1.0, 2.0], [1.0, 3.0], reduction="sum")


def test_unknown_nan_policy() -> None:
    with pytest.raises(ParameterError, match="nan_policy = 'skip'; expected one of: raise, omit"):
        evaluate("mse", [1.0], [1.0], nan_policy="skip")


# ------------------------------------------------------------------------------ parameters


def _bad_values(param: Param) -> list[tuple[Any, str]]:
    """Values `param` must refuse, each with the message it must raise."""
    name = re.escape(param.name)
    bad: list[tuple[Any, str]] = [("x", rf"{name} = 'x'; expected ")]
    if not param.nullable:
        bad.append((None, rf"{name} is null; expected a {param.type}"))
    if param.type in ("float", "int"):
        bad.append((True, rf"{name} = True; expected "))
    if param.type == "int":
        bad.append((1.5, rf"{name} = 1\.5; expected an integer"))
    if param.type == "bool":
        bad.append((1, rf"{name} = 1; expected true or false"))
    if param.type == "float":
        bad.append((float("nan"), rf"{name} = nan; expected a finite number"))
        bad.append((float("inf"), rf"{name} = inf; expected a finite number"))
        # An int beyond float64 (float() raises OverflowError) counts as the infinity it rounds to.
        bad.append((-(10**400), rf"{name} = -inf; expected a finite number"))
    item = "[0]" if param.type == "float_list" else ""

    def out(value: float) -> Any:
        return [value] if param.type == "float_list" else value

    # Strict bounds are refused at the bound itself, inclusive ones just beyond it.
    step = 1 if param.type == "int" else 0.5
    outside = [param.gt, param.lt]
    outside += [None if param.ge is None else param.ge - step]
    outside += [None if param.le is None else param.le + step]
    if param.excluded is not None:
        outside.append(sum(param.excluded) / 2)
    for value in outside:
        if value is not None:
            text = str(int(value)) if float(value).is_integer() else repr(value)
            expected = re.escape(f"{item} = {text}; expected {param.bounds_text()}")
            bad.append((out(value), rf"{name}{expected}"))
    if param.type == "float_list":
        bad.append(([], rf"{name} is empty"))
        bad.append((["a"], rf"{name}\[0\] = 'a'; expected a number"))
        bad.append(([1.0, float("inf")], rf"{name}\[1\] = inf; expected a finite number"))
        bad.append(([1.0, 10**400], rf"{name}\[1\] = inf; expected a finite number"))
    return bad


def _parameter_params() -> list[Any]:
    params = []
    for name, spec in LOSSES.items():
        for param in spec.params:
            for value, message in _bad_values(param):
                params.append(
                    pytest.param(
                        name, param.name, value, message, id=f"{name}-{param.name}={value!r}"
                    )
                )
    return params


@pytest.mark.parametrize(("name", "param", "value", "message"), _parameter_params())
def test_bad_parameter_values(name: str, param: str, value: Any, message: str) -> None:
    case = next(case for case in DEFAULT_CASES if case.name == name)
    inputs = case.draw()
    with pytest.raises(ParameterError, match=message) as caught:
        evaluate(name, inputs.predictions, inputs.targets, **{param: value})
    assert caught.value.field == param


@pytest.mark.parametrize("case", params_of(ONE_PER_LOSS))
def test_unknown_parameter(case: Case) -> None:
    inputs = case.draw()
    known = ", ".join(param.name for param in case.spec.params) or "none"
    with pytest.raises(
        ParameterError,
        match=rf"unknown parameter 'temperature' for {case.name}; its parameters are: {known}$",
    ) as caught:
        evaluate(case.name, inputs.predictions, inputs.targets, temperature=2.0)
    assert caught.value.field == "temperature"


@pytest.mark.parametrize(
    "case",
    params_of(
        all_cases(
            all_settings=False,
            where=lambda spec: "class_weight" in {param.name for param in spec.params},
        )
    ),
)
def test_class_weight_of_the_wrong_length(case: Case) -> None:
    inputs = case.draw()
    with pytest.raises(
        ParameterError,
        match=rf"class_weight has {CLASSES + 1} entries; expected one per class \({CLASSES}\)",
    ) as caught:
        evaluate(case.name, inputs.predictions, inputs.targets, class_weight=[1.0] * (CLASSES + 1))
    assert caught.value.field == "class_weight"
    assert caught.value.value == CLASSES + 1


def test_evaluate_many_entries() -> None:
    with pytest.raises(ParameterError, match="losses is empty"):
        evaluate_many([], [1.0], [1.0])
    with pytest.raises(ParameterError, match=r"losses\[1\] has no name"):
        evaluate_many([{"name": "mse"}, {"weight": 2.0}], [1.0], [1.0])
    with pytest.raises(ParameterError, match=r"losses\[0\]\.weight = 'a'; expected a finite"):
        evaluate_many([{"name": "mse", "weight": "a"}], [1.0], [1.0])
    with pytest.raises(ParameterError, match="unknown parameter 'delta' for mean_squared_error"):
        evaluate_many(
            [{"name": "huber", "delta": 2.0}, {"name": "mse", "delta": 2.0}], [1.0], [1.0]
        )


@pytest.mark.parametrize("number", [10**400, -(10**400)])
def test_ints_beyond_float64_are_refused_as_parameters(number: int) -> None:
    # float() raises OverflowError on them, and numpy's isfinite a TypeError: neither may escape.
    with pytest.raises(
        ParameterError, match=r"^losses\[0\]\.weight = -?10{400}; expected a finite"
    ):
        evaluate_many([{"name": "mse", "weight": number}], [1.0], [1.0])
    with pytest.raises(ParameterError, match=r"^regularization\.l2 = -?10{400}; expected a finite"):
        evaluate("mse", [1.0], [1.0], regularization={"weights": [1.0], "l2": number})


def test_ints_within_float64_are_numbers_like_any_other() -> None:
    # 10**30 is past int64 (numpy's isfinite refused it) but a float64 holds it.
    composite = evaluate_many([{"name": "mse", "weight": 10**30}], [3.0], [1.0])
    assert composite.weights == [1e30]
    assert composite.total.value == 4e30
    result = evaluate("mse", [3.0], [1.0], regularization={"weights": [2.0], "l1": 10**30})
    assert result.penalty == 2e30


# ------------------------------------------------------------------------------ overflow


@pytest.mark.parametrize(
    ("name", "predictions", "targets", "options", "field", "value"),
    [
        # (1e200 - -1e200)^2 = 4e400: past float64's 1.8e308.
        ("mse", [1e200, 0.0], [-1e200, 0.0], {}, "value", "inf"),
        ("mse", [1e200, 0.0], [-1e200, 0.0], {"reduction": "sum"}, "value", "inf"),
        ("mse", [1e200, 0.0], [-1e200, 0.0], {"reduction": "none"}, "loss_sum", "inf"),
        # Each loss fits, their sum does not.
        ("mae", [1.5e308, 1.5e308], [0.0, 0.0], {"reduction": "sum"}, "value", "inf"),
        # The weights' sum overflows: the mean is inf / inf.
        ("mse", [1.0, 3.0], [0.0, 0.0], {"sample_weight": [1.5e308, 1.5e308]}, "value", "nan"),
        # The penalty fits, its weight gradient 2 l2 w does not.
        (
            "mse",
            [1.0],
            [0.0],
            {"regularization": {"weights": [0.0, 1.0], "l2": 1e308}},
            r"weights_gradient\[1\]",
            "inf",
        ),
    ],
)
def test_result_overflow(
    name: str, predictions: Any, targets: Any, options: dict[str, Any], field: str, value: str
) -> None:
    with pytest.raises(
        ResultOverflowError,
        match=rf"^{get_loss(name).name}: {field} = {value} overflows float64; rescale the inputs$",
    ) as caught:
        evaluate(name, predictions, targets, **options)
    assert caught.value.field == field.split("\\")[0]
    assert caught.value.value == value
    assert caught.value.index == ((1,) if "[" in field else None)


def test_a_composite_overflow_is_an_error_not_a_warning() -> None:
    # 1e308 x the gradient 10 overflows inside the weighted sum (pytest turns warnings into
    # errors: a RuntimeWarning there would surface instead of the error).
    with pytest.raises(
        ResultOverflowError, match=r"^total: value = inf overflows float64"
    ) as caught:
        evaluate_many(
            [{"name": "mse", "weight": 1e308}, {"name": "mae", "weight": 1.0}],
            [0.0, 10.0],
            [0.0, 0.0],
        )
    assert caught.value.field == "value"


def test_no_overflow_where_the_result_fits() -> None:
    # 2 l2 w with l2 = 1e308 and w = 0.5 is 1e308, which fits, although 2 l2 alone does not.
    result = evaluate("mse", [1.0], [0.0], regularization={"weights": [0.0, 0.5], "l2": 1e308})
    np.testing.assert_array_equal(result.weights_gradient, [0.0, 1e308])
    assert result.penalty == pytest.approx(0.25e308)


def test_finite_arrays_whose_sum_overflows_pass_the_checks() -> None:
    # Finiteness is first checked by one sum, which overflows on each of these finite arrays (the
    # inputs, the weight gradient [1.5e308, 1.5e308], the composite's gradient 1e308 * [1, 1]):
    # the exact check must then accept them, without a RuntimeWarning (warnings are errors here).
    big = [1.5e308, 1.5e308]
    result = evaluate("mse", big, big, regularization={"weights": [0.75, 0.75], "l2": 1e308})
    assert result.value == 0.0
    np.testing.assert_array_equal(result.weights_gradient, big)
    composite = evaluate_many(
        [{"name": "mae", "weight": 1e308}], [1e-300, 1e-300], [0.0, 0.0], reduction="sum"
    )
    assert composite.total.gradient is not None
    np.testing.assert_array_equal(composite.total.gradient, [1e308, 1e308])


# ------------------------------------------------------------------------------ unknown loss


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("mean_squared_eror", "mean_squared_error"),
        ("hubber", "huber"),
        ("focal", "binary_focal_cross_entropy"),
        ("Binary_Cross_Entropyy", "binary_cross_entropy"),
    ],
)
def test_unknown_loss(name: str, suggestion: str | None) -> None:
    with pytest.raises(UnknownLossError, match=rf"unknown loss '{name}'") as caught:
        evaluate(name, [1.0], [1.0])
    assert caught.value.field == "name"
    assert caught.value.value == name
    if suggestion is not None:
        assert suggestion in caught.value.suggestions
        assert re.search(rf"did you mean .*{suggestion}", str(caught.value))
