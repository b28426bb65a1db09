"""Debian's Chromium, headless, driven by Selenium, with no way out but loopback.

Every test that looks at a page in a real browser starts it here: the flags that keep Chromium
from reaching this machine's closed network at start-up, and a proxy that is not there plus a
resolver that knows only localhost, so a page can reach nothing but the servers a test runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

needs_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@contextmanager
def headless_chromium(profile_dir: Path, *, network_log: bool = False) -> Iterator[Any]:
    """A driver for a fresh Chromium with its profile in `profile_dir`; with `network_log`,
    Chromium's performance log records every request the page made."""
    from selenium import webdriver  # imported only where a test drives a browser

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
        # No way out but loopback: every other host goes to a proxy that is not there, and
        # no name but localhost resolves.
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    if network_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
