"""Time every loss of the registry through `evaluate` against one plain numpy pass over its data.

For each loss in `service.losses.LOSSES` the script builds valid inputs, then times
`evaluate(name, predictions, targets, reduction="mean", gradient=True, **params)`: the value and
the gradient (value only for losses that are not differentiable), with every check the core makes.

Baseline, measured on the very same arrays in the same run:
    np.subtract(predictions, targets, out=scratch); float(scratch.sum())
one read of each input, one write of `scratch` (shaped like the predictions) and one read of it
for the sum. `scratch` is allocated and written once before timing: the page faults of a fresh
8 MB temporary swung between 0.7 and 2.6 ms from one loss to the next on a shared machine, which
made the baseline, not the loss, the noisy term of the ratio. The loss's own allocations stay in
its time: they are part of what `evaluate` costs. When the targets are (N,) integer labels for
(N, K) predictions they enter as the broadcast view `targets[:, None]`, so each input is still
read once. The ratio says how many such passes the loss costs; none can read its inputs in fewer.

Timing: each measurement is one call between two `time.perf_counter()` readings. Each loss and
its baseline get one untimed warm-up call (which also proves the inputs valid), then `--repeat`
rounds alternating baseline and loss; the table reports the median of each.

Inputs follow what each spec declares: the smallest number of dimensions it accepts, and values
of the same kind as its registry example (reals, values >= 0, probabilities, {0, 1}, {-1, 1},
one-hot rows, simplex rows; integer labels when target_shape is "labels"; for regression losses
the kind of both example arrays taken together, as predictions and targets share one domain),
with the example's parameters. All arrays are float64 and C-contiguous, so `evaluate` converts
nothing. (N,) losses get N = --n samples; (N, K)-only losses get N = --n // --k rows of K = --k
classes, the same number of elements.

Usage: python bench/core.py [--n 1000000] [--k 10] [--repeat 5] [--losses NAME ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from service.losses import LOSSES, LossSpec, UnknownLossError, evaluate, get_loss
from service.malloc import tune_malloc

# Run as a script, this directory comes first on sys.path, where bench/http.py would stand in for
# the standard library's http package (which torch's imports reach): move it to the end.
BENCH = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == BENCH:
    sys.path.append(sys.path.pop(0))
try:  # the torch column: only where torch is installed (pip install torch==2.13.0)
    import torch
    from torch_losses import TORCH_LOSSES
except ImportError:
    torch = None  # type: ignore[assignment]
    TORCH_LOSSES = {}

# Rows besides each registry example: the same loss on logits, which PyTorch users compare with.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "binary_cross_entropy": [{"from_logits": True}],
    "categorical_cross_entropy": [{"from_logits": True}],
    "sparse_categorical_cross_entropy": [{"from_logits": True}],
    "kl_divergence": [{"from_logits": True}],
}

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Inputs:
    """One loss's benchmark inputs and how they were made."""

    predictions: Array
    targets: Array
    params: dict[str, Any]
    predictions_kind: str
    targets_kind: str


@dataclass(frozen=True)
class Row:
    """One line of the table: median seconds of the loss and of the baseline."""

    name: str
    shape: tuple[int, ...]
    seconds: float
    baseline_seconds: float
    torch_seconds: float | None = None


def value_kind(values: Array) -> str:
    """The narrowest kind of values the example array belongs to; generated data keeps it."""
    if values.ndim == 2:
        if np.isin(values, (0.0, 1.0)).all() and (values.sum(axis=1) == 1.0).all():
            return "one-hot"
        if (values >= 0.0).all() and np.allclose(values.sum(axis=1), 1.0):
            return "simplex"
    if np.isin(values, (0.0, 1.0)).all():
        return "{0, 1}"
    if np.isin(values, (-1.0, 1.0)).all():
        return "{-1, 1}"
    if ((values >= 0.0) & (values <= 1.0)).all():
        return "probabilities"
    if (values >= 0.0).all():
        return ">= 0"
    return "reals"


def generate(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> Array:
    """Random float64 values of one kind; rows for one-hot and simplex, labels in [0, K)."""
    rows = shape[0]
    match kind:
        case "reals":
            return rng.standard_normal(shape)
        case ">= 0":
            return rng.exponential(size=shape)
        case "probabilities":
            return rng.uniform(size=shape)
        case "{0, 1}":
            return rng.integers(0, 2, size=shape).astype(np.float64)
        case "{-1, 1}":
            return rng.choice((-1.0, 1.0), size=shape)
        case "one-hot":
            return np.eye(shape[1])[rng.integers(0, shape[1], size=rows)]
        case "simplex":
            return rng.dirichlet(np.ones(shape[1]), size=rows)
        case _:
            raise ValueError(f"no generator for values of kind {kind!r}")


def make_inputs(spec: LossSpec, n: int, k: int, rng: np.random.Generator) -> Inputs:
    """Inputs shaped as the spec accepts, valued like its example, with the example's params."""
    ndim = min(spec.ndims)
    shape = (n,) if ndim == 1 else (max(n // k, 1), k)
    example_predictions = np.asarray(spec.example["predictions"], dtype=np.float64)
    example_targets = np.asarray(spec.example["targets"], dtype=np.float64)
    predictions_kind = value_kind(example_predictions)
    targets_kind = value_kind(example_targets)
    if spec.task == "regression":
        # Predictions and targets share one domain: a four-value example may miss its negatives.
        both = np.concatenate([example_predictions.ravel(), example_targets.ravel()])
        predictions_kind = targets_kind = value_kind(both)
    predictions = generate(predictions_kind, shape, rng)
    if spec.target_shape == "labels" and ndim == 2:
        targets_kind = "labels"
        targets = rng.integers(0, k, size=shape[0]).astype(np.float64)
    else:
        targets = generate(targets_kind, shape, rng)
    declared = {param.name for param in spec.params}
    params = {name: value for name, value in spec.example.items() if name in declared}
    return Inputs(predictions, targets, params, predictions_kind, targets_kind)


def seconds(call: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def torch_call(spec: LossSpec, inputs: Inputs) -> Callable[[], object] | None:
    """PyTorch's forward + backward of the same loss on the same float64 arrays, one thread."""
    function = TORCH_LOSSES.get(spec.name)
    if function is None or not spec.differentiable:
        return None
    torch.set_num_threads(1)
    predictions = torch.from_numpy(inputs.predictions).requires_grad_(True)
    targets = torch.from_numpy(inputs.targets)

    def call() -> object:
        predictions.grad = None
        loss = function(predictions, targets, inputs.params)
        loss.backward()
        return predictions.grad

    return call


def measure(spec: LossSpec, inputs: Inputs, repeat: int, name: str | None = None) -> Row:
    """Median seconds of `evaluate`, of the baseline and of PyTorch (where installed) over the
    same arrays, interleaved."""
    predictions, targets = inputs.predictions, inputs.targets
    # Labels for (N, K) predictions: a broadcast view, so the baseline still reads each once.
    aligned_targets = targets[:, None] if targets.ndim < predictions.ndim else targets

    # The temporary is allocated and touched once, outside the timing: see the module docstring.
    scratch = np.subtract(predictions, aligned_targets)

    def baseline() -> float:
        return float(np.subtract(predictions, aligned_targets, out=scratch).sum())

    def score() -> object:
        return evaluate(
            spec.name, predictions, targets, reduction="mean", gradient=True, **inputs.params
        )

    reference = torch_call(spec, inputs)
    baseline()
    score()
    if reference is not None:
        reference()
    baseline_times, score_times, torch_times = [], [], []
    for _ in range(repeat):
        baseline_times.append(seconds(baseline))
        score_times.append(seconds(score))
        if reference is not None:
            torch_times.append(seconds(reference))
    return Row(
        name or spec.name,
        predictions.shape,
        statistics.median(score_times),
        statistics.median(baseline_times),
        statistics.median(torch_times) if torch_times else None,
    )


def machine() -> list[str]:
    """Lines describing where and when the benchmark ran."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"- date: {now}",
        f"- platform: {platform.platform()} ({platform.machine()})",
        f"- cpu count: {os.cpu_count()}" + ("" if usable is None else f" ({usable} usable)"),
        f"- python {platform.python_version()}, numpy {np.__version__}",
    ]
    if hasattr(os, "getloadavg"):
        # Other work on the machine inflates every time and blurs the ratios: say how much.
        lines.append(f"- load average at start: {os.getloadavg()[0]:.2f}")
    return lines


def format_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ("," if len(shape) == 1 else "") + ")"


def format_ms(seconds: float) -> str:
    """Milliseconds to three significant digits, without exponents below 1000 ms."""
    ms = seconds * 1e3
    decimals = 0 if ms <= 0 else min(max(2 - math.floor(math.log10(ms)), 0), 5)
    return f"{ms:.{decimals}f}"


def format_row(row: Row, with_torch: bool) -> str:
    ratio = row.seconds / row.baseline_seconds if row.baseline_seconds > 0 else math.inf
    line = (
        f"| {row.name} | {format_shape(row.shape)} | {format_ms(row.seconds)} "
        f"| {format_ms(row.baseline_seconds)} | {ratio:.1f} |"
    )
    if with_torch:
        if row.torch_seconds is None:
            line += " | | |"
        else:
            line += f" {format_ms(row.torch_seconds)} | {row.seconds / row.torch_seconds:.2f} |"
    return line


def positive_int(text: str) -> int:
    number = int(float(text))  # accepts 1e6
    if number < 1 or number != float(text):
        raise argparse.ArgumentTypeError(f"got {text}; expected a positive integer")
    return number


def select(names: Sequence[str] | None) -> list[LossSpec]:
    """The specs named (canonical names or aliases, comma- or space-separated), or all."""
    if not names:
        return list(LOSSES.values())
    specs: dict[str, LossSpec] = {}
    for name in (part for item in names for part in item.split(",") if part):
        spec = get_loss(name)
        specs.setdefault(spec.name, spec)
    return list(specs.values())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time each loss's evaluate (value + gradient) against one numpy pass."
    )
    parser.add_argument(
        "--n", type=positive_int, default=1_000_000, help="samples for (N,) losses [1e6]"
    )
    parser.add_argument(
        "--k", type=positive_int, default=10, help="classes K for (N, K)-only losses [10]"
    )
    parser.add_argument(
        "--repeat", type=positive_int, default=5, help="timed rounds after a warm-up [5]"
    )
    parser.add_argument("--losses", nargs="+", metavar="NAME", help="only these losses [all]")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the inputs [0]")
    args = parser.parse_args(argv)
    try:
        args.specs = select(args.losses)
    except UnknownLossError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    command = " ".join(["python bench/core.py", *(sys.argv[1:] if argv is None else argv)])
    print("# Loss core: evaluate (value + gradient) against one numpy pass\n")
    print("\n".join(machine()))
    # The core runs inside a service worker: measure it (and PyTorch) under the same malloc.
    tuned = tune_malloc()
    print(f"- malloc as a service worker's (service/malloc.py): {tuned or 'not glibc, left alone'}")
    print(f"- command: `{command}`")
    print(
        f"- median of {args.repeat} run(s) after a warm-up; baseline: "
        "`np.subtract(predictions, targets, out=scratch)` then `scratch.sum()`, same arrays\n"
    )
    with_torch = torch is not None
    if with_torch:
        print(
            f"- torch {torch.__version__}: forward + backward of the same loss on the same float64 "
            "arrays, `torch.set_num_threads(1)` (bench/torch_losses.py)\n"
        )
        print("| loss | shape | time ms | baseline ms | ratio | torch ms | core / torch |")
        print("|---|---|---:|---:|---:|---:|---:|")
    else:
        print("| loss | shape | time ms | baseline ms | ratio |")
        print("|---|---|---:|---:|---:|")
    described = []
    versus_torch: dict[str, float] = {}
    for spec in args.specs:
        inputs = make_inputs(spec, args.n, args.k, rng)
        row = measure(spec, inputs, args.repeat)
        rows = [row]
        for variant in VARIANTS.get(spec.name, []) if with_torch else []:
            logits = Inputs(
                rng.standard_normal(inputs.predictions.shape),
                inputs.targets,
                {**inputs.params, **variant},
                "reals",
                inputs.targets_kind,
            )
            label = spec.name + " (" + ", ".join(f"{k}={v}" for k, v in variant.items()) + ")"
            rows.append(measure(spec, logits, args.repeat, name=label))
        for each in rows:
            print(format_row(each, with_torch), flush=True)
            if each.torch_seconds:
                versus_torch[each.name] = each.seconds / each.torch_seconds
        params = ", ".join(f"{name}={value}" for name, value in inputs.params.items())
        described.append(
            f"- {spec.name}: predictions {inputs.predictions_kind}, targets {inputs.targets_kind}"
            + (f"; {params}" if params else "")
            + ("" if spec.differentiable else "; not differentiable: value only")
        )
        del inputs
    if versus_torch:
        worst = max(versus_torch, key=versus_torch.__getitem__)
        within = sum(ratio <= 1.5 for ratio in versus_torch.values())
        print(
            f"\ncore / torch over {len(versus_torch)} rows: median "
            f"{statistics.median(versus_torch.values()):.2f} (target <= 0.8), worst "
            f"{versus_torch[worst]:.2f} ({worst}; target <= 1.5), {within} of "
            f"{len(versus_torch)} within 1.5"
        )
    print("\nInputs (kinds taken from each registry example):")
    print("\n".join(described))
    return 0


if __name__ == "__main__":
    sys.exit(main())
