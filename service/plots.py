"""Pictures of each loss: the per-sample loss and its slope against the prediction, as SVG or PNG.

The curves come from the registry: the domains of a loss's predictions and targets choose what
is drawn (a residual range around the target for regression, probabilities or logits for y = 0
and y = 1, the true class's probability or score for (N, K) losses, the score against y = 1 and
y = -1 for margin losses, the angle between two vectors for cosine similarity), and the core
computes every point. The loss core stays free of plotting: this module only calls it.

Drawing uses matplotlib's object API on the Agg canvas (no display, no pyplot state). Renders
are cached by their arguments; one lock serialises them, as matplotlib's text layout is not
made for concurrent use.

`python -m service.plots DIR docs/losses.md` writes the gallery of docs/losses.md (`make gallery`).
"""

from __future__ import annotations

import functools
import io
import math
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .losses import LOSSES, LossSpec, ParameterError, get_loss
from .losses.base import FloatArray
from .losses.domains import (
    Interval,
    Labels,
    OneHotRows,
    Signs,
    SimplexRows,
    ValuesIn,
    check_values,
    resolve,
)
from .losses.params import bind_params

__all__ = [
    "MAX_TARGETS",
    "POINTS",
    "Curve",
    "Picture",
    "curves",
    "gallery_markdown",
    "render",
    "write_gallery",
]

Format = Literal["svg", "png"]
# Points per curve: at most MAX_TARGETS curves, so at most 2,000 points a picture.
POINTS = 400
MAX_TARGETS = 5
# Classes of the (N, K) losses' pictures: the true class is the first.
CLASSES = 3
LOGIT_RANGE = 6.0
SCORE_RANGE = 3.0
RESIDUAL_RANGE = 3.0

_RENDER_LOCK = threading.Lock()


@functools.cache
def _figure_class() -> Any:
    """matplotlib's Figure, imported on the first picture: a worker that draws none never
    loads matplotlib (~0.3 s and tens of MB)."""
    import matplotlib
    from matplotlib.figure import Figure

    # Deterministic SVG: ids from a fixed salt, text as text (no embedded glyphs), no date.
    matplotlib.rcParams["svg.hashsalt"] = "loss-service"
    matplotlib.rcParams["svg.fonttype"] = "none"
    return Figure


@dataclass(frozen=True)
class Curve:
    """One curve: the loss and its slope d loss / d x (None when the loss has no gradient)."""

    label: str
    x: FloatArray
    loss: FloatArray
    slope: FloatArray | None


@dataclass(frozen=True)
class Picture:
    """What one picture shows: its x axis and its curves."""

    xlabel: str
    curves: list[Curve]


def _evaluate(
    spec: LossSpec, params: Mapping[str, Any], predictions: FloatArray, targets: FloatArray
) -> tuple[FloatArray, FloatArray | None]:
    """Per-sample losses and d l_i / d predictions_i from the core, one sample per point."""
    with np.errstate(all="ignore"):
        result = spec.function(predictions, targets, gradient=spec.differentiable, **params)
        losses, gradient = result.losses, result.scaled_gradient()
        if spec.sqrt_of_mean:
            # RMSE of one sample: sqrt(r^2) = |r|, slope d sqrt(l) = dl / (2 sqrt(l)).
            root = np.sqrt(losses)
            safe = np.where(root > 0, root, 1.0)
            gradient = None if gradient is None else np.where(root > 0, gradient / (2 * safe), 0.0)
            losses = root
    return losses, gradient


def _finite(values: FloatArray) -> FloatArray:
    """Non-finite points (a loss's pole at the edge of its domain) are left out of the line."""
    return np.where(np.isfinite(values), values, np.nan)


def _is_unit(domain: Any) -> bool:
    """The interval [0, 1]: probabilities, or labels and soft labels."""
    return isinstance(domain, Interval) and (domain.low, domain.high) == (0.0, 1.0)


def _targets_for(domain: Any, given: tuple[float, ...] | None) -> tuple[float, ...]:
    if given:
        return given
    if isinstance(domain, Signs):
        return (1.0, -1.0)
    if isinstance(domain, ValuesIn) or _is_unit(domain):
        return (0.0, 1.0)
    return (1.0,)


def _x_range(domain: Any, target: float, params: Mapping[str, Any]) -> FloatArray:
    """The predictions drawn for one target, from the predictions' domain."""
    if isinstance(domain, ValuesIn):
        return np.asarray(domain.values, dtype=np.float64)
    assert isinstance(domain, Interval)
    if _is_unit(domain):
        return np.linspace(0.001, 0.999, POINTS)
    if domain.noun == "a label":
        return np.arange(target - 3.0, target + 4.0)
    if "threshold" in params:
        threshold = float(params["threshold"])
        return np.linspace(threshold - 1.0, threshold + 1.0, POINTS)
    if "logit" in domain.noun:
        return np.linspace(-LOGIT_RANGE, LOGIT_RANGE, POINTS)
    if "log-rate" in domain.noun:
        centre = math.log(target) if target > 0 else 0.0
        return np.linspace(centre - RESIDUAL_RANGE, centre + RESIDUAL_RANGE, POINTS)
    if "score" in domain.noun:
        return np.linspace(-SCORE_RANGE, SCORE_RANGE, POINTS)
    if math.isinf(domain.low):
        return np.linspace(target - RESIDUAL_RANGE, target + RESIDUAL_RANGE, POINTS)
    start = domain.low if domain.closed in ("both", "left") else domain.low + 0.02
    return np.linspace(start, max(target, 1.0) + RESIDUAL_RANGE, POINTS)


def _one_dimensional(
    spec: LossSpec, params: Mapping[str, Any], given: tuple[float, ...] | None
) -> Picture:
    target_domain = resolve(spec.targets, params, 1)
    prediction_domain = resolve(spec.predictions, params, 1)
    assert target_domain is not None
    assert prediction_domain is not None
    result = []
    for target in _targets_for(target_domain.domain, given):
        x = _x_range(prediction_domain.domain, target, params)
        losses, slope = _evaluate(spec, params, x, np.full_like(x, target))
        label = f"y = {target:g}"
        result.append(Curve(label, x, _finite(losses), _opt(slope)))
    noun = prediction_domain.domain.noun if isinstance(prediction_domain.domain, Interval) else ""
    xlabel = "prediction p" + (f" ({noun.removeprefix('a ').removeprefix('an ')})" if noun else "")
    return Picture(xlabel, result)


RowPath = tuple[FloatArray, FloatArray, FloatArray]  # x, the rows at each x, d rows / d x


def _probability_path() -> RowPath:
    """The first class's probability from 0 to 1, the others sharing the rest evenly."""
    x = np.linspace(0.001, 0.999, POINTS)
    rows = np.column_stack([x, *(((1.0 - x) / (CLASSES - 1),) * (CLASSES - 1))])
    return x, rows, np.r_[1.0, np.full(CLASSES - 1, -1.0 / (CLASSES - 1))]


def _first_entry_path(span: float) -> RowPath:
    """The first class's logit or score from -span to span, the others 0."""
    x = np.linspace(-span, span, POINTS)
    return x, np.column_stack([x, np.zeros((POINTS, CLASSES - 1))]), np.eye(CLASSES)[0]


def _rows(spec: LossSpec, params: Mapping[str, Any]) -> Picture:
    """(N, K) losses: one row per point, moving along a path; the slope is along the path."""
    labels = spec.target_shape == "labels"
    targets_case = resolve(spec.targets, params, 2, labels)
    predictions_case = resolve(spec.predictions, params, 2, labels)
    assert targets_case is not None
    assert predictions_case is not None
    target, prediction = targets_case.domain, predictions_case.domain
    if isinstance(target, (Labels, OneHotRows)) or (
        isinstance(target, SimplexRows) and spec.task != "distribution"
    ):
        one_hot = np.eye(CLASSES)[0]
        targets = np.zeros(POINTS) if labels else np.tile(one_hot, (POINTS, 1))
        if isinstance(prediction, SimplexRows):
            x, rows, direction = _probability_path()
            xlabel = "probability of the true class (the rest shared evenly)"
        else:
            x, rows, direction = _first_entry_path(
                LOGIT_RANGE if params.get("from_logits") else SCORE_RANGE
            )
            xlabel = "true class's " + ("logit" if params.get("from_logits") else "score")
            xlabel += " (the others 0)"
        label = f"{CLASSES} classes, true class 0"
    elif isinstance(target, SimplexRows):
        distribution = np.array([0.6, 0.3, 0.1])
        targets = np.tile(distribution, (POINTS, 1))
        if params.get("from_logits"):
            x, rows, direction = _first_entry_path(LOGIT_RANGE)
            xlabel = "first class's logit (the others 0)"
        else:
            x, rows, direction = _probability_path()
            xlabel = "p of the first class (the rest shared evenly)"
        label = "y = (0.6, 0.3, 0.1)"
    elif _is_unit(target):
        # Multi-label rows of one label: p against y = 0 and y = 1.
        curves_ = []
        x = np.linspace(0.001, 0.999, POINTS)
        for value in (0.0, 1.0):
            losses, gradient = _evaluate(spec, params, x[:, None], np.full((POINTS, 1), value))
            slope = None if gradient is None else gradient[:, 0]
            curves_.append(Curve(f"y = {value:g}", x, _finite(losses), _opt(slope)))
        return Picture("prediction p (one label per row)", curves_)
    else:
        # Vectors (cosine similarity): the angle between prediction and target.
        x = np.linspace(-math.pi, math.pi, POINTS)
        rows = np.column_stack([np.cos(x), np.sin(x)])
        targets = np.tile([1.0, 0.0], (POINTS, 1))
        losses, gradient = _evaluate(spec, params, rows, targets)
        # d/dtheta of the loss along the unit circle: gradient . (-sin, cos).
        slope = (
            None
            if gradient is None
            else (gradient * np.column_stack([-rows[:, 1], rows[:, 0]])).sum(1)
        )
        curve = Curve("y = (1, 0)", x, _finite(losses), _opt(slope))
        return Picture("angle between prediction and target (radians)", [curve])
    losses, gradient = _evaluate(spec, params, rows, targets)
    slope = None if gradient is None else gradient @ direction
    return Picture(xlabel, [Curve(label, x, _finite(losses), _opt(slope))])


def _opt(values: FloatArray | None) -> FloatArray | None:
    return None if values is None else _finite(values)


def curves(name: str, params: Mapping[str, Any], targets: tuple[float, ...] | None) -> Picture:
    """What the picture of loss `name` shows for these parameters (ParameterError if bad)."""
    spec = get_loss(name)
    return _picture(spec, bind_params(spec.name, spec.params, params), targets)


def _picture(
    spec: LossSpec, bound: Mapping[str, Any], targets: tuple[float, ...] | None
) -> Picture:
    """`curves` for parameters already bound."""
    if targets is not None and len(targets) > MAX_TARGETS:
        raise ParameterError(
            f"targets has {len(targets)} values; expected at most {MAX_TARGETS}",
            field="targets",
            value=len(targets),
        )
    if 1 not in spec.ndims:
        if targets is not None:
            raise ParameterError(
                f"targets is given, but {spec.name} takes (N, K) rows: its picture follows a "
                "fixed path (see the x axis); expected no targets",
                field="targets",
            )
        return _rows(spec, bound)
    if targets is not None:
        # The targets must lie in the loss's domain, as in a request.
        values = np.asarray(targets, dtype=np.float64)
        check_values(spec.targets, values, "targets", params=bound, classes=None, ndim=1)
    return _one_dimensional(spec, bound, targets)


def _text(value: Any) -> str:
    """A parameter's value as a client writes it in JSON: true, null, 0.5."""
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _parameters_text(spec: LossSpec, params: Mapping[str, Any]) -> str:
    shown = [
        f"{param.name}={_text(params.get(param.name, param.default))}"
        for param in spec.params
        if param.name != "eps" and param.type != "float_list"
    ]
    return ", ".join(shown)


def _focus(ax: Any, series: list[FloatArray]) -> None:
    """Near a pole (log p at p = 0) a few points would flatten the rest of the curve: show the
    2nd to 98th percentiles then, and let the pole run off the panel."""
    values = np.concatenate([s[np.isfinite(s)] for s in series]) if series else np.array([])
    if values.size < 10:
        return
    low, high = np.percentile(values, [2.0, 98.0])
    if values.max() - values.min() > 5.0 * max(high - low, 1e-12):
        pad = 0.15 * max(high - low, 1e-12)
        ax.set_ylim(low - pad, high + pad)


def _draw(spec: LossSpec, params: Mapping[str, Any], picture: Picture, fmt: Format) -> bytes:
    figure = _figure_class()(figsize=(7.2, 3.0), dpi=100)
    panels = 2 if spec.differentiable else 1
    axes = figure.subplots(1, panels, squeeze=False)[0]
    # Fixed margins: matplotlib's constrained layout measures every label first, half the time
    # of a picture.
    figure.subplots_adjust(left=0.08, right=0.985, bottom=0.15, top=0.8, wspace=0.22)
    discrete = picture.curves[0].x.size < 10
    style: dict[str, Any] = {"marker": "o", "linestyle": "none"} if discrete else {}
    panels_of = [("loss", [curve.loss for curve in picture.curves])]
    if spec.differentiable:
        slopes = [curve.slope for curve in picture.curves if curve.slope is not None]
        panels_of.append(("gradient (slope of the loss)", slopes))
    for ax, (title, series) in zip(axes, panels_of, strict=True):
        for curve, values in zip(picture.curves, series, strict=True):
            ax.plot(curve.x, values, label=curve.label, linewidth=1.8, **style)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(picture.xlabel, fontsize=8)
        _focus(ax, series)
    if spec.differentiable:
        axes[1].axhline(0.0, color="0.6", linewidth=0.8)
    for ax in axes:
        ax.grid(True, color="0.9")
        ax.tick_params(labelsize=8)
        if len(picture.curves) > 1 or picture.curves[0].label:
            ax.legend(fontsize=8)
    parameters = _parameters_text(spec, params)
    title = spec.name + (f" ({parameters})" if parameters else "")
    if not spec.differentiable:
        title += ": not differentiable, no gradient"
    if len(title) > 80:  # wider than the figure at this size: the parameters on a line of their own
        title = title.replace(" (", "\n(", 1)
        figure.subplots_adjust(top=0.72)
    figure.suptitle(title, fontsize=11)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def render(
    name: str,
    params: Mapping[str, Any] | None = None,
    targets: tuple[float, ...] | None = None,
    fmt: Format = "svg",
) -> bytes:
    """The picture of loss `name` as SVG or PNG bytes; ParameterError for a bad parameter."""
    spec = get_loss(name)
    given = tuple(
        sorted(
            (key, tuple(value) if isinstance(value, list) else value)
            for key, value in (params or {}).items()
        )
    )
    return _render_cached(spec.name, given, targets, fmt)


@functools.lru_cache(maxsize=256)
def _render_cached(
    name: str, given: tuple[tuple[str, Any], ...], targets: tuple[float, ...] | None, fmt: Format
) -> bytes:
    spec = LOSSES[name]
    bound = bind_params(spec.name, spec.params, dict(given))
    picture = _picture(spec, bound, targets)
    with _RENDER_LOCK:
        return _draw(spec, bound, picture, fmt)


def gallery_markdown(directory: str) -> str:
    """The gallery of docs/losses.md: every loss's picture at its defaults, by task."""
    lines = []
    tasks = dict.fromkeys(spec.task for spec in LOSSES.values())
    for task in tasks:
        lines.append(f"**{task}**\n")
        for spec in LOSSES.values():
            if spec.task == task:
                lines.append(f"![{spec.name}]({directory}/{spec.name}.svg)")
        lines.append("")
    return "\n".join(lines)


GALLERY_START = "<!-- gallery:start -->\n"
GALLERY_END = "<!-- gallery:end -->"


def write_gallery(directory: Path, readme: Path) -> list[Path]:
    """Write every loss's SVG into `directory` and the gallery into the page `readme`; the files
    that changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in LOSSES:
        path = directory / f"{name}.svg"
        picture = render(name)
        if not path.exists() or path.read_bytes() != picture:
            path.write_bytes(picture)
            changed.append(path)
    text = readme.read_text()
    start = text.index(GALLERY_START) + len(GALLERY_START)
    end = text.index(GALLERY_END)
    relative = directory.resolve().relative_to(readme.resolve().parent).as_posix()
    updated = text[:start] + gallery_markdown(relative) + text[end:]
    if updated != text:
        readme.write_text(updated)
        changed.append(readme)
    return changed


if __name__ == "__main__":  # `make gallery`: python -m service.plots docs/plots docs/losses.md
    written = write_gallery(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"gallery: {len(written)} file(s) written" if written else "gallery: already current")
