"""GET /v1/losses/{name}/plot and the page at /: pictures of every loss, the parameters as query
parameters, the same bad-input rules as the compute routes, and a cache."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from xml.etree import ElementTree

import numpy as np
import pytest

from service import plots
from service.losses import LOSSES

from .support import ApiClient, assert_problem

SVG = "image/svg+xml"


def _svg_text(body: bytes) -> str:
    """The words of an SVG (its <text> elements): titles, axis labels, legends."""
    root = ElementTree.fromstring(body)
    return " ".join(
        "".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_has_a_plot(client: ApiClient, name: str) -> None:
    response = client.get(f"/v1/losses/{name}/plot")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == SVG
    assert "Accept" in response.headers["vary"].split(", ")
    words = _svg_text(response.content)
    assert name in words
    assert "loss" in words
    # Differentiable losses show their gradient beside the loss; the others say they have none.
    if LOSSES[name].differentiable:
        assert "gradient" in words
    else:
        assert "not differentiable" in words
    # At most MAX_TARGETS curves of POINTS points.
    lines = re.findall(rb"<path d=\"M [^\"]+\"", response.content)
    assert lines


@pytest.mark.parametrize("name", [name for name, spec in LOSSES.items() if spec.differentiable])
def test_every_plotted_slope_is_the_derivative_of_its_curve(name: str) -> None:
    # Central differences along the drawn x; kinks and the curved ends of a few losses differ
    # at a few points, a slope off by a constant factor differs everywhere.
    for curve in plots.curves(name, {}, None).curves:
        assert curve.slope is not None
        inner = slice(1, -1)
        finite = np.isfinite(curve.loss[inner]) & np.isfinite(curve.slope[inner])
        differences = np.gradient(curve.loss, curve.x)[inner][finite]
        slope = curve.slope[inner][finite]
        close = np.isclose(slope, differences, rtol=1e-2, atol=1e-3)
        assert close.mean() > 0.9, (curve.label, slope[~close][:5], differences[~close][:5])


def test_png_when_asked_for_ahead_of_svg(client: ApiClient) -> None:
    response = client.get("/v1/losses/huber/plot", headers={"Accept": "image/png"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    # A browser's <img> Accept lists SVG: it gets SVG.
    browser = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    assert (
        client.get("/v1/losses/huber/plot", headers={"Accept": browser}).headers["content-type"]
        == SVG
    )


def test_parameters_change_the_picture(client: ApiClient) -> None:
    default = client.get("/v1/losses/huber/plot").content
    wide = client.get("/v1/losses/huber/plot?delta=2").content
    assert default != wide
    assert "delta=2.0" in _svg_text(wide)
    # An alias draws its loss.
    assert client.get("/v1/losses/Huber_Loss/plot?delta=2").content == wide


def test_targets_give_one_curve_each(client: ApiClient) -> None:
    words = _svg_text(client.get("/v1/losses/mse/plot?targets=-1,0,2").content)
    assert {"y = -1", "y = 0", "y = 2"} <= set(re.findall(r"y = -?\d", words))


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("delta=0", "delta", "delta = 0; expected > 0"),
        ("delta=abc", "delta", "delta = 'abc'; expected a number"),
        ("delta=nan", "delta", "expected a finite number"),
        ("from_logits=maybe", "unknown", "unknown parameter 'from_logits'"),
        ("targets=1,2,3,4,5,6", "targets", "at most 5"),
        ("targets=inf", "targets", "expected finite numbers"),
    ],
)
def test_bad_query_parameters_are_422_problems(
    client: ApiClient, query: str, field: str, words: str
) -> None:
    problem = assert_problem(client.get(f"/v1/losses/huber/plot?{query}"), 422, words)
    loc = problem["errors"][0]["loc"]
    assert loc[0] == "query"
    if field != "unknown":
        assert loc == ["query", field]


def test_targets_outside_the_domain_and_for_row_losses_are_refused(client: ApiClient) -> None:
    assert_problem(client.get("/v1/losses/bce/plot?targets=2"), 422, "targets[0] = 2")
    assert_problem(client.get("/v1/losses/cce/plot?targets=1"), 422, "expected no targets")
    assert_problem(client.get("/v1/losses/tweedie_deviance/plot?power=0.5"), 422, "not in (0, 1)")


def test_unknown_loss_is_a_404(client: ApiClient) -> None:
    assert_problem(client.get("/v1/losses/hubber/plot"), 404, "huber")


def test_a_plot_asked_for_again_comes_from_the_cache(client: ApiClient) -> None:
    url = "/v1/losses/quantile/plot?quantile=0.37"
    plots._render_cached.cache_clear()
    started = time.perf_counter()
    first = client.get(url)
    cold = time.perf_counter() - started
    hits = plots._render_cached.cache_info().hits
    started = time.perf_counter()
    again = client.get(url)
    cached = time.perf_counter() - started
    assert again.content == first.content
    assert plots._render_cached.cache_info().hits == hits + 1
    assert first.headers["cache-control"].startswith("public")
    print(f"cold {cold * 1e3:.0f} ms, cached {cached * 1e3:.1f} ms")


def test_at_most_two_thousand_points() -> None:
    picture = plots.curves("mse", {}, (-1.0, 0.0, 1.0, 2.0, 3.0))
    assert sum(curve.x.size for curve in picture.curves) <= 2000


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href") and value:
                self.urls.append(value)


def test_the_page_uses_no_outside_asset(client: ApiClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(response.text)
    assert {"static/page.js", "static/page.css", "docs"} <= set(parser.urls)
    for url in parser.urls:
        assert "//" not in url, url  # relative: served by the service itself
        assert client.get(f"/{url}").status_code == 200, url
    script = client.get("/static/page.js").text
    assert "http" not in script.replace("HTTP ", "")
