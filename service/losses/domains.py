"""What a loss's inputs may be, stated as data: intervals, labels, one-hot and simplex rows, signs.

A registry entry names the domain of its predictions and of its targets with these values, and
everything else follows from that one statement: the input checks (each names the field, the
index and the value: "got X, expected Y"), the catalogue's text, and the test strategies. The
idea is scikit-learn's `Interval` (`sklearn/utils/_param_validation.py`) and the
`interval_y_pred` / `interval_y_true` of its `_loss` classes, extended to rows and labels.

A domain may depend on the call: `Given(domain, when={"from_logits": True})` holds when the
parameters say so (a condition's value is a literal or an `Interval` the parameter lies in), and
`ndim` and `labels` (targets given as (N,) labels for (N, K) predictions) are conditions too. An
entry then lists its cases in order; the first that holds applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from ._checks import (
    FloatArray,
    check_finite,
    check_labels,
    check_one_hot,
    check_range,
    check_simplex_rows,
    check_values_in,
    first_index,
    format_value,
    where,
)
from .errors import DomainError

__all__ = [
    "BINARY",
    "LOGITS",
    "NON_NEGATIVE",
    "ONE_HOT",
    "POSITIVE",
    "PROBABILITIES",
    "REALS",
    "SIGNS",
    "SIMPLEX",
    "CheckContext",
    "Domain",
    "Given",
    "Interval",
    "Labels",
    "OneHotRows",
    "Signs",
    "SimplexRows",
    "Values",
    "ValuesIn",
    "check_values",
    "describe",
    "resolve",
]


@dataclass(frozen=True)
class CheckContext:
    """What a check may need beyond the array: the loss's parameters and the number of classes
    (K of (N, K) predictions; None for (N,) predictions), and a hint for the message."""

    params: Mapping[str, Any]
    classes: int | None
    hint: str = ""


class Domain(Protocol):
    """The values one array may hold."""

    @property
    def text(self) -> str:
        """The catalogue's words for the values, plural: "probabilities in [0, 1]"."""
        ...

    @property
    def rejects_nonfinite(self) -> bool:
        """Whether `check` finds any NaN or infinity, and then raises the error `check_finite`
        raises: the array needs no pass for finiteness before it."""
        ...

    def check(self, array: FloatArray, field: str, context: CheckContext) -> None:
        """Raise a DomainError naming the first offending element; return if there is none."""
        ...


Closed = Literal["both", "left", "right", "neither"]


@dataclass(frozen=True)
class Interval:
    """Real numbers between `low` and `high`, each end open or closed (`closed` as scikit-learn's
    Interval). `noun` names one element in messages ("a probability"). `finite_up_to`: the
    magnitude past which a valid value makes the loss overflow float64 (a 422 that says so, not
    a domain error): exp of a log-rate past ~709."""

    low: float = -math.inf
    high: float = math.inf
    closed: Closed = "both"
    noun: str = "a value"
    plural: str = "values"
    finite_up_to: float = math.inf

    def __contains__(self, number: object) -> bool:
        if isinstance(number, bool) or not isinstance(number, int | float):
            return False
        left = number >= self.low if self.closed in ("both", "left") else number > self.low
        right = number <= self.high if self.closed in ("both", "right") else number < self.high
        return left and right

    @property
    def bounds(self) -> str:
        """'in [0, 1]', '>= 0', '> 0', or '' for the whole real line."""
        low, high = format_value(self.low), format_value(self.high)
        low_closed = self.closed in ("both", "left")
        high_closed = self.closed in ("both", "right")
        if math.isinf(self.low) and math.isinf(self.high):
            return ""
        if math.isinf(self.high):
            return f"{'>=' if low_closed else '>'} {low}"
        if math.isinf(self.low):
            return f"{'<=' if high_closed else '<'} {high}"
        return f"in {'[' if low_closed else '('}{low}, {high}{']' if high_closed else ')'}"

    @property
    def text(self) -> str:
        return f"{self.plural} {self.bounds}".strip()

    @property
    def expected(self) -> str:
        return f"{self.noun} {self.bounds}".strip()

    @property
    def rejects_nonfinite(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def check(self, array: FloatArray, field: str, context: CheckContext) -> None:
        if math.isinf(self.low) and math.isinf(self.high):
            return  # every finite number; finiteness is checked before any domain
        if self.rejects_nonfinite:
            # The two reductions that tell the range also tell finiteness: NaN propagates
            # through them and fails both comparisons, an infinity is out of range.
            low = np.minimum.reduce(array, axis=None, initial=math.inf)
            high = np.maximum.reduce(array, axis=None, initial=-math.inf)
            low_ok = low >= self.low if self.closed in ("both", "left") else low > self.low
            high_ok = high <= self.high if self.closed in ("both", "right") else high < self.high
            if low_ok and high_ok:
                return
            check_finite(array, field)
        check_range(
            array,
            field,
            low=None if math.isinf(self.low) else self.low,
            high=None if math.isinf(self.high) else self.high,
            low_open=self.closed in ("right", "neither"),
            high_open=self.closed in ("left", "neither"),
            expected=self.expected + context.hint,
        )


@dataclass(frozen=True)
class ValuesIn:
    """Each element is one of a few values: {0, 1} labels."""

    values: tuple[float, ...]

    @property
    def text(self) -> str:
        return "labels in {" + ", ".join(format_value(v) for v in self.values) + "}"

    rejects_nonfinite = True

    def check(self, array: FloatArray, field: str, context: CheckContext) -> None:
        # Counted, one comparison per value, rather than matched against the set (slower).
        if sum(np.count_nonzero(array == value) for value in self.values) == array.size:
            return
        check_finite(array, field)
        check_values_in(array, field, self.values)


@dataclass(frozen=True)
class Signs:
    """Labels all in {-1, 1}, or all in {0, 1} (then read as {-1, 1}, as Keras does)."""

    rejects_nonfinite = True

    @property
    def text(self) -> str:
        return "labels all in {-1, 1}, or all in {0, 1}"

    def check(self, array: FloatArray, field: str, context: CheckContext) -> None:
        # Counted rather than matched against a set: two or three comparisons in the usual case.
        ones = np.count_nonzero(array == 1.0)
        minus = np.count_nonzero(array == -1.0)
        if ones + minus == array.size:
            return
        if minus == 0 and ones + np.count_nonzero(array == 0.0) == array.size:
            return
        check_finite(array, field)
        check_values_in(array, field, (-1.0, 0.0, 1.0))
        zero = array == 0.0
        if zero.any() and (array == -1.0).any():
            index = first_index(zero)
            raise DomainError(
                f"{where(field, index)} = 0 but {field} also hold -1; expected {field} all in "
                "{-1, 1} or all in {0, 1}",
                field=field,
                index=index,
                value="0",
            )


@dataclass(frozen=True)
class Labels:
    """(N,) integer class labels in [0, K), K the number of prediction columns; with `ignore`,
    the label the parameter of that name holds is allowed too (it marks an absent sample)."""

    ignore: str | None = None

    rejects_nonfinite = True

    @property
    def text(self) -> str:
        extra = f" (or {self.ignore})" if self.ignore else ""
        return f"(N,) integer class labels in [0, K){extra}"

    def check(self, array: FloatArray, field: str, context: CheckContext) -> None:
        if context.classes is None:
            raise TypeError("class labels need (N, K) predictions")
        ignored = context.params.get(self.ignore) if self.ignore else None
        if ignored is not None:
            array = np.where(array == ignored, 0.0, array)
        check_labels(array, field, context.classes)


@dataclass(frozen=True)
class OneHotRows:
    """Rows with a single 1 and 0 elsewhere."""

    rejects_nonfinite = True

    @property
    def text(self) -> str:
        return "one-hot rows"

    def check(self, array: FloatArray, field: str, context: CheckContext) -> None:
        check_one_hot(array, field)


@dataclass(frozen=True)
class SimplexRows:
    """Rows of non-negative numbers summing to 1 (within 1e-3): one-hot, soft labels, or a
    distribution."""

    rejects_nonfinite = True

    @property
    def text(self) -> str:
        return "rows of probabilities summing to 1"

    def check(self, array: FloatArray, field: str, context: CheckContext) -> None:
        check_simplex_rows(array, field, hint=context.hint)


REALS = Interval(noun="a real number", plural="real numbers")
LOGITS = Interval(noun="a logit", plural="logits (real numbers)")
NON_NEGATIVE = Interval(0.0, math.inf)
POSITIVE = Interval(0.0, math.inf, closed="neither")
PROBABILITIES = Interval(0.0, 1.0, noun="a probability", plural="probabilities")
BINARY = ValuesIn((0.0, 1.0))
SIGNS = Signs()
ONE_HOT = OneHotRows()
SIMPLEX = SimplexRows()


@dataclass(frozen=True)
class Given:
    """`domain` applies when every condition holds: a parameter's value (a literal, or an
    Interval it lies in), `ndim` (of the predictions) or `labels` (targets are (N,) labels for
    (N, K) predictions). No condition: always. `hint` ends the message of a failed check."""

    domain: Domain
    when: Mapping[str, Any] = field(default_factory=dict)
    hint: str = ""

    def holds(self, params: Mapping[str, Any], ndim: int, labels: bool) -> bool:
        facts = {**params, "ndim": ndim, "labels": labels}
        for name, wanted in self.when.items():
            value = facts.get(name)
            if isinstance(wanted, Interval):
                if value not in wanted:
                    return False
            elif value != wanted:
                return False
        return True

    @property
    def condition_text(self) -> str:
        parts = []
        for name, wanted in self.when.items():
            if name == "ndim":
                parts.append({1: "(N,) predictions", 2: "(N, K) predictions"}[wanted])
            elif name == "labels":
                parts.append("(N,) label targets" if wanted else "targets shaped as predictions")
            elif wanted is True:
                parts.append(name)
            elif isinstance(wanted, Interval):
                parts.append(f"{name} {wanted.bounds}")
            else:
                parts.append(f"{name} = {format_value(wanted)}")
        return " and ".join(parts)


Values = Domain | tuple[Given, ...]


def _cases(values: Values) -> tuple[Given, ...]:
    return values if isinstance(values, tuple) else (Given(values),)


def resolve(
    values: Values, params: Mapping[str, Any], ndim: int, labels: bool = False
) -> Given | None:
    """The case of `values` that applies to this call (None when none does)."""
    return next((case for case in _cases(values) if case.holds(params, ndim, labels)), None)


def check_values(
    values: Values,
    array: FloatArray,
    field: str,
    *,
    params: Mapping[str, Any],
    classes: int | None,
    ndim: int,
    labels: bool = False,
) -> None:
    """Check `array` against the case of `values` that applies; a DomainError if it is out."""
    case = resolve(values, params, ndim, labels)
    if case is not None:
        case.domain.check(array, field, CheckContext(params, classes, case.hint))


def describe(values: Values) -> str:
    """The catalogue's text, e.g. "logits (real numbers) (from_logits); otherwise probabilities
    in [0, 1]"."""
    cases = _cases(values)
    parts = []
    for case in cases:
        condition = case.condition_text
        parts.append(f"{case.domain.text} ({condition})" if condition else case.domain.text)
    # The unconditional fallback reads best last, after the cases that take precedence.
    return "; otherwise ".join(parts) if len(parts) > 1 else parts[0]
