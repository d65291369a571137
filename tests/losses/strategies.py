"""Valid random inputs for every registered loss, derived from what its `LossSpec` declares.

The one place that knows how to draw inputs. `PREDICTIONS` and `TARGETS` are keyed on the input
conventions a spec declares (its `predictions` and `targets` text) and `PARAM_SETTINGS` on its
parameter names. A loss that declares a convention or a parameter missing here gets cases whose
every draw fails with a message saying what to add (and `test_registry` lists them), so a newly
registered loss cannot go silently untested.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from service.losses import LOSSES, LossSpec
from service.losses.registry import (
    PROBABILITIES_OR_LOGITS,
    REGRESSION_VALUES,
    ROW_PROBABILITIES_OR_LOGITS,
)

Array = npt.NDArray[np.float64]

SAMPLES = 6
CLASSES = 3
# Probabilities are drawn this far from 0 and 1, far from any eps clip and from the edges of
# [0, 1], so that finite differences never cross a clip or leave the domain.
PROBABILITY_MARGIN = 0.05
EXTREME = 1e4


class MissingStrategy(LookupError):
    """A spec declares an input convention or a parameter this module cannot draw."""


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
    """One way to break a convention's domain: `apply` returns the bad array and a regex that
    the error message must match (naming the field, the index and the value)."""

    label: str
    apply: Callable[[Array, Draw, str], tuple[Array, str, tuple[int, ...]]]


Generator = Callable[[Draw], Array]


@dataclass(frozen=True)
class Kind:
    """One declared input convention.

    draw: valid values, kept away from kinks, clips and domain edges.
    extreme: valid values at the edges: probabilities exactly 0 and 1, logits and scores of
        +-1e4, zero counts.
    variants: named sub-conventions each drawn in turn (hard or soft labels, {-1, 1} or {0, 1}).
    integral: rounding a draw to integers keeps it valid (given the parameters).
    invalid: values outside the domain, with the message each must raise.
    """

    draw: Generator
    extreme: Generator | None = None
    variants: tuple[str, ...] = ("",)
    integral: Callable[[Mapping[str, Any]], bool] = lambda params: False
    invalid: tuple[Invalid, ...] = ()


def _always(params: Mapping[str, Any]) -> bool:
    return True


def _with_logits(params: Mapping[str, Any]) -> bool:
    return bool(params.get("from_logits"))


# ---------------------------------------------------------------- generators


def _reals(d: Draw) -> Array:
    return d.rng.normal(0.0, 1.5, d.shape)


def _reals_extreme(d: Draw) -> Array:
    return d.rng.choice([-EXTREME, -1.0, 0.0, 1.0, EXTREME], d.shape)


def _non_negative(d: Draw) -> Array:
    return d.rng.uniform(0.1, 3.0, d.shape)


def _non_negative_extreme(d: Draw) -> Array:
    return d.rng.choice([0.0, 1.0, EXTREME], d.shape)


def _counts(d: Draw) -> Array:
    return d.rng.poisson(2.0, d.shape).astype(np.float64)


def _probabilities(d: Draw) -> Array:
    return d.rng.uniform(PROBABILITY_MARGIN, 1.0 - PROBABILITY_MARGIN, d.shape)


def _zeros_and_ones(d: Draw) -> Array:
    return d.rng.integers(0, 2, d.shape).astype(np.float64)


def _logits(d: Draw) -> Array:
    return d.rng.normal(0.0, 2.0, d.shape)


def _extreme_logits(d: Draw) -> Array:
    return d.rng.choice([-EXTREME, EXTREME], d.shape)


def _one_hot(d: Draw, shape: tuple[int, ...] | None = None) -> Array:
    samples, classes = shape or d.shape
    return np.eye(classes)[d.rng.integers(0, classes, samples)]


def _simplex(d: Draw) -> Array:
    # Mixed with the uniform row so that every entry is at least 0.2 / K: far from any clip.
    rows = d.rng.dirichlet(np.full(d.classes, 2.0), d.samples)
    return 0.8 * rows + 0.2 / d.classes


def _probabilities_or_logits(d: Draw) -> Array:
    return _logits(d) if d.params.get("from_logits") else _probabilities(d)


def _probabilities_or_logits_extreme(d: Draw) -> Array:
    return _extreme_logits(d) if d.params.get("from_logits") else _zeros_and_ones(d)


def _simplex_or_logits(d: Draw) -> Array:
    return _logits(d) if d.params.get("from_logits") else _simplex(d)


def _simplex_or_logits_extreme(d: Draw) -> Array:
    return _extreme_logits(d) if d.params.get("from_logits") else _one_hot(d)


def _binary_labels(d: Draw) -> Array:
    if d.variant == "soft":
        return d.rng.uniform(0.0, 1.0, d.shape)
    return _zeros_and_ones(d)


def _hinge_targets(d: Draw) -> Array:
    labels = _zeros_and_ones(d)
    labels.flat[:2] = (0.0, 1.0)  # both classes present, so the {0, 1} mapping is exercised
    return 2.0 * labels - 1.0 if d.variant == "signed" else labels


def _label_rows(d: Draw) -> Array:
    if d.variant == "soft":
        return d.rng.dirichlet(np.ones(d.classes), d.samples)
    return _one_hot(d)


def _class_labels(d: Draw) -> Array:
    labels = d.rng.integers(0, d.classes, d.samples).astype(np.float64)
    ignore_index = d.params.get("ignore_index")
    if ignore_index is not None:
        # A third of the samples are ignored, never the first: something is always scored.
        ignored = d.rng.random(d.samples) < 1 / 3
        ignored[0] = False
        labels[ignored] = ignore_index
    return labels


def _distributions(d: Draw) -> Array:
    rows = _simplex(d)
    if d.variant == "with_zeros":
        # One exact zero per row: the 0 log 0 = 0 convention is exercised.
        rows[np.arange(d.samples), d.rng.integers(0, d.classes, d.samples)] = 0.0
        rows /= rows.sum(axis=1, keepdims=True)
    return rows


def _zero_one_predictions(d: Draw) -> Array:
    if len(d.shape) == 2:
        return _logits(d)
    if d.params.get("threshold", 0.5) is None:
        return d.rng.integers(0, 3, d.shape).astype(np.float64)
    return d.rng.uniform(0.0, 1.0, d.shape)


def _zero_one_predictions_extreme(d: Draw) -> Array:
    if len(d.shape) == 2:
        return _extreme_logits(d)
    return _zero_one_predictions(d) if d.params.get("threshold") is None else _zeros_and_ones(d)


def _zero_one_targets(d: Draw) -> Array:
    if d.layout == "labels":
        return d.rng.integers(0, d.classes, d.samples).astype(np.float64)
    if len(d.shape) == 2:
        return _one_hot(d)
    if d.params.get("threshold", 0.5) is None:
        return d.rng.integers(0, 3, d.shape).astype(np.float64)
    return _zeros_and_ones(d)


# ---------------------------------------------------------------- invalid values


def _last(d: Draw, field: str) -> tuple[int, ...]:
    """The last element: an index with no zeros in it shows the message names it."""
    shape = d.target_shape if field == "targets" else d.shape
    return tuple(size - 1 for size in shape)


def _at(index: tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in index)


def _set_value(value: float, expected: str) -> Invalid:
    def apply(array: Array, d: Draw, field: str) -> tuple[Array, str, tuple[int, ...]]:
        index = _last(d, field)
        bad = array.copy()
        bad[index] = value
        text = str(int(value)) if float(value).is_integer() else repr(value)
        return bad, rf"{field}\[{_at(index)}\] = {text}; expected {expected}", index

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


def _hinge_mix(array: Array, d: Draw, field: str) -> tuple[Array, str, tuple[int, ...]]:
    bad = np.ones_like(array)
    first_zero = (d.samples - 2,) + (0,) * (array.ndim - 1)
    bad[first_zero] = 0.0
    bad[(d.samples - 1,) + (0,) * (array.ndim - 1)] = -1.0
    message = rf"{field}\[{_at(first_zero)}\] = 0 but targets also hold -1"
    return bad, message, first_zero


PROBABILITY = r"a probability in \[0, 1\]"
NON_NEGATIVE_ROWS = "non-negative probabilities"
INVALID_PROBABILITY = (_set_value(1.5, PROBABILITY), _set_value(-0.25, PROBABILITY))
INVALID_ROWS = (_row_sum(1.5), _set_value(-0.5, NON_NEGATIVE_ROWS))


def _invalid_labels(classes_text: str) -> tuple[Invalid, ...]:
    expected = rf"an integer class label in \[0, {classes_text}\)"
    return (_set_value(3.0, expected), _set_value(1.5, expected), _set_value(-1.0, expected))


# ---------------------------------------------------------------- the mapping

PREDICTIONS: dict[str, Kind] = {
    REGRESSION_VALUES: Kind(_reals, _reals_extreme, integral=_always),
    "real values >= 0": Kind(
        _non_negative,
        _non_negative_extreme,
        integral=_always,
        invalid=(_set_value(-1.0, "a value >= 0 for msle"),),
    ),
    "predicted rates >= 0": Kind(
        _non_negative,
        _non_negative_extreme,
        integral=_always,
        invalid=(_set_value(-1.0, "a predicted rate >= 0 for poisson"),),
    ),
    "vectors, one row per sample": Kind(_reals, _reals_extreme, integral=_always),
    PROBABILITIES_OR_LOGITS: Kind(
        _probabilities_or_logits,
        _probabilities_or_logits_extreme,
        integral=_with_logits,
        invalid=INVALID_PROBABILITY,
    ),
    "real-valued scores": Kind(_logits, _extreme_logits, integral=_always),
    "real-valued scores, one column per class": Kind(_logits, _extreme_logits, integral=_always),
    (
        "(N, K) scores (argmax), or (N,) probabilities compared with threshold, or (N,) "
        "labels when threshold is null"
    ): Kind(_zero_one_predictions, _zero_one_predictions_extreme, integral=_always),
    ROW_PROBABILITIES_OR_LOGITS: Kind(
        _simplex_or_logits, _simplex_or_logits_extreme, integral=_with_logits, invalid=INVALID_ROWS
    ),
    "rows of probabilities summing to 1, or logits with from_logits=true": Kind(
        _simplex_or_logits, _simplex_or_logits_extreme, integral=_with_logits, invalid=INVALID_ROWS
    ),
    "rows of probabilities summing to 1": Kind(_simplex, _one_hot, invalid=INVALID_ROWS),
    "probabilities in [0, 1], one row per sample": Kind(
        _probabilities, _zeros_and_ones, invalid=INVALID_PROBABILITY
    ),
}

TARGETS: dict[str, Kind] = {
    REGRESSION_VALUES: Kind(_reals, _reals_extreme, integral=_always),
    "real values >= 0": Kind(
        _non_negative,
        _non_negative_extreme,
        integral=_always,
        invalid=(_set_value(-1.0, "a value >= 0 for msle"),),
    ),
    "counts >= 0": Kind(
        _counts,
        _non_negative_extreme,
        integral=_always,
        invalid=(_set_value(-1.0, "a count >= 0 for poisson"),),
    ),
    "vectors, one row per sample": Kind(_reals, _reals_extreme, integral=_always),
    "labels or soft labels in [0, 1]; (N, K) is multi-label": Kind(
        _binary_labels, variants=("hard", "soft"), invalid=INVALID_PROBABILITY
    ),
    "all in {-1, 1}, or all in {0, 1}": Kind(
        _hinge_targets,
        variants=("signed", "binary"),
        invalid=(
            _set_value(0.5, r"one of \{-1, 0, 1\}"),
            _set_value(2.0, r"one of \{-1, 0, 1\}"),
            Invalid("mix", _hinge_mix),
        ),
    ),
    "one-hot rows": Kind(
        _one_hot,
        invalid=(_set_value(0.5, "one-hot rows"), Invalid("two_ones", _two_ones_in_a_row)),
    ),
    "(N,) labels, or one-hot rows for (N, K) scores": Kind(_zero_one_targets),
    "one-hot or soft label rows summing to 1": Kind(
        _label_rows, variants=("one_hot", "soft"), invalid=INVALID_ROWS
    ),
    "(N,) integer class labels in [0, K)": Kind(
        _class_labels, invalid=_invalid_labels(str(CLASSES))
    ),
    "rows of probabilities summing to 1": Kind(
        _distributions, variants=("dense", "with_zeros"), invalid=INVALID_ROWS
    ),
    "labels or soft labels in [0, 1], one row per sample": Kind(
        _binary_labels, variants=("hard", "soft"), invalid=INVALID_PROBABILITY
    ),
}


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

# The settings each parameter is tested with; every case takes the product over its loss's
# parameters, so that e.g. label smoothing is tested with and without logits.
PARAM_SETTINGS: dict[str, tuple[Any, ...]] = {
    "from_logits": (False, True),
    "label_smoothing": (0.0, 0.2),
    "pos_weight": (1.0, 2.5),
    "class_weight": (None, PER_CLASS),
    "ignore_index": (None, -100),
    "eps": (DEFAULT,),
    "gamma": (0.0, 0.5, 2.0),
    "alpha": (None, 0.25),
    "delta": (1.0, 0.3),
    "beta": (1.0, 0.3),
    "quantile": (0.5, 0.1, 0.9),
    "threshold": (0.5, None),
    "smooth": (1e-6, 1.0),
}


def _missing(what: str) -> Kind:
    def fail(d: Draw) -> Array:
        raise MissingStrategy(what)

    return Kind(fail, fail)


def prediction_kind(spec: LossSpec) -> Kind:
    kind = PREDICTIONS.get(spec.predictions)
    if kind is None:
        return _missing(
            f"{spec.name}: no generator for predictions {spec.predictions!r}; add one to "
            "PREDICTIONS in tests/losses/strategies.py"
        )
    return kind


def target_kind(spec: LossSpec) -> Kind:
    kind = TARGETS.get(spec.targets)
    if kind is None:
        return _missing(
            f"{spec.name}: no generator for targets {spec.targets!r}; add one to TARGETS in "
            "tests/losses/strategies.py"
        )
    return kind


def missing_strategies(spec: LossSpec) -> list[str]:
    """What this module lacks to draw inputs for `spec` (empty when nothing)."""
    missing = []
    if spec.predictions not in PREDICTIONS:
        missing.append(f"PREDICTIONS[{spec.predictions!r}]")
    if spec.targets not in TARGETS:
        missing.append(f"TARGETS[{spec.targets!r}]")
    missing += [f"PARAM_SETTINGS[{p.name!r}]" for p in spec.params if p.name not in PARAM_SETTINGS]
    return missing


def layouts(spec: LossSpec, ndim: int) -> tuple[str, ...]:
    """The target layouts a spec accepts for predictions of `ndim` dimensions."""
    if ndim == 1 or spec.target_shape == "same":
        return ("same",)
    if spec.target_shape == "labels":
        return ("labels",)
    if spec.target_shape == "same_or_labels":
        return ("same", "labels")
    raise MissingStrategy(f"{spec.name}: unknown target_shape {spec.target_shape!r}")


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

    def resolve(self, classes: int) -> dict[str, Any]:
        declared = {param.name: param.default for param in self.spec.params}
        resolved = {}
        for name, value in self.settings:
            if value is DEFAULT:
                value = declared[name]
            elif isinstance(value, _PerClass):
                value = value(classes)
            resolved[name] = value
        return resolved

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
        for name, _ in self.settings:
            if name not in PARAM_SETTINGS:
                raise MissingStrategy(
                    f"{self.name}: no settings for parameter {name!r}; add them to "
                    "PARAM_SETTINGS in tests/losses/strategies.py"
                )
        prediction, target = prediction_kind(self.spec), target_kind(self.spec)
        if extreme:
            predictions = (prediction.extreme or prediction.draw)(d)
            targets = (target.extreme or target.draw)(d)
        else:
            predictions, targets = prediction.draw(d), target.draw(d)
        return Inputs(predictions, targets, params)

    def context(self, inputs: Inputs) -> Draw:
        """The draw context of `inputs`, for the `Invalid` mutations."""
        rng = np.random.default_rng(self.seed)
        return Draw(rng, inputs.predictions.shape, self.layout, self.variant, inputs.params)


def _settings(spec: LossSpec) -> Iterator[tuple[tuple[str, Any], ...]]:
    names = [param.name for param in spec.params]
    choices = [PARAM_SETTINGS.get(name, (DEFAULT,)) for name in names]
    for values in itertools.product(*choices):
        yield tuple(zip(names, values, strict=True))


def cases_of(spec: LossSpec, *, all_settings: bool = True) -> list[Case]:
    """Every case of one loss; with `all_settings=False` only its default parameters."""
    result = []
    variants = target_kind(spec).variants
    settings = list(_settings(spec)) if all_settings else [()]
    for ndim in spec.ndims:
        for layout in layouts(spec, ndim):
            for variant in variants:
                for chosen in settings:
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
