"""The page at / in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, against `loss-service serve` on 127.0.0.1.

The page renders with nothing but the service's own assets, every loss's plot loads, and
changing huber's delta redraws its picture. The screenshot is kept in build/test-artifacts.
"""

from __future__ import annotations

from typing import Any

from ops.live import LiveServer, wait_until
from selenium.webdriver.common.by import By

from service.losses import LOSSES

from .conftest import ARTIFACTS, LOAD_SECONDS

ALL_PLOTS_LOADED = """
const images = [...document.querySelectorAll("img[data-loss]")];
return images.length === arguments[0]
    && images.every((image) => image.complete && image.naturalWidth > 0);
"""


def _huber_image(browser: Any) -> Any:
    return browser.find_element(By.CSS_SELECTOR, 'img[data-loss="huber"]')


def test_the_page_renders_offline_and_every_plot_loads(server: LiveServer, browser: Any) -> None:
    browser.get(f"{server.base}/")
    wait_until(
        lambda: browser.execute_script(ALL_PLOTS_LOADED, len(LOSSES)),
        LOAD_SECONDS,
        "every plot on the page loads",
    )
    sections = browser.find_elements(By.CSS_SELECTOR, "section.loss")
    assert sorted(section.get_attribute("id") for section in sections) == sorted(LOSSES)
    headings = [h2.text.lower() for h2 in browser.find_elements(By.TAG_NAME, "h2")]
    assert headings == ["regression", "binary", "multiclass", "multilabel", "distribution"]
    # Nothing came from anywhere but the service.
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    assert resources
    assert all(url.startswith(server.base) for url in resources), resources
    assert browser.find_element(By.LINK_TEXT, "interactive docs").get_attribute("href") == (
        f"{server.base}/docs"
    )
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "page.png"))


def test_changing_huber_delta_redraws_its_plot(server: LiveServer, browser: Any) -> None:
    if "huber" not in browser.current_url and not browser.find_elements(By.ID, "huber"):
        browser.get(f"{server.base}/")
    image = _huber_image(browser)
    browser.execute_script("arguments[0].scrollIntoView()", image)
    wait_until(lambda: browser.execute_script(ALL_PLOTS_LOADED, len(LOSSES)), LOAD_SECONDS, "plots")
    before_src = image.get_attribute("src")
    before = image.screenshot_as_png
    delta = browser.find_element(By.CSS_SELECTOR, 'form[data-loss="huber"] input[name="delta"]')
    delta.clear()
    delta.send_keys("2.5")
    wait_until(
        lambda: (
            "delta=2.5" in (_huber_image(browser).get_attribute("src") or "")
            and browser.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0",
                _huber_image(browser),
            )
        ),
        LOAD_SECONDS,
        "huber's plot redrawn with delta 2.5",
    )
    assert _huber_image(browser).get_attribute("src") != before_src
    after = _huber_image(browser).screenshot_as_png
    assert after != before
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "huber-delta-2.5.png").write_bytes(after)
    # A value the loss refuses shows the problem's detail under the plot.
    delta.clear()
    delta.send_keys("-1")
    error = browser.find_element(By.CSS_SELECTOR, "#huber .error")
    wait_until(lambda: "delta = -1" in error.text, LOAD_SECONDS, "the refusal shown")
