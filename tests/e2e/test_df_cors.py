"""A browser app's call through the local stack, in a real headless Chromium: a page served from
one loopback origin calls the API on another with `fetch` and an app's key in
`X-DreamFactory-API-Key`, as DreamFactory's JavaScript clients do. The listed origin's page
gets its answer (and the mail reaches the stack's SMTP capture server); an unlisted one's call
is blocked by the browser, before anything is sent.

DreamFactory answers CORS for the origins its administrator lists (df-core
`src/Providers/CorsServiceProvider.php` lines 37-92, `cors_config.origin` split on commas; with
no entry, no CORS at all); here they are the stack's CORS_ALLOWED_ORIGINS, as the template's
CorsAllowedOrigins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from local_stack.mail_capture import read_captured
from tests.support.api import ADMIN_KEY
from tests.support.headless_chromium import headless_chromium, needs_chromium
from tests.support.stack_process import RunningStack, start_stack
from tests.support.web_servers import WebServer, serve_file

webdriver = pytest.importorskip("selenium.webdriver")

SCRIPT_TIMEOUT_SECONDS = 30
PAGE = b"<!doctype html><title>A DreamFactory app</title><p>app"

pytestmark = needs_chromium

# The call as the page makes it: DreamFactory's JSON label with its charset, the key in its
# header; the browser adds Origin, and first sends a preflight, since the key header is not one
# a page may send without asking.
CALL = """
const [url, key, body, done] = arguments;
fetch(url, {
  method: "POST",
  headers: {"X-DreamFactory-API-Key": key, "Content-Type": "application/json; charset=utf-8"},
  body: JSON.stringify(body),
}).then(
  async (answer) => done({status: answer.status, body: await answer.text()}),
  (error) => done({error: String(error)}),
);
"""


@pytest.fixture(scope="module")
def pages() -> Iterator[tuple[WebServer, WebServer]]:
    """Two apps' pages on loopback ports of their own: the first one's origin is listed."""
    with WebServer() as listed, WebServer() as unlisted:
        for server in (listed, unlisted):
            server.routes["/"] = serve_file(PAGE, "text/html")
        yield listed, unlisted


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, pages: tuple[WebServer, WebServer]
) -> Iterator[RunningStack]:
    listed, _ = pages
    running = start_stack(
        tmp_path_factory.mktemp("cors-stack"),
        admin_key=ADMIN_KEY,
        extra_env={"CORS_ALLOWED_ORIGINS": listed.url("")},
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def app_key(stack: RunningStack) -> str:
    """A key of a role that may send through `email`: what an app ships with, not the admin's."""
    admin = {"X-DreamFactory-API-Key": stack.admin_key, "Content-Type": "application/json"}
    role = stack.request(
        "POST",
        "/api/v2/system/role",
        body='{"name": "web-app", "services": ["email"], "senders": ["*"]}',
        headers=admin,
    )
    assert role.status == 201, role.body
    key = stack.request("POST", "/api/v2/system/api_key", body='{"role": "web-app"}', headers=admin)
    assert key.status == 201, key.body
    token: str = key.body["key"]
    return token


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium with no way out but loopback."""
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        driver.set_script_timeout(SCRIPT_TIMEOUT_SECONDS)
        yield driver


def _call_from(browser: Any, page: WebServer, stack: RunningStack, key: str, subject: str) -> Any:
    """Open the app's page on 127.0.0.1 and send from it to the API on `localhost`: another
    origin (the host differs), so every rule of CORS applies."""
    browser.get(page.url("/"))
    url = f"http://localhost:{stack.api_port}/api/v2/email"
    body = {
        "to": [{"email": "ann@example.com", "name": "Ann Lee"}],
        "subject": subject,
        "body_text": "Sent from a web page.",
    }
    return browser.execute_async_script(CALL, url, key, body)


def _subjects(stack: RunningStack) -> list[str]:
    """The subject of every message the stack's SMTP capture server received."""
    parser = BytesParser(policy=default)
    return [
        str(parser.parsebytes(mail.eml_path.read_bytes(), headersonly=True)["Subject"])
        for mail in read_captured(stack.mail_dir)
    ]


def test_the_listed_origins_page_sends_and_reads_the_answer(
    stack: RunningStack, pages: tuple[WebServer, WebServer], app_key: str, browser: Any
) -> None:
    listed, _ = pages
    subject = f"From the app {uuid.uuid4()}"

    result = _call_from(browser, listed, stack, app_key, subject)

    assert result.get("status") == 200, result
    assert '"count": 1' in result["body"] or '"count":1' in result["body"], result
    assert subject in _subjects(stack)


def test_the_listed_origins_page_reads_a_refused_key_too(
    stack: RunningStack, pages: tuple[WebServer, WebServer], browser: Any
) -> None:
    """API Gateway's own 401 (its authorizer refused the key) names the one listed origin."""
    listed, _ = pages

    result = _call_from(browser, listed, stack, "not-a-key", f"Refused {uuid.uuid4()}")

    assert result.get("status") == 401, result
    assert '"reason": "unauthorized"' in result["body"], result


def test_an_unlisted_origins_page_is_blocked_and_nothing_is_sent(
    stack: RunningStack, pages: tuple[WebServer, WebServer], app_key: str, browser: Any
) -> None:
    _, unlisted = pages
    subject = f"From a stranger {uuid.uuid4()}"

    result = _call_from(browser, unlisted, stack, app_key, subject)

    # All a page learns of a call CORS blocks: fetch fails, with no status and no body.
    assert result == {"error": "TypeError: Failed to fetch"}
    # Its preflight was refused, so the POST itself never left the browser.
    assert subject not in _subjects(stack)
