"""Loss parameters: their declaration (type, default, bounds) and the binding of user values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._checks import float_of, format_value
from .errors import ParameterError

__all__ = ["Param", "ParamType", "bind_params"]

ParamType = Literal["float", "bool", "int", "float_list"]


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a loss, with its bounds; `nullable` admits None; `excluded` is an
    open interval of refused values inside the bounds (Tweedie powers in (0, 1))."""

    name: str
    type: ParamType
    default: Any
    description: str
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    nullable: bool = False
    excluded: tuple[float, float] | None = None

    def bounds_text(self) -> str:
        """The bounds as a human reads them, e.g. '> 0 and < 1'."""
        parts = [
            f"{symbol} {format_value(bound)}"
            for symbol, bound in ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))
            if bound is not None
        ]
        if self.excluded is not None:
            low, high = (format_value(end) for end in self.excluded)
            parts.append(f"not in ({low}, {high})")
        return " and ".join(parts)

    def bind(self, value: Any) -> Any:
        """Check one user value against type and bounds; return it in canonical form."""
        if value is None:
            if self.nullable:
                return None
            raise ParameterError(
                f"{self.name} is null; expected a {self.type}", field=self.name, value=None
            )
        if self.type == "bool":
            if not isinstance(value, bool):
                raise self._type_error(value)
            return value
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._type_error(value)
            self._check_bounds(value, self.name)
            return value
        if self.type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._type_error(value)
            number = float_of(value)
            if not math.isfinite(number):
                raise ParameterError(
                    f"{self.name} = {format_value(number)}; expected a finite number",
                    field=self.name,
                    value=format_value(number),
                )
            self._check_bounds(number, self.name)
            return number
        # float_list
        if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
            raise self._type_error(value)
        numbers = []
        for position, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ParameterError(
                    f"{self.name}[{position}] = {item!r}; expected a number",
                    field=self.name,
                    index=(position,),
                    value=repr(item),
                )
            number = float_of(item)
            label = f"{self.name}[{position}]"
            if not math.isfinite(number):
                raise ParameterError(
                    f"{label} = {format_value(number)}; expected a finite number",
                    field=self.name,
                    index=(position,),
                    value=format_value(number),
                )
            self._check_bounds(number, label, index=(position,))
            numbers.append(number)
        if not numbers:
            raise ParameterError(
                f"{self.name} is empty; expected one number per class", field=self.name
            )
        return tuple(numbers)

    def _type_error(self, value: Any) -> ParameterError:
        kind = {"float": "a number", "bool": "true or false", "int": "an integer"}.get(
            self.type, "a list of numbers"
        )
        return ParameterError(
            f"{self.name} = {value!r}; expected {kind}", field=self.name, value=repr(value)
        )

    def _check_bounds(
        self, number: float, label: str, index: tuple[int, ...] | None = None
    ) -> None:
        ok = (
            (self.gt is None or number > self.gt)
            and (self.ge is None or number >= self.ge)
            and (self.lt is None or number < self.lt)
            and (self.le is None or number <= self.le)
            and (self.excluded is None or not self.excluded[0] < number < self.excluded[1])
        )
        if not ok:
            raise ParameterError(
                f"{label} = {format_value(number)}; expected {self.bounds_text()}",
                field=self.name,
                index=index,
                value=format_value(number),
            )


def bind_params(loss: str, declared: tuple[Param, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared parameter with the user's value or its default; unknown names are refused."""
    if not given:
        # Nothing to check: the defaults alone.
        return {param.name: param.default for param in declared}
    by_name = {param.name: param for param in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none"
        raise ParameterError(
            f"unknown parameter {unknown[0]!r} for {loss}; its parameters are: {known}",
            field=unknown[0],
            value=unknown[0],
        )
    return {
        name: param.bind(given[name]) if name in given else param.default
        for name, param in by_name.items()
    }
