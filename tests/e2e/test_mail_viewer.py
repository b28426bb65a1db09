"""The mail viewer at /_local/mail in a real headless Chromium, over mail sent through the local
stack's API: newest first, search, one message (text, HTML in its sandboxed frame, headers, Bcc
in the envelope, an attachment), nothing remote loaded and no script run from the HTML, delete,
new mail shown without a reload, and clearing all.

The stack is this module's own: clearing the mail folder must not touch other tests' mail.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import ADMIN_KEY
from tests.support.headless_chromium import headless_chromium, needs_chromium
from tests.support.stack_process import RunningStack, start_stack
from tests.support.web_servers import WebServer, serve_file

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = needs_chromium

WAIT_SECONDS = 20
# The list is polled every 2 s: new mail shows within a few polls.
NEW_MAIL_SECONDS = 10
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
)
PDF = b"%PDF-1.4\n% a stand-in invoice\n"
UNRUN = "the script did not run"


def _tracking_html(remote: WebServer) -> str:
    """An HTML body that reaches for the network every way a mail can, and runs a script."""
    return f"""<html><head>
<link rel="stylesheet" href="{remote.url("/style.css")}">
<style>@font-face {{font-family: tracked; src: url({remote.url("/font.woff")});}}
p {{font-family: tracked;}}</style>
</head><body>
<p id="greeting">Hello from the <b>HTML</b> part.</p>
<p id="marker">{UNRUN}</p>
<img src="{remote.url("/pixel.png")}" alt="tracking pixel">
<div style="background: url({remote.url("/background.png")})">styled</div>
<img src="nowhere" onerror="document.getElementById('marker').textContent = 'onerror ran'">
<script>
document.getElementById("marker").textContent = "the script ran";
fetch("{remote.url("/script-ran")}");
</script>
</body></html>"""


@pytest.fixture(scope="module")
def remote() -> Iterator[WebServer]:
    """What a mail's remote content points at: every request it gets is recorded."""
    with WebServer() as server:
        server.routes["/pixel.png"] = serve_file(PIXEL, "image/png")
        server.routes["/control"] = serve_file(
            b'<!doctype html><img src="/pixel.png">', "text/html"
        )
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("mail-viewer-stack"), admin_key=ADMIN_KEY)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def _send(stack: RunningStack, body: dict[str, Any]) -> None:
    answer = stack.request(
        "POST",
        "/api/v2/email",
        body=json.dumps(body),
        headers={"X-DreamFactory-API-Key": stack.admin_key, "Content-Type": "application/json"},
    )
    assert answer.status == 200, answer.body


def _listed_subjects(browser: Any) -> list[str]:
    # In one script: the page redraws its list between two WebDriver calls.
    subjects: list[str] = browser.execute_script(
        "return Array.from(document.querySelectorAll('#messages li.message .subject'),"
        " (subject) => subject.textContent)"
    )
    return subjects


def _open(browser: Any, subject: str) -> None:
    """Click the list entry of `subject` (found again should the list redraw meanwhile)."""

    def clicked(driver: Any) -> bool:
        for item in driver.find_elements(By.CSS_SELECTOR, "#messages li.message"):
            if item.find_element(By.CSS_SELECTOR, ".subject").text == subject:
                item.click()
                return True
        return False

    WebDriverWait(
        browser, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
    ).until(clicked)


def _wait_for_list(browser: Any, subjects: list[str], seconds: float = WAIT_SECONDS) -> None:
    WebDriverWait(browser, seconds).until(lambda driver: _listed_subjects(driver) == subjects)


def _search(browser: Any, text: str) -> None:
    box = browser.find_element(By.ID, "search")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)


def test_the_viewer_in_a_browser(stack: RunningStack, remote: WebServer, browser: Any) -> None:
    wait = WebDriverWait(browser, WAIT_SECONDS)
    tag = uuid.uuid4().hex[:8]
    first, second, third = (f"{name} {tag}" for name in ("Invoice", "Welcome", "Late news"))
    assert f"{stack.api_url}/_local/mail" in stack.log()  # the banner says where it is

    _send(
        stack,
        {
            "to": [{"email": "ann@example.com", "name": "Ann Lee"}],
            "bcc": [{"email": "hidden@example.org"}],
            "subject": first,
            "body_text": "Your invoice is attached.",
            "body_html": _tracking_html(remote),
            "attachments": [
                {
                    "name": "invoice.pdf",
                    "content": base64.b64encode(PDF).decode(),
                    "content_type": "application/pdf",
                }
            ],
        },
    )
    _send(
        stack,
        {"to": "bob@example.org", "subject": second, "body_text": "Welcome aboard."},
    )

    browser.get(f"{stack.api_url}/_local/mail")
    _wait_for_list(browser, [second, first])  # newest first

    # Search: over the subject, and over the envelope (a Bcc recipient no header names).
    _search(browser, "welcome")
    _wait_for_list(browser, [second])
    _search(browser, "hidden@example.org")
    _wait_for_list(browser, [first])
    _search(browser, "")
    _wait_for_list(browser, [second, first])

    # One message: its subject, text, HTML, headers, envelope and attachment.
    _open(browser, first)
    wait.until(lambda driver: driver.find_element(By.ID, "subject").text == first)
    bcc = browser.find_element(By.ID, "envelope-bcc").text
    assert bcc == "hidden@example.org"
    assert "ann@example.com" in browser.find_element(By.ID, "envelope-to").text
    (link,) = browser.find_elements(By.CSS_SELECTOR, "#attachments a")
    assert link.text == "invoice.pdf"
    with urllib.request.urlopen(link.get_attribute("href"), timeout=10) as download:  # noqa: S310  # the stack's loopback URL
        assert download.read() == PDF

    frame = browser.find_element(By.ID, "html-frame")
    assert frame.get_attribute("sandbox") == ""  # neither scripts nor the page's origin
    browser.switch_to.frame(frame)
    greeting = wait.until(lambda driver: driver.find_element(By.ID, "greeting"))
    assert greeting.text == "Hello from the HTML part."
    time.sleep(1)  # room for any late request the frame would make
    assert browser.find_element(By.ID, "marker").text == UNRUN  # no script, no handler ran
    browser.switch_to.default_content()
    assert remote.arrivals == []  # no image, style, font or fetch reached the remote server

    browser.find_element(By.CSS_SELECTOR, '#tabs [data-tab="text"]').click()
    assert browser.find_element(By.ID, "tab-text").text == "Your invoice is attached."
    browser.find_element(By.CSS_SELECTOR, '#tabs [data-tab="headers"]').click()
    headers = browser.find_element(By.ID, "tab-headers").text
    assert f"Subject {first}" in headers
    assert "hidden@example.org" not in headers  # Bcc is in the envelope only

    # Delete it; then mail sent meanwhile appears without a reload.
    browser.find_element(By.ID, "delete").click()
    _wait_for_list(browser, [second])
    _send(stack, {"to": "carol@example.net", "subject": third, "body_text": "Just in."})
    _wait_for_list(browser, [third, second], NEW_MAIL_SECONDS)

    # Delete all (after the page asks).
    browser.find_element(By.ID, "clear").click()
    browser.switch_to.alert.accept()
    _wait_for_list(browser, [])
    assert browser.find_element(By.CSS_SELECTOR, "#messages li.empty").text == "No mail yet."
    assert list(stack.mail_dir.glob("*.json")) == []

    # The control: this browser does reach the remote server when a page of its own asks.
    browser.get(remote.url("/control"))
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda _: any(arrival.target == "/pixel.png" for arrival in remote.arrivals)
    )
