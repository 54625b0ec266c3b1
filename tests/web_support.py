"""Helpers for the web console tests: a headless Debian chromium through selenium, and a
running plategate-web (the real cheroot server) in the test process."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def find(paths: tuple[str, ...], name: str) -> str | None:
    for path in paths:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def chromium_driver(width: int = 1280, height: int = 900):
    """A headless chromium WebDriver (skips the test when chromium or its driver is absent);
    yields the driver and quits it."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service as ChromeService

    browser, driver_path = find(CHROMIUM, "chromium"), find(DRIVER, "chromedriver")
    if browser is None or driver_path is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (tools/test.sh installs them)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a browser or a driver
    profile = tempfile.mkdtemp(prefix="pg-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=ChromeService(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(condition, timeout: float = 30.0, interval: float = 0.25, what: str = "condition"):
    """Poll *condition* until it returns something truthy; fail with *what* after *timeout*.

    A condition that meets a page in the middle of being replaced (a stale or missing
    element) is polled again."""
    try:
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
            WebDriverException,
        )
        page_changing: tuple = (NoSuchElementException, StaleElementReferenceException)
    except ImportError:
        page_changing = WebDriverException = ()
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except page_changing:  # the page is being replaced: look again
            value = None
        except WebDriverException as exc:
            # Chromium reports an element of a page being replaced this way too (not as stale)
            if "does not belong to the document" not in str(exc):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def screenshot(driver, name: str, folder: Path, full_page: bool = True) -> Path:
    """Save a PNG of the page (the whole page height when *full_page*) into *folder*, and also into
    $PLATEGATE_SCREENSHOTS when set (how docs/web-*.png are made)."""
    if full_page:
        size = driver.get_window_size()
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(size["width"], max(400, min(int(height) + 140, 4000)))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("PLATEGATE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / f"web-{name}.png")
    if full_page:
        driver.set_window_size(size["width"], size["height"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path
