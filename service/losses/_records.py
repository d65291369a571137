"""Frozen dataclasses built in one step, for the records the core makes on every call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def builder(cls: Callable[P, T]) -> Callable[P, T]:
    """A keyword-only constructor of the frozen dataclass `cls` that fills the new instance's
    __dict__ at once, as copy and pickle do, where the generated __init__ sets each field through
    object.__setattr__ (LossResult: 0.66 us rather than 1.46). The instance is the one __init__
    makes: same fields in the same order, defaults, equality and immutability. It has the
    signature of `cls`, so mypy checks every call's names and types, and missing or unknown names
    are refused at run time as __init__ refuses them. `cls` may have no __post_init__ and no
    default_factory, which this would skip."""
    record_type: Any = cls
    declared = dataclasses.fields(record_type)
    if not record_type.__dataclass_params__.frozen or hasattr(record_type, "__post_init__"):
        raise TypeError(f"{record_type.__name__} is not a frozen dataclass without __post_init__")
    if any(field.default_factory is not dataclasses.MISSING for field in declared):
        raise TypeError(f"{record_type.__name__} has a default_factory")
    # Every field in declaration order, with its default; each call overwrites them in place.
    template = {field.name: field.default for field in declared}
    # Checked at run time too (0.2 us), as __init__ would: a field without a value and a name
    # that is no field would otherwise make a record that breaks far from its cause.
    required = frozenset(field.name for field in declared if field.default is dataclasses.MISSING)
    names = frozenset(template)

    def build(*args: P.args, **values: P.kwargs) -> T:
        if args:
            raise TypeError(f"{record_type.__name__} is built from keyword arguments only")
        if not required.issubset(values) or not names.issuperset(values):
            missing = sorted(required.difference(values))
            unknown = sorted(set(values).difference(names))
            raise TypeError(f"{record_type.__name__}: missing {missing}, unknown {unknown}")
        record: T = object.__new__(record_type)
        state = record.__dict__
        state.update(template)
        state.update(values)
        return record

    return build
