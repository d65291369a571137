"""`builder`: frozen dataclasses built in one step are the instances their __init__ makes."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np
import pytest

from service.losses import LossResult, evaluate, evaluate_many
from service.losses._records import builder

FIELDS: dict[str, Any] = {
    "loss": "mean_squared_error",
    "reduction": "mean",
    "value": 0.5,
    "losses": None,
    "gradient": np.array([1.0, -1.0]),
    "per_output": None,
    "count": 2,
    "weight_sum": 2.0,
    "loss_sum": 1.0,
    "omitted": 0,
}


def test_built_as_by_the_constructor() -> None:
    built = builder(LossResult)(**FIELDS)
    made = LossResult(**FIELDS)
    assert type(built) is LossResult
    # Same fields in the same order, the defaults included, the same values.
    assert list(vars(built)) == [field.name for field in dataclasses.fields(LossResult)]
    assert list(vars(built)) == list(vars(made))
    assert all(vars(built)[name] is vars(made)[name] for name in vars(made))
    assert repr(built) == repr(made)
    assert dataclasses.replace(built, penalty=1.0).penalty == 1.0
    assert repr(pickle.loads(pickle.dumps(built))) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.value = 1.0  # type: ignore[misc]


def test_each_call_builds_a_new_instance() -> None:
    build = builder(LossResult)
    first, second = build(**FIELDS), build(**{**FIELDS, "value": 1.5, "penalty": 0.25})
    assert first is not second
    assert (first.value, first.penalty) == (0.5, None)
    assert (second.value, second.penalty) == (1.5, 0.25)


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="keyword arguments only"):
        builder(LossResult)(*FIELDS.values())


def test_missing_and_unknown_fields_are_refused() -> None:
    # As the constructor refuses them: no record holds dataclasses.MISSING or a stray attribute.
    build: Any = builder(LossResult)
    without_value = {name: value for name, value in FIELDS.items() if name != "value"}
    with pytest.raises(TypeError, match=r"missing \['value'\], unknown \[\]"):
        build(**without_value)
    with pytest.raises(TypeError, match=r"missing \[\], unknown \['values'\]"):
        build(**FIELDS, values=1.0)


@dataclasses.dataclass
class Mutable:
    size: int


@dataclasses.dataclass(frozen=True)
class Checked:
    size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size < 0")


@dataclasses.dataclass(frozen=True)
class Listed:
    items: list[int] = dataclasses.field(default_factory=list)


@pytest.mark.parametrize(
    ("cls", "reason"),
    [
        (Mutable, "not a frozen dataclass"),
        (Checked, "without __post_init__"),
        (Listed, "default_factory"),
    ],
)
def test_what_it_would_skip_is_refused(cls: Any, reason: str) -> None:
    with pytest.raises(TypeError, match=reason):
        builder(cls)


def test_the_core_returns_complete_results() -> None:
    names = [field.name for field in dataclasses.fields(LossResult)]
    result = evaluate("mse", [1.0, 2.0], [0.0, 2.0])
    composite = evaluate_many([{"name": "mse"}, {"name": "mae"}], [1.0, 2.0], [0.0, 2.0])
    for made in (result, *composite.results, composite.total):
        assert type(made) is LossResult
        assert list(vars(made)) == names
