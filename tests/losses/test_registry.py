"""The registry: names and aliases, examples, summaries, parameters against signatures, the
package's exports, and the core's independence from the HTTP stack."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from strategies import all_cases

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
from service.losses.registry import ELSEWHERE, Elsewhere, normalize_name

SPECS = [pytest.param(spec, id=name) for name, spec in LOSSES.items()]
NAMES = [
    pytest.param(known, spec, id=known)
    for spec in LOSSES.values()
    for known in (spec.name, *spec.aliases, *spec.names)
]
SPEC_MD = Path(__file__).resolve().parents[3] / "shared" / "SPEC.md"


def _contract() -> str:
    if not SPEC_MD.exists():
        pytest.skip(f"the contract is not beside the project ({SPEC_MD})")
    return SPEC_MD.read_text()


def _catalogue_names() -> dict[str, list[str]]:
    """The contract's catalogue table: each loss's name with its aliases, in table order."""
    text = _contract()
    table = text[text.index("## The loss catalogue") :]
    table = table[table.index("| name (aliases)") :].split("\n\n")[0]
    names: dict[str, list[str]] = {}
    for row in table.splitlines()[2:]:
        cell = row.split("|")[1].strip()
        for entry in cell.split(", ") if "(" not in cell else [cell]:
            match = re.fullmatch(r"(\w+)(?: \(([\w, ]+)\))?", entry.strip())
            assert match, entry
            names[match[1]] = match[2].split(", ") if match[2] else []
    return names


def _names_paragraph() -> tuple[list[str], list[str]]:
    """The contract's "Names." paragraph: names that resolve, and names that are not aliases."""
    text = _contract()
    paragraph = text[text.index("Names. ") :].split("\n\n")[0]
    resolve, elsewhere = re.split(r"A name that\s+means something else", paragraph)
    elsewhere = elsewhere.split("answer 404")[0]
    return re.findall(r"`([\w-]+)`", resolve), re.findall(r"`([\w-]+)`", elsewhere)


def test_every_loss_of_the_contract_is_registered() -> None:
    contract = _catalogue_names()
    assert sorted(LOSSES) == sorted(contract)
    for name, aliases in contract.items():
        assert list(get_loss(name).aliases) == aliases, name
    assert len(LOSSES) == 31
    assert loss_names() == list(LOSSES)


def test_the_names_users_know_resolve_and_the_false_friends_do_not() -> None:
    known, elsewhere = _names_paragraph()
    assert len(known) >= 15
    for name in known:
        if name in ("_", "-"):
            continue
        assert get_loss(name).name in LOSSES, name
    assert set(elsewhere) >= {"cross_entropy", "nll_loss", "kl_div", "poisson_nll_loss"}
    for name in elsewhere:
        if name in ("_", "-"):
            continue
        with pytest.raises(UnknownLossError, match=rf"^unknown loss '{name}': .+; use ") as caught:
            get_loss(name)
        assert caught.value.instead
        assert caught.value.suggestions
        assert all(suggested in LOSSES for suggested in caught.value.suggestions)


def test_pytorch_cross_entropy_says_what_computes_it() -> None:
    with pytest.raises(UnknownLossError) as caught:
        get_loss("cross_entropy")
    assert "sparse_categorical_cross_entropy with from_logits: true" in caught.value.message
    assert caught.value.suggestions[0] == "sparse_categorical_cross_entropy"


@pytest.mark.parametrize("entry", ELSEWHERE, ids=[entry.names[0] for entry in ELSEWHERE])
def test_every_false_friend_computes_what_it_says(entry: Elsewhere) -> None:
    # The advice names registered losses and only parameters they declare.
    assert set(entry.losses) <= set(LOSSES)
    for parameter in re.findall(r"(\w+): ", entry.use):
        assert any(
            parameter in {param.name for param in LOSSES[loss].params} for loss in entry.losses
        ), (entry.names, parameter)
    for name in entry.names:
        with pytest.raises(UnknownLossError, match=re.escape(entry.use)):
            get_loss(name.upper())


def test_names_are_unique_once_normalized() -> None:
    keys: dict[str, str] = {}
    for spec in LOSSES.values():
        for known in (spec.name, *spec.aliases, *spec.names):
            key = normalize_name(known)
            assert keys.setdefault(key, spec.name) == spec.name, (known, keys[key])
    for entry in ELSEWHERE:
        for name in entry.names:
            assert normalize_name(name) not in keys, name
    for spec in LOSSES.values():
        for name in (spec.name, *spec.aliases):
            assert name == name.lower().strip().replace("-", "_")
    assert loss_names(aliases=True)[: len(LOSSES["mean_squared_error"].aliases) + 1] == [
        "mean_squared_error",
        *LOSSES["mean_squared_error"].aliases,
    ]


@pytest.mark.parametrize(("known", "spec"), NAMES)
def test_every_name_resolves(known: str, spec: LossSpec) -> None:
    spellings = (known, known.upper(), known.replace("_", "-"), f" {known.replace('_', ' ')} ")
    for spelling in spellings:
        assert get_loss(spelling) is spec, spelling
    case = spec.example
    params = {k: v for k, v in case.items() if k not in ("predictions", "targets")}
    result = evaluate(known.upper(), case["predictions"], case["targets"], **params)
    assert result.loss == spec.name


@pytest.mark.parametrize("spec", SPECS)
def test_misspelt_name_suggests_the_loss_first(spec: LossSpec) -> None:
    for typo in (spec.name[:-1], spec.name + "s", spec.name[1:]):
        with pytest.raises(
            UnknownLossError, match=rf"unknown loss '{typo}'; did you mean"
        ) as caught:
            get_loss(typo)
        suggestions = caught.value.suggestions
        assert suggestions[0] == spec.name, typo
        assert len(suggestions) == len(set(suggestions))
        assert all(name in LOSSES for name in suggestions)


@pytest.mark.parametrize(
    ("typo", "first"),
    [
        # Tried as a new user would (issue 14): the closest loss first, each loss once.
        ("hinge_los", "hinge"),
        ("kl_diverge", "kl_divergence"),
        ("mean_square_error", "mean_squared_error"),
        ("huber_los", "huber"),
        ("focal", "binary_focal_cross_entropy"),
    ],
)
def test_suggestions_are_ranked_and_distinct(typo: str, first: str) -> None:
    with pytest.raises(UnknownLossError) as caught:
        get_loss(typo)
    suggestions = caught.value.suggestions
    assert suggestions[0] == first
    assert len(suggestions) == len(set(suggestions))


@pytest.mark.parametrize("name", ["", "softmax", "zzz", "not a loss"])
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
    assert spec.min_classes >= 1
    assert spec.minimum is None or np.isfinite(spec.minimum)
    assert spec.predictions_text
    assert spec.targets_text
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
def test_every_case_of_every_loss_has_a_domain_to_draw(spec: LossSpec) -> None:
    # Every combination of shape and parameters resolves to a domain the strategies can draw:
    # a newly registered loss gets the parametrised tests with no list to extend.
    cases = all_cases(where=lambda candidate: candidate is spec)
    assert cases
    for case in cases:
        inputs = case.draw()
        evaluate(case.name, inputs.predictions, inputs.targets, **inputs.params)


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
