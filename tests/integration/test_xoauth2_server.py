"""The tests' XOAUTH2 SMTP server (tests.support.smtp_servers) answers as Gmail and Exchange
Online do, so the transport's tests can trust it: 235 for a live token, and for a stale one
Gmail's 334 error challenge then 535, or Microsoft's 535 at once. Spoken to with smtplib."""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
from collections.abc import Callable, Iterator

import pytest

from core.oauth2.client import TokenClient
from core.oauth2.config import Grant, OAuth2Settings
from core.oauth2.tokens import TokenRequest
from core.settings import get_settings
from core.transport.base import Deadline
from tests.support.smtp_servers import LOOPBACK, Authorities, CaptureServer, Security
from tests.support.token_server import CLIENT_ID, CLIENT_SECRET, TokenServer

USER = "shop@example.com"


@pytest.fixture
def token_server(authorities: Authorities, configure: Callable[..., None]) -> Iterator[TokenServer]:
    configure(ATTACHMENT_FETCH_ALLOW_LOOPBACK="true")
    with TokenServer(authorities.trusted) as server:
        yield server


def _token(token_server: TokenServer) -> str:
    settings = OAuth2Settings(
        token_url=token_server.url, client_id=CLIENT_ID, grant=Grant.CLIENT_CREDENTIALS
    )
    request = TokenRequest(settings, client_secret=CLIENT_SECRET)
    return TokenClient.from_settings(get_settings()).fetch(request, Deadline.after(5)).value


def _xoauth2(token: str) -> str:
    return base64.b64encode(f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def _session(server: CaptureServer, authorities: Authorities) -> smtplib.SMTP:
    client = smtplib.SMTP(LOOPBACK, server.port, timeout=5)
    client.starttls(context=ssl.create_default_context(cafile=str(authorities.trusted.bundle)))
    client.ehlo()
    return client


def test_a_live_token_is_accepted_and_the_string_recorded(
    token_server: TokenServer,
    smtp_server: Callable[..., CaptureServer],
    authorities: Authorities,
) -> None:
    server = smtp_server(Security.STARTTLS, oauth2=token_server)
    token = _token(token_server)

    with _session(server, authorities) as client:
        assert "XOAUTH2" in client.esmtp_features["auth"].split()
        code, _ = client.docmd("AUTH", f"XOAUTH2 {_xoauth2(token)}")
        client.sendmail(USER, ["to@example.com"], b"Subject: hi\r\n\r\nhello\r\n")

    assert code == 235
    [attempt] = server.xoauth2_attempts
    assert attempt.string == f"user={USER}\x01auth=Bearer {token}\x01\x01"
    assert (attempt.user, attempt.token, attempt.success, attempt.tls) == (USER, token, True, True)
    assert server.only_message.auth_login == USER


def test_a_stale_token_gets_gmails_error_challenge_then_535(
    token_server: TokenServer,
    smtp_server: Callable[..., CaptureServer],
    authorities: Authorities,
) -> None:
    server = smtp_server(Security.STARTTLS, oauth2=token_server)
    token = _token(token_server)
    token_server.expire_tokens()

    with _session(server, authorities) as client:
        challenge = client.docmd("AUTH", f"XOAUTH2 {_xoauth2(token)}")
        final = client.docmd("")

    assert challenge[0] == 334
    assert json.loads(base64.b64decode(challenge[1]))["status"] == "401"
    assert final[0] == 535
    assert final[1].startswith(b"5.7.8")
    assert not server.xoauth2_attempts[0].success


def test_a_stale_token_gets_microsofts_535_at_once(
    token_server: TokenServer,
    smtp_server: Callable[..., CaptureServer],
    authorities: Authorities,
) -> None:
    server = smtp_server(Security.STARTTLS, oauth2=token_server, oauth2_style="microsoft")

    with _session(server, authorities) as client:
        code, text = client.docmd("AUTH", f"XOAUTH2 {_xoauth2('never-issued')}")

    assert (code, text) == (535, b"5.7.3 Authentication unsuccessful")
