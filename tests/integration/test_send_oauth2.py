"""An SMTP service that logs in with OAuth2, end to end through the API: a token endpoint on
loopback (HTTPS, the test CA) and an SMTP server that checks the XOAUTH2 string against it.

Created, sent through, tested and PATCHed as an admin would: the right XOAUTH2 string, one
token request for many sends, a stale token refreshed once, a revoked refresh token and a token
endpoint that is down as clear failures, and the secrets never in a GET, an answer or a log."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import ApiResponse, call_api, create_service
from tests.support.smtp_servers import Authorities, CaptureServer, ClosedPort, Security
from tests.support.token_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TokenFault,
    TokenServer,
)

pytestmark = pytest.mark.usefixtures("aws")

USER = "shop@example.com"
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN)


@pytest.fixture(autouse=True)
def loopback_token_endpoints(configure: Callable[..., None]) -> None:
    configure(ATTACHMENT_FETCH_ALLOW_LOOPBACK="true")


@pytest.fixture
def token_server(authorities: Authorities) -> Iterator[TokenServer]:
    with TokenServer(authorities.trusted) as server:
        yield server


@pytest.fixture
def smtp(smtp_server: Callable[..., CaptureServer], token_server: TokenServer) -> CaptureServer:
    return smtp_server(Security.STARTTLS, oauth2=token_server)


def _config(smtp: CaptureServer, token_url: str, **oauth2: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": smtp.port,
        "encryption": "tls",
        "username": USER,
        "auth": "oauth2",
        "oauth2": {"token_url": token_url, "client_id": CLIENT_ID, **oauth2},
        "from_email": USER,
    }


def _client_credentials(smtp: CaptureServer, token_server: TokenServer) -> dict[str, Any]:
    scope = "https://outlook.office365.com/.default"
    return _config(smtp, token_server.url, client_secret=CLIENT_SECRET, scope=scope)


def _refresh_token(smtp: CaptureServer, token_url: str) -> dict[str, Any]:
    return _config(smtp, token_url, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)


def _send(subject: str = "Hi") -> ApiResponse:
    return call_api(
        "POST",
        "/api/v2/email",
        {"to": "john@example.com", "subject": subject, "body_text": "Hello."},
    )


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_sends_log_in_with_xoauth2_and_share_one_token(
    smtp: CaptureServer, token_server: TokenServer, configure: Callable[..., None]
) -> None:
    configure(SMTP_REUSE_CONNECTIONS="false")  # every send a session, and an AUTH, of its own
    create_service(_client_credentials(smtp, token_server))

    answers = [_send(f"Message {n}") for n in range(3)]

    assert [answer.status for answer in answers] == [200, 200, 200]
    assert len(token_server.requests) == 1
    [token] = token_server.issued
    assert [attempt.string for attempt in smtp.xoauth2_attempts] == [
        f"user={USER}\x01auth=Bearer {token}\x01\x01"
    ] * 3
    assert all(attempt.tls for attempt in smtp.xoauth2_attempts)
    assert [message.auth_login for message in smtp.messages] == [USER] * 3


def test_get_never_shows_the_secrets(smtp: CaptureServer, token_server: TokenServer) -> None:
    created = create_service(_refresh_token(smtp, token_server.url))
    shown = call_api("GET", "/api/v2/system/service/email").body

    assert shown == created
    assert shown["config"]["oauth2"] == {
        "token_url": token_server.url,
        "client_id": CLIENT_ID,
        "scope": None,
        "grant": "refresh_token",
    }
    listed = call_api("GET", "/api/v2/system/service").body
    _assert_no_secret(json.dumps(created), json.dumps(shown), json.dumps(listed))


@pytest.mark.parametrize("style", ["google", "microsoft"])
def test_a_stale_token_is_refreshed_once_and_the_send_goes_through(
    smtp_server: Callable[..., CaptureServer],
    token_server: TokenServer,
    configure: Callable[..., None],
    style: str,
) -> None:
    """Gmail says so with a 334 error challenge then 535, Exchange Online with a 535."""
    smtp = smtp_server(Security.STARTTLS, oauth2=token_server, oauth2_style=style)
    configure(SMTP_REUSE_CONNECTIONS="false")
    create_service(_refresh_token(smtp, token_server.url))
    assert _send().status == 200
    token_server.expire_tokens()  # revoked at the provider, still kept by the function

    answer = _send()

    assert answer.status == 200, answer.body
    assert len(token_server.requests) == 2
    assert [attempt.success for attempt in smtp.xoauth2_attempts] == [True, False, True]
    assert len(smtp.messages) == 2


@pytest.mark.parametrize("style", ["google", "microsoft"])
def test_a_refused_fresh_token_is_not_tried_twice(
    smtp_server: Callable[..., CaptureServer],
    token_server: TokenServer,
    style: str,
) -> None:
    """The account's fault (no permission on the mailbox, say): one token, one AUTH."""
    smtp = smtp_server(Security.STARTTLS, oauth2=_NoTokenIsLive(), oauth2_style=style)
    create_service(_client_credentials(smtp, token_server))

    answer = _send()

    assert (answer.status, answer.reason) == (502, "smtp_auth_failed")
    assert len(token_server.requests) == 1
    assert len(smtp.xoauth2_attempts) == 1


class _NoTokenIsLive:
    def is_live(self, token: str) -> bool:
        return False


def test_a_revoked_refresh_token_fails_with_the_endpoints_code(
    smtp: CaptureServer, token_server: TokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="email-api")
    create_service(_refresh_token(smtp, token_server.url))
    token_server.revoke(REFRESH_TOKEN)

    answer = _send()

    assert (answer.status, answer.reason) == (502, "oauth_token_failed")
    assert answer.body["error"]["context"] == {"error": "invalid_grant", "status": 400}
    assert smtp.sessions == 1
    assert smtp.xoauth2_attempts == []  # no AUTH without a token
    _assert_no_secret(json.dumps(answer.body), *(str(r.__dict__) for r in caplog.records))


def test_a_token_endpoint_that_is_down_is_a_transient_failure(
    smtp: CaptureServer, closed_port: ClosedPort
) -> None:
    create_service(_refresh_token(smtp, TokenServer.url_at(closed_port.port)))

    answer = _send()

    assert (answer.status, answer.reason) == (502, "oauth_token_failed")
    assert answer.body["error"]["context"] == {"error": "unreachable", "status": None}


def test_the_connection_test_reports_the_token_step(
    smtp: CaptureServer, token_server: TokenServer
) -> None:
    create_service(_client_credentials(smtp, token_server))

    report = call_api("POST", "/api/v2/system/service/email/test").body

    stages = [stage["stage"] for stage in report["stages"]]
    assert report["ok"], report
    assert stages.index("oauth2_token") == stages.index("auth") - 1
    assert report["auth"]["succeeded"] is True
    assert smtp.messages == []


def test_the_connection_test_reports_the_endpoints_error_code(
    smtp: CaptureServer, token_server: TokenServer
) -> None:
    create_service(_client_credentials(smtp, token_server))
    token_server.script(TokenFault.code("invalid_client", 401, "AADSTS7000215: bad secret"))

    report = call_api("POST", "/api/v2/system/service/email/test").body

    assert not report["ok"]
    assert report["stages"][-1] == {**report["stages"][-1], "stage": "oauth2_token", "ok": False}
    assert {key: report["error"][key] for key in ("reason", "stage", "provider_error")} == {
        "reason": "oauth_token_failed",
        "stage": "oauth2_token",
        "provider_error": "invalid_client",
    }
    _assert_no_secret(json.dumps(report))


def test_a_patch_keeps_the_secrets_it_leaves_out(
    smtp: CaptureServer, token_server: TokenServer
) -> None:
    create_service(_refresh_token(smtp, token_server.url))

    patched = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"oauth2": {"scope": "x.y"}}}
    )

    assert patched.status == 200, patched.body
    assert patched.body["config"]["oauth2"]["scope"] == "x.y"
    assert _send().status == 200
    assert token_server.requests[-1]["refresh_token"] == REFRESH_TOKEN
    assert token_server.requests[-1]["client_secret"] == CLIENT_SECRET


@pytest.mark.parametrize(
    "change",
    [
        {"oauth2": {"token_url": "https://127.0.0.1:1/elsewhere"}},
        {"oauth2": {"client_id": "another-app"}},
        {"host": "127.0.0.2"},
    ],
    ids=["token_url", "client_id", "smtp_host"],
)
def test_moving_the_secrets_needs_them_again(
    smtp: CaptureServer, token_server: TokenServer, change: dict[str, Any]
) -> None:
    create_service(_refresh_token(smtp, token_server.url))

    refused = call_api("PATCH", "/api/v2/system/service/email", {"config": change})

    assert (refused.status, refused.reason) == (400, "oauth2_secrets_required")
    assert call_api("GET", "/api/v2/system/service/email").body["config"]["port"] == smtp.port


def test_back_to_a_password(smtp: CaptureServer, token_server: TokenServer) -> None:
    create_service(_refresh_token(smtp, token_server.url))

    patched = call_api(
        "PATCH",
        "/api/v2/system/service/email",
        {"config": {"auth": "password", "password": "pw"}},
    )

    assert patched.status == 200, patched.body
    assert {"auth", "oauth2"}.isdisjoint(patched.body["config"])


def test_the_xoauth2_string_is_what_google_documents(
    smtp: CaptureServer, token_server: TokenServer
) -> None:
    create_service(_refresh_token(smtp, token_server.url))
    assert _send().status == 200

    [attempt] = smtp.xoauth2_attempts
    encoded = base64.b64encode(attempt.string.encode()).decode()
    assert base64.b64decode(encoded).split(b"\x01") == [
        f"user={USER}".encode(),
        f"auth=Bearer {token_server.issued[0]}".encode(),
        b"",
        b"",
    ]


def test_no_token_is_asked_for_a_server_without_starttls(
    smtp_server: Callable[..., CaptureServer], token_server: TokenServer
) -> None:
    """Empty encryption (STARTTLS when offered): a server offering none never sees a token,
    and the token endpoint is not even asked."""
    plain = smtp_server(Security.PLAIN, oauth2=token_server)
    create_service({**_refresh_token(plain, token_server.url), "encryption": ""})

    answer = _send()

    assert (answer.status, answer.reason) == (502, "smtp_tls_error")
    assert token_server.requests == []
    assert plain.xoauth2_attempts == []
