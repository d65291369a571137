"""Valid random inputs for every registered loss, derived from the domains its `LossSpec` states.

The one place that knows how to draw inputs. A case's predictions and targets are drawn from the
domain the registry states for that call (its parameters, the predictions' ndim, labels or not):
an interval gives values inside it and its edges, labels give integers in [0, K), rows give
one-hot or simplex rows. The same statement gives the invalid values each domain must refuse.
Parameters are tried with the settings in `PARAM_SETTINGS` that the parameter accepts.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from service.losses import LOSSES, LossSpec, ParameterError
from service.losses.domains import (
    Domain,
    Interval,
    Labels,
    OneHotRows,
    Signs,
    SimplexRows,
    ValuesIn,
    resolve,
)

Array = npt.NDArray[np.float64]

SAMPLES = 6
CLASSES = 3
# Values are drawn this far inside a bounded interval, far from any eps clip and from its edges,
# so that finite differences never cross a clip or leave the domain.
INTERVAL_MARGIN = 0.05
EXTREME = 1e4


class MissingStrategy(LookupError):
    """A spec states a domain this module cannot draw."""


@dataclass(frozen=True)
class Draw:
    """What a generator needs: the random source, the predictions' shape and the case."""

    rng: np.random.Generator
    shape: tuple[int, ...]
    layout: str  # "same": targets shaped like predictions; "labels": (N,) class labels
    variant: str
    params: Mapping[str, Any]

    @property
    def samples(self) -> int:
        return self.shape[0]

    @property
    def classes(self) -> int:
        return self.shape[-1]

    @property
    def target_shape(self) -> tuple[int, ...]:
        return (self.samples,) if self.layout == "labels" else self.shape


@dataclass(frozen=True)
class Invalid:
    """One way to break a domain: `apply` returns the bad array, a regex that the error message
    must match (naming the field, the index and the value) and the index."""

    label: str
    apply: Callable[[Array, Draw, str], tuple[Array, str, tuple[int, ...]]]


Generator = Callable[[Draw, tuple[int, ...]], Array]


@dataclass(frozen=True)
class Kind:
    """How to draw one domain.

    draw: valid values, kept away from kinks, clips and domain edges.
    extreme: valid values at the edges: probabilities exactly 0 and 1, reals of +-1e4, zeros.
    variants: named sub-kinds each drawn in turn (hard or soft labels, {-1, 1} or {0, 1}).
    integral: rounding a draw to integers keeps it valid.
    invalid: values outside the domain, with the message each must raise.
    """

    draw: Generator
    extreme: Generator
    variants: tuple[str, ...] = ("",)
    integral: bool = False
    invalid: tuple[Invalid, ...] = ()


# ---------------------------------------------------------------- invalid values


def _last(d: Draw, field: str) -> tuple[int, ...]:
    """The last element: an index with no zeros in it shows the message names it."""
    shape = d.target_shape if field == "targets" else d.shape
    return tuple(size - 1 for size in shape)


def _at(index: tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in index)


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _set_value(value: float, expected: str) -> Invalid:
    def apply(array: Array, d: Draw, field: str) -> tuple[Array, str, tuple[int, ...]]:
        index = _last(d, field)
        bad = array.copy()
        bad[index] = value
        return bad, rf"{field}\[{_at(index)}\] = {_text(value)}; expected {expected}", index

    return Invalid(f"{value:g}", apply)


def _row_sum(total: float) -> Invalid:
    def apply(array: Array, d: Draw, field: str) -> tuple[Array, str, tuple[int, ...]]:
        row = d.samples - 1
        bad = array.copy()
        bad[row] = 0.0
        bad[row, 0] = total
        return bad, rf"row {field}\[{row}\] sums to {total:g}; expected a distribution", (row,)

    return Invalid(f"row_sum_{total:g}", apply)


def _two_ones_in_a_row(array: Array, d: Draw, field: str) -> tuple[Array, str, tuple[int, ...]]:
    row = d.samples - 1
    bad = array.copy()
    bad[row] = 0.0
    bad[row, :2] = 1.0
    return bad, rf"row {field}\[{row}\] has 2 ones; expected one-hot rows", (row,)


def _signs_mix(array: Array, d: Draw, field: str) -> tuple[Array, str, tuple[int, ...]]:
    bad = np.ones_like(array)
    first_zero = (d.samples - 2,) + (0,) * (array.ndim - 1)
    bad[first_zero] = 0.0
    bad[(d.samples - 1,) + (0,) * (array.ndim - 1)] = -1.0
    message = rf"{field}\[{_at(first_zero)}\] = 0 but {field} also hold -1"
    return bad, message, first_zero


# ---------------------------------------------------------------- kinds, one per domain type


def _interval(domain: Interval, role: str) -> Kind:
    low, high = domain.low, domain.high
    low_closed = domain.closed in ("both", "left")
    bounded = not (math.isinf(low) or math.isinf(high))

    def draw(d: Draw, shape: tuple[int, ...]) -> Array:
        if bounded:
            margin = INTERVAL_MARGIN * (high - low)
            if d.variant == "hard":
                values = d.rng.integers(0, 2, shape).astype(np.float64)
                return low + (high - low) * values
            return d.rng.uniform(low + margin, high - margin, shape)
        if not math.isinf(low):
            return low + d.rng.uniform(0.1, 3.0, shape)
        if not math.isinf(high):
            return high - d.rng.uniform(0.1, 3.0, shape)
        return d.rng.normal(0.0, 1.5, shape)

    def extreme(d: Draw, shape: tuple[int, ...]) -> Array:
        if bounded:
            return d.rng.choice([low, high], shape)
        if not math.isinf(low):
            edge = low if low_closed else low + 1e-6
            return d.rng.choice([edge, low + 1.0, low + EXTREME], shape)
        if not math.isinf(high):
            return d.rng.choice([high - EXTREME, high - 1.0], shape)
        largest = min(EXTREME, domain.finite_up_to)
        return d.rng.choice([-largest, -1.0, 0.0, 1.0, largest], shape)

    expected = re.escape(domain.expected)
    invalid = []
    if not math.isinf(low):
        outside = low - (0.25 if bounded else 1.0) if low_closed else low
        invalid.append(_set_value(outside, expected))
    if not math.isinf(high):
        invalid.append(_set_value(high + 0.5, expected))
    variants = ("hard", "soft") if bounded and role == "targets" else ("",)
    # Rounding keeps a value valid on a closed-below half line or the whole line.
    integral = not bounded and (math.isinf(low) or low_closed) and math.isinf(high)
    return Kind(draw, extreme, variants, integral, tuple(invalid))


def _values_in(domain: ValuesIn) -> Kind:
    def draw(d: Draw, shape: tuple[int, ...]) -> Array:
        values = np.asarray(domain.values)[d.rng.integers(0, len(domain.values), shape)]
        values.flat[: len(domain.values)] = domain.values  # every value present
        return values

    choices = r"one of \{" + ", ".join(_text(v) for v in domain.values) + r"\}"
    invalid = (_set_value(0.5, choices), _set_value(2.0, choices))
    return Kind(draw, draw, integral=True, invalid=invalid)


def _signs(domain: Signs) -> Kind:
    def draw(d: Draw, shape: tuple[int, ...]) -> Array:
        labels = d.rng.integers(0, 2, shape).astype(np.float64)
        labels.flat[:2] = (0.0, 1.0)  # both classes present, so the {0, 1} mapping is exercised
        return 2.0 * labels - 1.0 if d.variant == "signed" else labels

    choices = r"one of \{-1, 0, 1\}"
    invalid = (_set_value(0.5, choices), _set_value(2.0, choices), Invalid("mix", _signs_mix))
    return Kind(draw, draw, ("signed", "binary"), integral=True, invalid=invalid)


def _labels(domain: Labels) -> Kind:
    def draw(d: Draw, shape: tuple[int, ...]) -> Array:
        labels = d.rng.integers(0, d.classes, d.samples).astype(np.float64)
        ignored_label = d.params.get(domain.ignore) if domain.ignore else None
        if ignored_label is not None:
            # A third of the samples are ignored, never the first: something is always scored.
            ignored = d.rng.random(d.samples) < 1 / 3
            ignored[0] = False
            labels[ignored] = ignored_label
        return labels

    expected = rf"an integer class label in \[0, {CLASSES}\)"
    invalid = tuple(_set_value(value, expected) for value in (float(CLASSES), 1.5, -1.0))
    return Kind(draw, draw, integral=True, invalid=invalid)


def _one_hot(d: Draw, shape: tuple[int, ...]) -> Array:
    samples, classes = shape
    return np.eye(classes)[d.rng.integers(0, classes, samples)]


def _one_hot_rows(domain: OneHotRows) -> Kind:
    invalid = (_set_value(0.5, "one-hot rows"), Invalid("two_ones", _two_ones_in_a_row))
    return Kind(_one_hot, _one_hot, integral=True, invalid=invalid)


def _simplex_rows(domain: SimplexRows, role: str) -> Kind:
    def draw(d: Draw, shape: tuple[int, ...]) -> Array:
        if d.variant == "hard":
            return _one_hot(d, shape)
        samples, classes = shape
        # Mixed with the uniform row so that every entry is at least 0.2 / K: far from a clip.
        rows = 0.8 * d.rng.dirichlet(np.full(classes, 2.0), samples) + 0.2 / classes
        if d.variant == "soft":
            # An exact zero in every other row: the 0 log 0 = 0 convention is exercised.
            rows[::2, d.rng.integers(0, classes)] = 0.0
            rows /= rows.sum(axis=1, keepdims=True)
        return rows

    invalid = (_row_sum(1.5), _set_value(-0.5, "non-negative probabilities"))
    variants = ("hard", "soft") if role == "targets" else ("",)
    return Kind(draw, _one_hot, variants, invalid=invalid)


def kind_of(domain: Domain, role: str) -> Kind:
    """How to draw `domain` as the predictions or the targets ("predictions" or "targets")."""
    if isinstance(domain, Interval):
        return _interval(domain, role)
    if isinstance(domain, ValuesIn):
        return _values_in(domain)
    if isinstance(domain, Signs):
        return _signs(domain)
    if isinstance(domain, Labels):
        return _labels(domain)
    if isinstance(domain, OneHotRows):
        return _one_hot_rows(domain)
    if isinstance(domain, SimplexRows):
        return _simplex_rows(domain, role)
    raise MissingStrategy(f"no strategy for the domain {domain!r}; add one to kind_of")


# ---------------------------------------------------------------- parameters


class _Default:
    """The parameter's declared default."""

    def __repr__(self) -> str:
        return "default"


class _PerClass:
    """One distinct weight per class, resolved once K is known."""

    def __repr__(self) -> str:
        return "per_class"

    def __call__(self, classes: int) -> tuple[float, ...]:
        return tuple(0.5 + 0.75 * c for c in range(classes))


DEFAULT = _Default()
PER_CLASS = _PerClass()

# The settings each parameter name is tried with, as far as the parameter accepts them (alpha
# is nullable in one loss and not another; power is a float in one and 1 or 2 in another).
# Every case takes the product over its loss's parameters, so that e.g. label smoothing is tested
# with and without logits. A parameter not named here is tried at its default.
PARAM_SETTINGS: dict[str, tuple[Any, ...]] = {
    "from_logits": (False, True),
    "log_input": (False, True),
    "predictions_are_labels": (False, True),
    "label_smoothing": (0.0, 0.2),
    "pos_weight": (1.0, 2.5),
    "class_weight": (None, PER_CLASS),
    "ignore_index": (None, -100),
    "gamma": (0.0, 0.5, 2.0),
    "alpha": (None, 0.25, 1.5),
    "delta": (1.0, 0.3),
    "beta": (1.0, 0.3),
    "quantile": (0.5, 0.1, 0.9),
    "threshold": (0.5, 0.3),
    "smooth": (1e-6, 1.0),
    "margin": (1.0, 0.5),
    "power": (DEFAULT, -1, 1, 1.5, 2, 3),
}


def _accepted(spec: LossSpec, name: str) -> tuple[Any, ...]:
    param = next(param for param in spec.params if param.name == name)
    accepted = []
    for value in PARAM_SETTINGS.get(name, (DEFAULT,)):
        if value is DEFAULT or isinstance(value, _PerClass):
            accepted.append(value)
            continue
        try:
            param.bind(value)
        except ParameterError:
            continue
        accepted.append(value)
    return tuple(accepted)


# ---------------------------------------------------------------- cases


def layouts(spec: LossSpec, ndim: int) -> tuple[str, ...]:
    """The target layouts a spec accepts for predictions of `ndim` dimensions."""
    if ndim == 1 or spec.target_shape == "same":
        return ("same",)
    if spec.target_shape == "labels":
        return ("labels",)
    return ("same", "labels")


@dataclass(frozen=True)
class Inputs:
    """One drawn request: arrays and the loss's parameters, resolved for this K."""

    predictions: Array
    targets: Array
    params: dict[str, Any]


@dataclass(frozen=True)
class Case:
    """A loss with one choice of input dimensions, target layout, variant and parameters."""

    spec: LossSpec
    ndim: int
    layout: str
    variant: str
    settings: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def id(self) -> str:
        parts = [self.spec.name, f"{self.ndim}d"]
        if self.layout != "same":
            parts.append(self.layout)
        if self.variant:
            parts.append(self.variant)
        declared = {param.name: param.default for param in self.spec.params}
        parts += [
            f"{name}={value!r}"
            for name, value in self.settings
            if value is not DEFAULT and value != declared[name]
        ]
        return "-".join(parts)

    @property
    def seed(self) -> int:
        """Stable per case, so that a failure reproduces and cases do not share draws."""
        return zlib.crc32(self.id.encode())

    def resolve(self, classes: int = CLASSES) -> dict[str, Any]:
        declared = {param.name: param.default for param in self.spec.params}
        resolved = dict(declared)
        for name, value in self.settings:
            if value is DEFAULT:
                value = declared[name]
            elif isinstance(value, _PerClass):
                value = value(classes)
            resolved[name] = value
        return resolved

    def domain(self, role: str, params: Mapping[str, Any] | None = None) -> Domain:
        """The domain the registry states for this case's predictions or targets."""
        values = self.spec.predictions if role == "predictions" else self.spec.targets
        given = resolve(
            values, self.resolve() if params is None else params, self.ndim, self.layout == "labels"
        )
        if given is None:
            raise MissingStrategy(f"{self.id}: no {role} domain applies")
        return given.domain

    def kind(self, role: str) -> Kind:
        return kind_of(self.domain(role), role)

    def draw(
        self,
        seed: int | None = None,
        *,
        samples: int = SAMPLES,
        classes: int = CLASSES,
        extreme: bool = False,
    ) -> Inputs:
        """Valid inputs for this case (at the edges of the domain with `extreme`)."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        shape = (samples,) if self.ndim == 1 else (samples, classes)
        params = self.resolve(classes)
        d = Draw(rng, shape, self.layout, self.variant, params)
        # The variant (hard or soft labels, signs or {0, 1}) is the targets'.
        plain = Draw(rng, shape, self.layout, "", params)
        prediction, target = self.kind("predictions"), self.kind("targets")
        predictions = (prediction.extreme if extreme else prediction.draw)(plain, shape)
        targets = (target.extreme if extreme else target.draw)(d, d.target_shape)
        return Inputs(predictions, targets, self._given(params))

    def _given(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters the case sets (the rest keep their defaults)."""
        return {name: params[name] for name, _ in self.settings}

    def context(self, inputs: Inputs) -> Draw:
        """The draw context of `inputs`, for the `Invalid` mutations."""
        rng = np.random.default_rng(self.seed)
        return Draw(rng, inputs.predictions.shape, self.layout, self.variant, inputs.params)


def _settings(spec: LossSpec) -> Iterator[tuple[tuple[str, Any], ...]]:
    names = [param.name for param in spec.params]
    choices = [_accepted(spec, name) for name in names]
    for values in itertools.product(*choices):
        yield tuple(zip(names, values, strict=True))


def cases_of(spec: LossSpec, *, all_settings: bool = True) -> list[Case]:
    """Every case of one loss; with `all_settings=False` only its default parameters."""
    result = []
    settings = list(_settings(spec)) if all_settings else [()]
    for ndim in spec.ndims:
        for layout in layouts(spec, ndim):
            for chosen in settings:
                probe = Case(spec, ndim, layout, "", chosen)
                for variant in probe.kind("targets").variants:
                    result.append(Case(spec, ndim, layout, variant, chosen))
    return result


def all_cases(
    *, all_settings: bool = True, where: Callable[[LossSpec], bool] = lambda spec: True
) -> list[Case]:
    """Every case of every registered loss that `where` selects."""
    return [
        case
        for spec in LOSSES.values()
        if where(spec)
        for case in cases_of(spec, all_settings=all_settings)
    ]


def params_of(cases: list[Case]) -> list[Any]:
    """`cases` as pytest params with readable ids."""
    import pytest

    return [pytest.param(case, id=case.id) for case in cases]


def sample_weight(rng: np.random.Generator, samples: int) -> Array:
    """Positive weights of different sizes, with one 0: it must drop its sample entirely."""
    weights = rng.uniform(0.2, 2.0, samples)
    weights[-1] = 0.0
    return weights
