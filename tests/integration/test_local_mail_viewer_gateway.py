"""The mail viewer as the local gateway serves it on the API port, over real HTTP on loopback:
mail the capture server keeps is listed and served, a browser's cross-site or rebound request
is refused, and a DELETE takes the viewer's header. (No function runs: the viewer is the
gateway's own, as `/_local/ses-events` is.)"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from local_stack.functions import template_api, template_functions
from local_stack.gateway import Gateway
from local_stack.mail_capture import MailFolder
from local_stack.smtp.capture import Received
from tests.support.network import free_port

MESSAGES = "/_local/mail/api/messages"


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    message = EmailMessage()
    message["From"] = "ann@example.com"
    message["To"] = "bob@example.org"
    message["Subject"] = "Through the gateway"
    message.set_content("Hello.")
    received = Received(
        mail_from="ann@example.com",
        rcpt_tos=["bob@example.org", "secret-bcc@example.org"],
        data=message.as_bytes(),
        tls=False,
        auth_login=None,
    )
    MailFolder(tmp_path / "mail").keep(received)
    return tmp_path / "mail"


@pytest.fixture
def gateway(mail_dir: Path) -> Iterator[Gateway]:
    running = Gateway(
        free_port(), free_port(), template_functions(), template_api(), mail_dir=mail_dir
    )
    try:
        yield running
    finally:
        running.stop()


def _request(
    gateway: Gateway, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    port = gateway._listeners[0]._server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def test_the_page_and_the_list_over_http(gateway: Gateway) -> None:
    status, headers, page = _request(gateway, "GET", "/_local/mail")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"/_local/mail/static/viewer.js" in page

    status, _, body = _request(gateway, "GET", f"{MESSAGES}?q=gateway")
    listed = json.loads(body)
    assert status == 200
    assert [message["subject"] for message in listed["messages"]] == ["Through the gateway"]

    message_id = listed["messages"][0]["id"]
    status, _, body = _request(gateway, "GET", f"{MESSAGES}/{message_id}")
    assert json.loads(body)["envelope"]["bcc"] == ["secret-bcc@example.org"]

    status, headers, body = _request(gateway, "HEAD", "/_local/mail")
    assert (status, body) == (200, b"")


def test_a_rebound_host_or_another_site_is_refused(gateway: Gateway) -> None:
    assert _request(gateway, "GET", MESSAGES, {"Host": "evil.example:3000"})[0] == 403
    cross_site = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    assert _request(gateway, "GET", MESSAGES, cross_site)[0] == 403


def test_delete_needs_the_viewer_s_header(gateway: Gateway, mail_dir: Path) -> None:
    status, _, _ = _request(gateway, "DELETE", MESSAGES, {"Origin": "http://evil.example"})
    assert status == 403
    assert list(mail_dir.glob("*.json"))

    status, _, body = _request(gateway, "DELETE", MESSAGES, {"X-Mail-Viewer": "delete"})

    assert (status, json.loads(body)) == (200, {"deleted": 1})
    assert list(mail_dir.iterdir()) == []


def test_other_local_paths_are_still_api_gateway_s_404(gateway: Gateway) -> None:
    status, _, body = _request(gateway, "GET", "/_local/mailbox")
    # The template's gateway response for a route it does not have, not the viewer's.
    assert status == 404
    assert json.loads(body)["error"]["reason"] == "route_not_found"
