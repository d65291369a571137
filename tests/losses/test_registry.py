"""The registry: names and aliases, examples, summaries, parameters against signatures, the
package's exports, and the core's independence from the HTTP stack."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types

import numpy as np
import pytest
from strategies import missing_strategies

import service.losses
from service.losses import (
    LOSSES,
    REDUCTIONS,
    LossSpec,
    UnknownLossError,
    evaluate,
    evaluate_many,
    get_loss,
    loss_names,
)

SPECS = [pytest.param(spec, id=name) for name, spec in LOSSES.items()]
ALIASES = [
    pytest.param(alias, spec, id=alias)
    for spec in LOSSES.values()
    for alias in (spec.name, *spec.aliases)
]


def test_every_loss_of_the_contract_is_registered() -> None:
    assert list(LOSSES) == [
        "mean_squared_error",
        "mean_absolute_error",
        "root_mean_squared_error",
        "huber",
        "smooth_l1",
        "quantile",
        "log_cosh",
        "mean_squared_logarithmic_error",
        "mean_absolute_percentage_error",
        "poisson",
        "cosine_similarity",
        "binary_cross_entropy",
        "binary_focal_cross_entropy",
        "hinge",
        "squared_hinge",
        "categorical_hinge",
        "zero_one",
        "categorical_cross_entropy",
        "sparse_categorical_cross_entropy",
        "kl_divergence",
        "js_divergence",
        "dice",
    ]
    assert loss_names() == list(LOSSES)


def test_contract_aliases() -> None:
    aliases = {alias: spec.name for spec in LOSSES.values() for alias in spec.aliases}
    assert aliases == {
        "mse": "mean_squared_error",
        "l2": "mean_squared_error",
        "mae": "mean_absolute_error",
        "l1": "mean_absolute_error",
        "rmse": "root_mean_squared_error",
        "pinball": "quantile",
        "msle": "mean_squared_logarithmic_error",
        "mape": "mean_absolute_percentage_error",
        "bce": "binary_cross_entropy",
        "log_loss": "binary_cross_entropy",
        "binary_focal": "binary_focal_cross_entropy",
        "cce": "categorical_cross_entropy",
        "sparse_cce": "sparse_categorical_cross_entropy",
        "kl": "kl_divergence",
        "relative_entropy": "kl_divergence",
    }


def test_names_and_aliases_are_unique() -> None:
    every = [name for spec in LOSSES.values() for name in (spec.name, *spec.aliases)]
    assert len(every) == len(set(every))
    assert loss_names(aliases=True) == every
    for name in every:
        assert name == name.lower().strip().replace("-", "_")


@pytest.mark.parametrize(("alias", "spec"), ALIASES)
def test_alias_resolves(alias: str, spec: LossSpec) -> None:
    for variant in (alias, alias.upper(), alias.replace("_", "-"), f" {alias.title()} "):
        assert get_loss(variant) is spec, variant
    case = spec.example
    params = {k: v for k, v in case.items() if k not in ("predictions", "targets")}
    result = evaluate(alias.upper(), case["predictions"], case["targets"], **params)
    assert result.loss == spec.name


@pytest.mark.parametrize("spec", SPECS)
def test_misspelt_name_suggests_the_loss(spec: LossSpec) -> None:
    for typo in (spec.name[:-1], spec.name + "s", spec.name[1:]):
        with pytest.raises(
            UnknownLossError, match=rf"unknown loss '{typo}'; did you mean"
        ) as caught:
            get_loss(typo)
        assert spec.name in caught.value.suggestions, typo
        assert all(name in LOSSES for name in caught.value.suggestions)


@pytest.mark.parametrize("name", ["", "softmax", "mean_squared", "zzz", "not a loss"])
def test_unknown_names(name: str) -> None:
    with pytest.raises(UnknownLossError, match="unknown loss") as caught:
        get_loss(name)
    assert caught.value.field == "name"
    assert caught.value.value == name
    assert isinstance(caught.value, ValueError)


def test_unknown_name_with_no_close_match_has_no_suggestion() -> None:
    with pytest.raises(UnknownLossError, match=r"^unknown loss 'zzz'$") as caught:
        get_loss("zzz")
    assert caught.value.suggestions == []


@pytest.mark.parametrize("spec", SPECS)
def test_example_evaluates(spec: LossSpec) -> None:
    example = dict(spec.example)
    predictions, targets = example.pop("predictions"), example.pop("targets")
    assert set(example) <= {param.name for param in spec.params}
    assert np.ndim(predictions) in spec.ndims
    result = evaluate(spec.name, predictions, targets, **example)
    assert result.value is not None
    assert np.isfinite(result.value)
    assert result.count == len(predictions)
    assert (result.gradient is not None) == spec.differentiable
    # Every loss of an example also composes with itself in evaluate_many.
    composite = evaluate_many([{"name": spec.name, "weight": 2.0, **example}], predictions, targets)
    assert composite.total.value == pytest.approx(2.0 * result.value)


@pytest.mark.parametrize("spec", SPECS)
def test_summary_is_one_line(spec: LossSpec) -> None:
    doc = inspect.getdoc(spec.function)
    assert doc, f"{spec.function.__name__} has no docstring"
    first_paragraph = doc.split("\n\n")[0]
    # The catalogue and OpenAPI show only the first line: it must be the whole first sentence.
    assert "\n" not in first_paragraph, first_paragraph
    assert spec.summary == first_paragraph
    assert spec.summary.endswith(".")
    assert len(spec.summary) <= 100
    assert spec.summary != spec.name


@pytest.mark.parametrize("spec", SPECS)
def test_parameters_match_the_function_signature(spec: LossSpec) -> None:
    signature = inspect.signature(spec.function)
    parameters = list(signature.parameters.values())
    assert [p.name for p in parameters[:2]] == ["predictions", "targets"]
    assert all(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        for p in parameters[:2]
    )
    keyword_only = parameters[2:]
    assert all(p.kind is p.KEYWORD_ONLY for p in keyword_only)
    declared = {param.name: param.default for param in spec.params}
    signature_defaults = {p.name: p.default for p in keyword_only if p.name != "gradient"}
    # Same names, same order, same defaults.
    assert list(signature_defaults) == list(declared)
    assert signature_defaults == declared
    assert keyword_only[-1].name == "gradient"
    assert keyword_only[-1].default is True


@pytest.mark.parametrize("spec", SPECS)
def test_spec_is_consistent(spec: LossSpec) -> None:
    assert spec.task in ("regression", "binary", "multiclass", "multilabel", "distribution")
    assert spec.ndims
    assert set(spec.ndims) <= {1, 2}
    assert "mean" in spec.reductions
    assert set(spec.reductions) <= set(REDUCTIONS)
    assert spec.target_shape in ("same", "labels", "same_or_labels")
    assert not (spec.sqrt_of_mean and spec.reductions != ("mean",))
    assert spec.formula
    assert spec.shapes == [{1: "(N,)", 2: "(N, K)"}[n] for n in spec.ndims]
    for param in spec.params:
        # The default passes the parameter's own checks and binds to itself.
        assert param.bind(param.default) == param.default, param.name
        assert param.description


def test_parameters_do_not_shadow_evaluate_options() -> None:
    # Parameters travel as **params next to evaluate's own keywords and evaluate_many's entries.
    reserved = set(inspect.signature(evaluate).parameters) | {"name", "weight", "losses"}
    for spec in LOSSES.values():
        assert not {param.name for param in spec.params} & reserved, spec.name


@pytest.mark.parametrize("spec", SPECS)
def test_every_loss_has_input_strategies(spec: LossSpec) -> None:
    # Without them a newly registered loss would get no parametrised tests that pass.
    assert missing_strategies(spec) == [], "add these to tests/losses/strategies.py"


def test_all_is_the_public_names() -> None:
    public = {
        name
        for name, value in vars(service.losses).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(service.losses.__all__) == public
    assert len(set(service.losses.__all__)) == len(service.losses.__all__)


SUBMODULES = [
    importlib.import_module(f"service.losses.{info.name}")
    for info in pkgutil.iter_modules(service.losses.__path__)
]


@pytest.mark.parametrize(
    "module",
    [pytest.param(m, id=m.__name__) for m in SUBMODULES if hasattr(m, "__all__")],
)
def test_submodule_all_names_exist(module: types.ModuleType) -> None:
    for name in module.__all__:
        assert hasattr(module, name), f"{module.__name__}.{name}"
        assert not name.startswith("_")


def test_core_does_not_import_the_http_stack() -> None:
    """Nor the datasets layer's: the core knows nothing of HTTP or files."""
    code = (
        "import sys\n"
        "import service.losses\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "stack = {'fastapi', 'pydantic', 'httpx', 'starlette', 'uvicorn', 'pyarrow', 'dask'}\n"
        "print(sorted(loaded & stack))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip() == "[]"
