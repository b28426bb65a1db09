"""Swagger UI at the local stack's /swagger, in a real headless Chromium with no internet: every
route of the OpenAPI document renders, and nothing is fetched from beyond loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from handlers.openapi import COMMITTED
from tests.support.headless_chromium import headless_chromium, needs_chromium
from tests.support.stack_process import RunningStack

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

RENDER_TIMEOUT_SECONDS = 30

pytestmark = needs_chromium


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with headless_chromium(tmp_path / "chromium-profile", network_log=True) as driver:
        yield driver


def _documented_operations() -> set[tuple[str, str]]:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def _requested_urls(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_swagger_ui_renders_every_route_from_loopback_alone(
    stack: RunningStack, browser: Any
) -> None:
    expected = _documented_operations()

    browser.get(f"{stack.api_url}/swagger")
    WebDriverWait(browser, RENDER_TIMEOUT_SECONDS).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(expected)
    )
    rendered = {
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.upper(),
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        )
        for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }

    assert rendered == expected
    assert browser.find_elements(By.CSS_SELECTOR, ".auth-wrapper .authorize")  # the key schemes
    requested = _requested_urls(browser)
    assert any(url.endswith("/swagger/swagger-ui-bundle.min.js") for url in requested)
    # Over the network, that is: Chromium's own pages (chrome://) and inline data are not.
    outside = [
        url
        for url in requested
        if urlsplit(url).scheme in ("http", "https", "ws", "wss")
        and urlsplit(url).hostname not in ("127.0.0.1", "localhost")
    ]
    assert outside == []


def test_try_it_out_calls_the_stack_with_the_key_and_shows_its_200(
    stack: RunningStack, browser: Any
) -> None:
    """Authorize with the admin key, then "Try it out" and "Execute" on `GET
    /api/v2/system/service`: the page shows the stack's 200. The served document named a
    `/local` stage the local gateway does not have, so the request went to a 404."""
    wait = WebDriverWait(browser, RENDER_TIMEOUT_SECONDS)
    browser.get(f"{stack.api_url}/swagger")
    wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".auth-wrapper .authorize"))

    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    key_field = wait.until(
        lambda driver: driver.find_element(
            By.CSS_SELECTOR, "div.modal-ux input[type=text], div.modal-ux input[type=password]"
        )
    )
    key_field.send_keys(stack.admin_key)
    browser.find_element(By.CSS_SELECTOR, "div.modal-ux button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, "div.modal-ux button.btn-done").click()

    operation = browser.find_element(
        By.ID, "operations-services-list_services_api_v2_system_service_get"
    )
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, ".execute")).click()
    status = wait.until(
        lambda _: operation.find_element(
            By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status"
        )
    )

    assert status.text.strip().startswith("200"), operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table"
    ).text
    request_url = operation.find_element(By.CSS_SELECTOR, ".request-url pre").text
    assert request_url == f"{stack.api_url}/api/v2/system/service"
