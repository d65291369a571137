"""The gallery of docs/losses.md is the registry's: every loss's plot in docs/plots, current."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.losses import LOSSES
from service.plots import GALLERY_END, GALLERY_START, gallery_markdown, render

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ROOT / "docs" / "plots"


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_plot_in_the_gallery_is_current(name: str) -> None:
    path = PLOTS / f"{name}.svg"
    assert path.exists(), f"{path} is missing: run make gallery"
    assert path.read_bytes() == render(name), f"{path} is stale: run make gallery"


def test_the_losses_page_shows_every_plot() -> None:
    text = (ROOT / "docs" / "losses.md").read_text()
    start = text.index(GALLERY_START) + len(GALLERY_START)
    end = text.index(GALLERY_END)
    assert text[start:end] == gallery_markdown("plots"), "run make gallery"
    assert sorted(path.stem for path in PLOTS.glob("*.svg")) == sorted(LOSSES)
