"""The loss catalogue, built from the registry: for the API, the CLI and the README's table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .losses import LOSSES, LossSpec, Param

__all__ = ["catalogue", "catalogue_entry", "markdown_table", "param_entry", "write_table"]

TABLE_START = "<!-- losses:start -->\n"
TABLE_END = "<!-- losses:end -->"


def param_entry(param: Param) -> dict[str, Any]:
    """One parameter: name, type, default, bounds and what it does."""
    bounds = {
        key: getattr(param, key)
        for key in ("gt", "ge", "lt", "le")
        if getattr(param, key) is not None
    }
    return {
        "name": param.name,
        "type": param.type,
        "nullable": param.nullable,
        "default": list(param.default) if isinstance(param.default, tuple) else param.default,
        "bounds": bounds,
        "description": param.description,
    }


def catalogue_entry(spec: LossSpec) -> dict[str, Any]:
    """Everything a client needs to call one loss."""
    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "names": list(spec.names),
        "task": spec.task,
        "summary": spec.summary,
        "formula": spec.formula,
        "parameters": [param_entry(param) for param in spec.params],
        "inputs": {
            "predictions": spec.predictions_text,
            "targets": spec.targets_text,
            "shapes": spec.shapes,
            "targets_shape": {
                "same": "same as predictions",
                "labels": "(N,) integer labels",
                "same_or_labels": "same as predictions, or (N,) labels",
            }[spec.target_shape],
        },
        "reductions": list(spec.reductions),
        "differentiable": spec.differentiable,
        "minimum": spec.minimum,
    }


def catalogue() -> list[dict[str, Any]]:
    """Every registered loss, in registry order."""
    return [catalogue_entry(spec) for spec in LOSSES.values()]


def _param_text(param: Param) -> str:
    default = "null" if param.default is None else str(param.default).lower()
    bounds = param.bounds_text()
    return f"`{param.name}`={default}" + (f" ({bounds})" if bounds else "")


def markdown_table() -> str:
    """The README's loss table: name, aliases, task, formula, parameters, gradient."""
    lines = [
        "| loss | aliases | task | per-sample loss | parameters | gradient |",
        "|---|---|---|---|---|---|",
    ]
    for spec in LOSSES.values():
        aliases = ", ".join(f"`{alias}`" for alias in spec.aliases)
        params = ", ".join(_param_text(param) for param in spec.params)
        gradient = "yes" if spec.differentiable else "no (null)"
        formula = spec.formula.replace("|", "\\|")  # a bare | would end the table cell
        lines.append(
            f"| `{spec.name}` | {aliases} | {spec.task} | {formula} | {params} | {gradient} |"
        )
    return "\n".join(lines) + "\n"


def write_table(readme: Path) -> bool:
    """Put the registry's table between the README's markers; True if the file changed."""
    text = readme.read_text()
    start = text.index(TABLE_START) + len(TABLE_START)
    end = text.index(TABLE_END)
    updated = text[:start] + markdown_table() + text[end:]
    if updated == text:
        return False
    readme.write_text(updated)
    return True


if __name__ == "__main__":  # `make generated`: python -m service.catalogue README.md
    changed = write_table(Path(sys.argv[1]))
    print(f"{sys.argv[1]}: loss table {'updated' if changed else 'already current'}")
