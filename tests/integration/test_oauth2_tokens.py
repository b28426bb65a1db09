"""Getting OAuth2 tokens from a token endpoint on loopback (HTTPS, the test CA): both grants,
the answers a provider gives, every way it fails, the send's deadline, the guard, the cache on
top of the real client, and no secret in any error or log line."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from core.oauth2.cache import TokenCache
from core.oauth2.client import DEFAULT_LIFETIME_SECONDS, TokenClient
from core.oauth2.config import Grant, OAuth2Settings
from core.oauth2.errors import OAuth2TokenFailed, OAuth2TokenTimeout
from core.oauth2.tokens import TokenRequest
from core.settings import get_settings
from core.transport.base import Deadline
from tests.support.smtp_servers import Authorities, ClosedPort
from tests.support.token_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TokenFault,
    TokenServer,
)

SCOPE = "https://outlook.office365.com/.default"
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN)


@pytest.fixture(autouse=True)
def loopback_token_endpoints(configure: Callable[..., None]) -> None:
    """Token endpoints are held to the attachment URLs' guard; the test's is on loopback."""
    configure(ATTACHMENT_FETCH_ALLOW_LOOPBACK="true")


@pytest.fixture
def token_server(authorities: Authorities) -> Iterator[TokenServer]:
    with TokenServer(authorities.trusted) as server:
        yield server


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="email-api")
    return caplog


def _client() -> TokenClient:
    return TokenClient.from_settings(get_settings())


def _credentials_request(url: str, secret: str = CLIENT_SECRET) -> TokenRequest:
    settings = OAuth2Settings(
        token_url=url, client_id=CLIENT_ID, scope=SCOPE, grant=Grant.CLIENT_CREDENTIALS
    )
    return TokenRequest(settings, client_secret=secret, secret_id="s/email", secret_version="1")


def _refresh_request(
    url: str, refresh_token: str = REFRESH_TOKEN, secret: str | None = CLIENT_SECRET
) -> TokenRequest:
    settings = OAuth2Settings(token_url=url, client_id=CLIENT_ID, grant=Grant.REFRESH_TOKEN)
    return TokenRequest(
        settings,
        client_secret=secret,
        refresh_token=refresh_token,
        secret_id="s/gmail",
        secret_version="1",
    )


def _failure(request: TokenRequest, deadline: Deadline | None = None) -> OAuth2TokenFailed:
    with pytest.raises(OAuth2TokenFailed) as raised:
        _client().fetch(request, deadline or Deadline.after(5))
    return raised.value


def _assert_no_secret(failure: OAuth2TokenFailed, logs: pytest.LogCaptureFixture) -> None:
    shown = [failure.message, str(failure), json.dumps(failure.context)]
    shown += [str(record.__dict__) for record in logs.records]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text


# --- the two grants -------------------------------------------------------------------------------


def test_client_credentials_get_a_token(token_server: TokenServer) -> None:
    token = _client().fetch(_credentials_request(token_server.url), Deadline.after(5))

    assert token_server.is_live(token.value)
    assert token.lifetime_seconds == 3600
    assert token_server.requests == [
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": SCOPE,
        }
    ]


@pytest.mark.parametrize("secret", [CLIENT_SECRET, None], ids=["confidential", "public"])
def test_a_refresh_token_gets_a_token(token_server: TokenServer, secret: str | None) -> None:
    token = _client().fetch(_refresh_request(token_server.url, secret=secret), Deadline.after(5))

    assert token_server.is_live(token.value)
    expected = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
    expected |= {"refresh_token": REFRESH_TOKEN}
    if secret is not None:
        expected["client_secret"] = secret
    assert token_server.requests == [expected]


def test_the_request_is_a_form_post_asking_for_json(token_server: TokenServer) -> None:
    _client().fetch(_credentials_request(token_server.url), Deadline.after(5))

    arrival = token_server.arrivals[0]
    assert arrival.method == "POST"
    assert arrival.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert arrival.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [(3599, 3599), ("3599", 3599), (None, DEFAULT_LIFETIME_SECONDS), (10**9, 86_400)],
)
def test_the_lifetime_is_what_expires_in_says(
    token_server: TokenServer, expires_in: int | str | None, lifetime: float
) -> None:
    token_server.expires_in = expires_in

    token = _client().fetch(_credentials_request(token_server.url), Deadline.after(5))

    assert token.lifetime_seconds == lifetime


# --- the endpoint refuses ------------------------------------------------------------------------


def test_a_wrong_client_secret_is_invalid_client_and_permanent(
    token_server: TokenServer, logs: pytest.LogCaptureFixture
) -> None:
    failure = _failure(_credentials_request(token_server.url, secret="wrong-" + CLIENT_SECRET))

    assert (failure.status, failure.reason, failure.context) == (
        502,
        "oauth_token_failed",
        {"error": "invalid_client", "status": 401},
    )
    assert not failure.transient
    assert "client_secret" in failure.message  # the hint
    _assert_no_secret(failure, logs)
    assert "wrong-" not in failure.message


def test_a_revoked_refresh_token_is_invalid_grant_and_permanent(
    token_server: TokenServer, logs: pytest.LogCaptureFixture
) -> None:
    token_server.revoke(REFRESH_TOKEN)

    failure = _failure(_refresh_request(token_server.url))

    assert failure.context == {"error": "invalid_grant", "status": 400}
    assert not failure.transient
    assert "new one" in failure.message
    _assert_no_secret(failure, logs)


def test_the_endpoints_description_is_bounded_scrubbed_and_never_holds_a_secret(
    token_server: TokenServer, logs: pytest.LogCaptureFixture
) -> None:
    description = (
        f"AADSTS7000215: Invalid client secret '{CLIENT_SECRET}'.\r\nX-Injected: yes"
        + " padding" * 100
    )
    token_server.script(TokenFault.code("invalid_client", 401, description))

    failure = _failure(_credentials_request(token_server.url))

    assert "AADSTS7000215: Invalid client secret '[redacted]'. X-Injected: yes" in (failure.message)
    assert "\r" not in failure.message
    assert "\n" not in failure.message
    assert len(failure.message) < 500
    _assert_no_secret(failure, logs)


def test_an_error_code_outside_rfc_6749s_characters_is_not_repeated(
    token_server: TokenServer,
) -> None:
    token_server.script(TokenFault.code('bad"code\n', 400))

    assert _failure(_credentials_request(token_server.url)).context["error"] == "http_error"


@pytest.mark.parametrize(
    ("fault", "error", "transient"),
    [
        (TokenFault.http(500), "http_error", True),
        (TokenFault.http(429), "http_error", True),
        (TokenFault.http(404), "http_error", False),
        (TokenFault.code("temporarily_unavailable", 503), "temporarily_unavailable", True),
        (TokenFault.code("server_error", 400), "server_error", True),
        (TokenFault.code("invalid_scope", 400), "invalid_scope", False),
        (TokenFault.code("unauthorized_client", 400), "unauthorized_client", False),
    ],
)
def test_server_trouble_is_transient_and_refusals_are_not(
    token_server: TokenServer, fault: TokenFault, error: str, transient: bool
) -> None:
    token_server.script(fault)

    failure = _failure(_credentials_request(token_server.url))

    assert (failure.context["error"], failure.transient) == (error, transient)
    assert failure.context["status"] == fault.status


def test_a_200_that_is_no_token_answer_is_invalid_response(token_server: TokenServer) -> None:
    token_server.script(TokenFault.http(200))

    failure = _failure(_credentials_request(token_server.url))

    assert (failure.context, failure.transient) == (
        {"error": "invalid_response", "status": 200},
        False,
    )


# --- the endpoint cannot be reached, or not in time --------------------------------------------


def test_an_endpoint_that_is_down_is_unreachable_and_transient(
    closed_port: ClosedPort, logs: pytest.LogCaptureFixture
) -> None:
    failure = _failure(_credentials_request(TokenServer.url_at(closed_port.port)))

    assert (failure.status, failure.context, failure.transient) == (
        502,
        {"error": "unreachable", "status": None},
        True,
    )
    _assert_no_secret(failure, logs)


def test_a_slow_endpoint_runs_out_of_the_sends_time(
    token_server: TokenServer, logs: pytest.LogCaptureFixture
) -> None:
    token_server.script(TokenFault.slow(10))
    started = time.monotonic()

    failure = _failure(_credentials_request(token_server.url), Deadline.after(0.5))

    assert time.monotonic() - started < 2
    assert isinstance(failure, OAuth2TokenTimeout)
    assert (failure.status, failure.reason, failure.context, failure.transient) == (
        504,
        "oauth_token_failed",
        {"error": "timeout", "status": None},
        True,
    )
    _assert_no_secret(failure, logs)


def test_an_endpoint_slower_than_the_operators_timeout_is_given_up_on(
    token_server: TokenServer, configure: Callable[..., None]
) -> None:
    configure(SMTP_TIMEOUT_SECONDS="0.5")
    token_server.script(TokenFault.slow(10))
    started = time.monotonic()

    failure = _failure(_credentials_request(token_server.url), Deadline.after(30))

    assert time.monotonic() - started < 2
    assert failure.context["error"] == "timeout"


def test_an_untrusted_certificate_is_a_tls_error(authorities: Authorities) -> None:
    with TokenServer(authorities.untrusted) as untrusted:
        failure = _failure(_credentials_request(untrusted.url))

        assert (failure.context, failure.transient) == (
            {"error": "tls_error", "status": None},
            False,
        )
        assert untrusted.requests == []  # the secret never left


def test_the_guard_refuses_loopback_unless_allowed(
    token_server: TokenServer, configure: Callable[..., None]
) -> None:
    configure(ATTACHMENT_FETCH_ALLOW_LOOPBACK="false")

    failure = _failure(_credentials_request(token_server.url))

    assert (failure.context, failure.transient) == (
        {"error": "destination_forbidden", "status": None},
        False,
    )
    # Loopback servers listen on ports other than 443, which the guard refuses first.
    assert "no credentials were sent" in failure.message
    assert token_server.arrivals == []


# --- the cache over the real client ------------------------------------------------------------


def test_one_token_request_for_many_sends_across_threads(token_server: TokenServer) -> None:
    cache = TokenCache(_client())
    request = _credentials_request(token_server.url)
    tokens: list[str] = []

    def send() -> None:
        tokens.append(cache.token(request, Deadline.after(5)))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(tokens) == 6
    assert set(tokens) == set(token_server.issued)
    assert len(token_server.requests) == 1


def test_a_token_near_its_expiry_is_fetched_anew(token_server: TokenServer) -> None:
    now = [100.0]
    cache = TokenCache(_client(), clocks=(lambda: now[0],))
    request = _refresh_request(token_server.url)
    first = cache.token(request, Deadline.after(5))

    now[0] += 3600 - 60
    second = cache.token(request, Deadline.after(5))

    assert first != second
    assert token_server.issued == [first, second]


def test_a_stale_token_is_refreshed_after_invalidate(token_server: TokenServer) -> None:
    cache = TokenCache(_client())
    request = _refresh_request(token_server.url)
    first = cache.token(request, Deadline.after(5))
    token_server.expire_tokens()  # the provider's side: the token no longer works

    cache.invalidate(request, first)
    second = cache.token(request, Deadline.after(5))

    assert token_server.is_live(second)
    assert len(token_server.requests) == 2


def test_the_logs_name_the_endpoint_and_no_secret_or_token(
    token_server: TokenServer, logs: pytest.LogCaptureFixture
) -> None:
    token = _client().fetch(_refresh_request(token_server.url), Deadline.after(5))

    fetched = [record for record in logs.records if record.getMessage() == "oauth2 token fetched"]
    assert len(fetched) == 1
    assert fetched[0].__dict__["token_url"] == token_server.url
    for record in logs.records:
        for secret in (*SECRETS, token.value):
            assert secret not in str(record.__dict__)
