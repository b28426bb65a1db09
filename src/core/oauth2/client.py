"""One token request: a form-encoded POST to the service's token endpoint (RFC 6749 §4.4 for
client credentials, §6 for a refresh token) and its JSON answer read into an `AccessToken`.

The request goes out as attachment URLs are fetched (`core.attachments.fetch`), through the
same guard and the same pinned connection (`core.network.lookup`, `core.network.pinned_http`):

- the host is resolved once, in a thread waited for no longer than the DNS allowance or what
  the send has left, and every address is judged by the destinations guard under the attachment
  fetch policy (port 443; no loopback, no private ranges unless the operator allows them); the
  connection goes to a checked address, never to the name again;
- TLS is always verified, against the system store plus the operator's SMTP_CA_FILE (the CA
  the SMTP transport trusts too), for the endpoint's host name; a service's `verify_tls: false`
  is about its SMTP server, never about where its client secret goes;
- one deadline bounds the lookup, the connect, the handshake and every read: the send's own, or
  `timeout_seconds` from now if that is sooner;
- the answer is read up to `max_bytes` (64 KiB: a token answer is a few kilobytes), no more;
- the client authenticates with `client_id` and `client_secret` in the form body, which both
  Microsoft's and Google's endpoints take (RFC 6749 §2.3.1 allows it beside HTTP Basic);
- nothing that identifies the user is logged: the token URL, the grant, the outcome; never a
  secret, a token or the endpoint's own words.

The endpoint's refusals and every other failure are `OAuth2TokenFailed` (see `errors`).
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
from typing import Any, NoReturn
from urllib.parse import urlencode

from aws_lambda_powertools import Logger

from core.network.destination import DestinationForbidden, DestinationPolicy
from core.network.lookup import LookupTimedOut, is_loopback, resolve_within
from core.network.pinned_http import PinnedTlsConnection
from core.network.tls import client_context
from core.oauth2.config import TokenEndpoint, destination_policy, refusal
from core.oauth2.errors import (
    TRANSIENT_CODES,
    OAuth2TokenFailed,
    OAuth2TokenTimeout,
    error_code,
    scrubbed,
)
from core.oauth2.tokens import AccessToken, TokenRequest
from core.settings import Settings
from core.transport.base import Deadline

logger = Logger(child=True)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_DNS_TIMEOUT_SECONDS = 5.0
MAX_ANSWER_BYTES = 64 * 1024
# A token whose answer names no lifetime is trusted this long: RFC 6749 leaves the default to
# the provider, and a short guess costs a token request, a long one a refused AUTH.
DEFAULT_LIFETIME_SECONDS = 300
MAX_LIFETIME_SECONDS = 86_400
_USER_AGENT = "email-api-oauth2/1"
# RFC 6750's b64token: what a bearer token may be, and so what may go into an XOAUTH2 string.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 16 * 1024
_HINTS = {
    "invalid_client": "check the client_id and the client_secret (its value, not its id)",
    "invalid_grant": "the refresh token has expired or was revoked: give the service a new one",
    "unauthorized_client": "the app may not use this grant; check its registration",
    "invalid_scope": "the provider does not grant this scope to the app",
    "unsupported_grant_type": "the endpoint does not offer this grant",
}


class TokenClient:
    """Gets access tokens from token endpoints; holds no token (that is `TokenCache`'s job)."""

    def __init__(
        self,
        *,
        destinations: DestinationPolicy,
        tls: ssl.SSLContext,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        dns_timeout_seconds: float = DEFAULT_DNS_TIMEOUT_SECONDS,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self._destinations = destinations
        self._tls = tls
        self._timeout_seconds = timeout_seconds
        self._dns_timeout_seconds = dns_timeout_seconds
        self._max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenClient:
        return cls(
            destinations=destination_policy(settings),
            tls=client_context(True, settings.smtp_ca_file),
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    def fetch(self, request: TokenRequest, deadline: Deadline) -> AccessToken:
        """A new access token for `request`, by `deadline` (or `timeout_seconds` from now, if
        sooner); else `OAuth2TokenFailed` (`OAuth2TokenTimeout` when time ran out)."""
        endpoint = TokenEndpoint.of(request.settings.token_url)
        started = time.monotonic()
        within = Deadline(min(deadline.at, started + self._timeout_seconds))
        log: dict[str, Any] = {"token_url": endpoint.url, "grant": str(request.settings.grant)}
        try:
            try:
                status, body = self._exchange(endpoint, request, within)
            except OAuth2TokenFailed:
                raise
            except (OSError, http.client.HTTPException) as error:
                raise _network_failure(endpoint, error) from error
            token = _read_answer(endpoint, request, status, body)
        except OAuth2TokenFailed as failure:
            logger.warning(
                "oauth2 token not fetched",
                extra={**log, "error": failure.error, "status": failure.http_status},
            )
            raise
        logger.info(
            "oauth2 token fetched",
            extra={
                **log,
                "expires_in": token.lifetime_seconds,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        return token

    def _exchange(
        self, endpoint: TokenEndpoint, request: TokenRequest, deadline: Deadline
    ) -> tuple[int, bytes]:
        """The answer's status and (bounded) body."""
        addresses = self._addresses(endpoint, deadline)
        connection = PinnedTlsConnection(
            endpoint.host, endpoint.port, addresses, deadline, self._tls
        )
        try:
            connection.connect()
            connection.request(
                "POST",
                endpoint.target,
                body=urlencode(request.form()).encode("ascii"),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                    "User-Agent": _USER_AGENT,
                    "Connection": "close",
                },
            )
            response = connection.getresponse()
            try:
                return response.status, self._body(endpoint, response)
            finally:
                response.close()
        finally:
            connection.close()

    def _addresses(self, endpoint: TokenEndpoint, deadline: Deadline) -> list[str]:
        """The checked addresses to connect to, or a refusal."""
        seconds = min(self._dns_timeout_seconds, deadline.remaining())
        try:
            addresses = resolve_within(seconds, endpoint.host, endpoint.port, self._destinations)
        except LookupTimedOut:
            raise OAuth2TokenTimeout(
                f"The DNS lookup of the OAuth2 token endpoint {endpoint.url} did not answer"
                " in time."
            ) from None
        except DestinationForbidden as error:
            _refuse(endpoint, refusal(error.kind, endpoint.port))
        # As for attachment URLs: another port than 443 only on loopback (a local stack).
        if endpoint.port != 443 and not all(map(is_loopback, addresses)):
            _refuse(endpoint, refusal(None, endpoint.port))
        return addresses

    def _body(self, endpoint: TokenEndpoint, response: http.client.HTTPResponse) -> bytes:
        declared = response.length
        if declared is not None and declared > self._max_bytes:
            _invalid_answer(
                endpoint, f"an answer larger than {self._max_bytes} bytes", response.status
            )
        body = response.read(self._max_bytes + 1)
        if len(body) > self._max_bytes:
            _invalid_answer(
                endpoint, f"an answer larger than {self._max_bytes} bytes", response.status
            )
        return body


# --- reading the answer -----------------------------------------------------------------------


def _read_answer(
    endpoint: TokenEndpoint, request: TokenRequest, status: int, body: bytes
) -> AccessToken:
    document = _json_object(body)
    if status != 200:
        _refused_by_endpoint(endpoint, request, status, document)
    if document is None:
        _invalid_answer(endpoint, "a 200 whose body is no JSON object")
    token = document.get("access_token")
    if (
        not isinstance(token, str)
        or len(token) > MAX_TOKEN_LENGTH
        or not _BEARER_TOKEN.fullmatch(token)
    ):
        _invalid_answer(endpoint, "a 200 without a usable access_token")
    token_type = document.get("token_type")
    if token_type is not None and (
        not isinstance(token_type, str) or token_type.lower() != "bearer"
    ):
        _invalid_answer(endpoint, "a token that is not a bearer token")
    return AccessToken(value=token, lifetime_seconds=_lifetime(endpoint, document))


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except ValueError:  # nothing of the body is kept: the exception would carry it
        return None
    return document if isinstance(document, dict) else None


def _lifetime(endpoint: TokenEndpoint, document: dict[str, Any]) -> float:
    value = document.get("expires_in")
    if value is None:
        return DEFAULT_LIFETIME_SECONDS
    # Microsoft's older endpoint says it as text ("3599").
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        _invalid_answer(endpoint, "an expires_in that is no positive number")
    return float(min(value, MAX_LIFETIME_SECONDS))


def _refused_by_endpoint(
    endpoint: TokenEndpoint,
    request: TokenRequest,
    status: int,
    document: dict[str, Any] | None,
) -> NoReturn:
    code = error_code(document.get("error")) if document is not None else None
    description = (
        scrubbed(document.get("error_description"), request.secrets) if document is not None else ""
    )
    if code is not None:
        transient = code in TRANSIENT_CODES or status >= 500 or status == 429
        hint = _HINTS.get(code)
        said = f": {description}" if description else ""
        raise OAuth2TokenFailed(
            f"The OAuth2 token endpoint {endpoint.url} refused the request with"
            f" '{code}' (HTTP {status}){f'; {hint}' if hint else ''}{said}",
            error=code,
            status=status,
            transient=transient,
        )
    raise OAuth2TokenFailed(
        f"The OAuth2 token endpoint {endpoint.url} answered HTTP {status} without an OAuth2"
        " error code.",
        error="http_error",
        status=status,
        transient=status >= 500 or status == 429,
    )


# --- failures -----------------------------------------------------------------------------------


def _refuse(endpoint: TokenEndpoint, why: str) -> NoReturn:
    raise OAuth2TokenFailed(
        f"The OAuth2 token endpoint {endpoint.url} {why}; no credentials were sent.",
        error="destination_forbidden",
        status=None,
        transient=False,
    )


def _invalid_answer(endpoint: TokenEndpoint, what: str, status: int = 200) -> NoReturn:
    raise OAuth2TokenFailed(
        f"The OAuth2 token endpoint {endpoint.url} answered {what}.",
        error="invalid_response",
        status=status,
        transient=False,
    )


def _network_failure(
    endpoint: TokenEndpoint, error: OSError | http.client.HTTPException
) -> OAuth2TokenFailed:
    """What went wrong on the wire, in words of ours."""
    where = f"the OAuth2 token endpoint {endpoint.url}"
    if isinstance(error, TimeoutError):
        return OAuth2TokenTimeout(f"No answer from {where} in time.")
    if isinstance(error, ssl.SSLCertVerificationError):
        return OAuth2TokenFailed(
            f"TLS with {where} failed: {error.verify_message}.",
            error="tls_error",
            status=None,
            transient=False,
        )
    if isinstance(error, ssl.SSLError) and not isinstance(
        error, ssl.SSLEOFError | ssl.SSLZeroReturnError
    ):
        return OAuth2TokenFailed(
            f"TLS with {where} failed ({error.reason or 'handshake failed'}).",
            error="tls_error",
            status=None,
            transient=False,
        )
    if isinstance(error, http.client.HTTPException) and not isinstance(
        error, http.client.RemoteDisconnected
    ):
        return OAuth2TokenFailed(
            f"The OAuth2 token endpoint {endpoint.url} answered something that is not HTTP.",
            error="invalid_response",
            status=None,
            transient=False,
        )
    detail = error.strerror if isinstance(error, OSError) and error.strerror else None
    return OAuth2TokenFailed(
        f"Could not reach {where} ({detail or 'the connection failed'}).",
        error="unreachable",
        status=None,
        transient=True,
    )
