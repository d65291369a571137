"""A real browser for the UI tests: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, against `loss-service serve` on 127.0.0.1 (screenshots kept in
build/test-artifacts)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ops.live import LiveServer, live_server
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
LOAD_SECONDS = 120.0
# As the machine's notes advise: no background traffic from the browser to the outside.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("ui")) as live:
        yield live


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        # `make test` installs both first; in CI a missing browser is a broken set-up, not a skip.
        if os.environ.get("CI"):
            raise RuntimeError("chromium or chromedriver is not installed: run make deploy-tools")
        pytest.skip("chromium is not installed (make deploy-tools)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(LOAD_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
