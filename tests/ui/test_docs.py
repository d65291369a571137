"""/docs in a real browser: Swagger UI from the service's own assets, grouped by task and closed
so that a person scans it, and "Try it out" on one loss answering from the live service."""

from __future__ import annotations

from typing import Any

from ops.live import LiveServer, wait_until
from selenium.webdriver.common.by import By

from service.api.openapi import TAGS

from .conftest import ARTIFACTS, LOAD_SECONDS

# The collapsed page: a header, the description and one line per group (1,251 px measured when
# this was written; 9,508 px before, with 70 operations open in one list).
COLLAPSED_HEIGHT_BOUND = 2_000
# Huber's block opened: its description, example, and one 200, one 4XX and one 5XX response
# (2,483 px measured; 4,516 px before, with eight error responses).
HUBER_HEIGHT_BOUND = 3_000


def _groups(browser: Any) -> list[str]:
    return [
        element.get_attribute("data-tag")
        for element in browser.find_elements(By.CSS_SELECTOR, "h3.opblock-tag")
    ]


def _open_docs(browser: Any, server: LiveServer) -> None:
    browser.get(f"{server.base}/docs")
    wait_until(lambda: _groups(browser), LOAD_SECONDS, "Swagger UI drew the groups")


def test_docs_render_offline_grouped_by_task_and_closed(server: LiveServer, browser: Any) -> None:
    _open_docs(browser, server)
    assert _groups(browser) == [tag["name"] for tag in TAGS]
    # Closed: no operation drawn until a group is opened.
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock") == []
    height = browser.execute_script("return document.documentElement.scrollHeight")
    assert height < COLLAPSED_HEIGHT_BOUND, height
    # The service is open: no lock and no Authorize button on show.
    shown = browser.execute_script(
        "return [...document.querySelectorAll('.authorization__btn, .scheme-container')]"
        ".filter((element) => element.offsetParent !== null).length"
    )
    assert shown == 0, browser.execute_script(
        "return [...document.querySelectorAll('.authorization__btn, .scheme-container')]"
        ".filter((element) => element.offsetParent !== null).map((e) => e.outerHTML)"
    )
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    assert resources
    assert all(url.startswith(server.base) for url in resources), resources
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "docs.png"))


def test_try_it_out_on_huber_answers_from_the_service(server: LiveServer, browser: Any) -> None:
    _open_docs(browser, server)
    browser.find_element(By.CSS_SELECTOR, 'h3.opblock-tag[data-tag="regression"]').click()
    block_selector = "#operations-regression-huber"
    wait_until(
        lambda: browser.find_elements(By.CSS_SELECTOR, block_selector), LOAD_SECONDS, "huber"
    )
    block = browser.find_element(By.CSS_SELECTOR, block_selector)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_until(
        lambda: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"), LOAD_SECONDS, "opened"
    )
    assert block.size["height"] < HUBER_HEIGHT_BOUND, block.size
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = ".live-responses-table .response .response-col_status"
    wait_until(lambda: block.find_elements(By.CSS_SELECTOR, status), LOAD_SECONDS, "the answer")
    assert block.find_element(By.CSS_SELECTOR, status).text.strip() == "200"
    answer = block.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response-col_description pre"
    )
    # The spec's own example: huber of [2.5, 0, 2, 8] against [3, -0.5, 2, 7], delta 1.
    assert '"value": 0.1875' in answer.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "docs-huber.png"))
