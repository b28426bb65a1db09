"""SMTP AUTH, as a strategy the session is given: how this service proves who it is.

A `Login` is handed the client after EHLO (and STARTTLS, when there is one), with the AUTH
extension offered; it runs AUTH to the end and returns, or raises: smtplib's
`SMTPResponseException` for a refusal (the session classifies it by its code as it does every
reply: a 5xx is `SmtpAuthFailed`, a 4xx `SmtpDeferred`), `SmtpAuthFailed` for anything else that
stops it. `needs_tls`: whether what it sends is secret, so that it never crosses a connection in
clear text unless the operator chose encryption 'none' explicitly.

Two strategies: `PasswordLogin`, and `XOAuth2Login` (OAuth2's bearer tokens, RFC 7628's
XOAUTH2 as Gmail and Exchange Online take it), which also has a step of its own before AUTH,
getting its token (`FetchesToken`: the session runs it as stage `oauth2_token`, so a connection
test reports it).
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from core.oauth2.cache import Lease, TokenCache
from core.oauth2.tokens import TokenRequest
from core.transport.base import Deadline
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.errors import SmtpAuthFailed


class Login(Protocol):
    """How a session authenticates (see the module's docstring)."""

    @property
    def needs_tls(self) -> bool: ...

    def authenticate(self, client: smtplib.SMTP, *, tls: bool) -> None:
        """AUTH on `client`, which offers it; `tls`: whether the connection is encrypted."""
        ...


@dataclass(frozen=True)
class PasswordLogin:
    """A username and password, by the first mechanism both sides know (see `log_in`)."""

    username: str
    password: str = field(repr=False)

    @property
    def needs_tls(self) -> bool:
        return True

    def authenticate(self, client: smtplib.SMTP, *, tls: bool) -> None:
        log_in(client, self.username, self.password, tls=tls)


@runtime_checkable
class FetchesToken(Protocol):
    """A `Login` that needs a token before AUTH: the session gets it first, as a stage."""

    def fetch_token(self, deadline: Deadline) -> None:
        """Get the token AUTH will carry by `deadline`, or raise `OAuth2TokenFailed`."""
        ...


class XOAuth2Login:
    """AUTH XOAUTH2 as `username` with a bearer token from `tokens`:
    `base64("user=" + username + "^Aauth=Bearer " + token + "^A^A")` (^A: 0x01), sent with the
    command itself.

    A token the server refuses (Gmail: a `334` challenge holding a JSON error, answered with an
    empty line, then `535 5.7.8`; Exchange Online: `535 5.7.3`) may have gone stale in the
    cache before its time (revoked, or the provider's clock): when it was a kept one, it is
    dropped, a new one fetched, and AUTH tried once more on the same connection. A token
    fetched for this very session is not tried twice: the refusal is then the account's
    (no permission on the mailbox, SMTP AUTH disabled for it), and `SmtpAuthFailed` says so.

    It keeps the token of the session under way: a transport runs one session at a time.
    """

    needs_tls = True  # a bearer token is as good as a password until it expires

    def __init__(self, username: str, request: TokenRequest, tokens: TokenCache) -> None:
        self.username = username
        self._request = request
        self._tokens = tokens
        self._lease: Lease | None = None
        self._deadline: Deadline | None = None

    def fetch_token(self, deadline: Deadline) -> None:
        self._deadline = deadline
        self._lease = self._tokens.lease(self._request, deadline)

    def authenticate(self, client: smtplib.SMTP, *, tls: bool) -> None:
        if "XOAUTH2" not in client.esmtp_features.get("auth", "").upper().split():
            raise SmtpAuthFailed(
                "The SMTP server does not offer AUTH XOAUTH2, which OAuth2 needs; it offers"
                f" {client.esmtp_features.get('auth', '').strip() or 'no mechanism'}.",
                context={"stage": "auth"},
            )
        if self._lease is None or self._deadline is None:
            raise RuntimeError("fetch_token() comes before authenticate()")  # a session's bug
        lease = self._lease
        try:
            self._send(client, lease.value)
        except smtplib.SMTPAuthenticationError:
            if lease.fetched:
                raise
            self._tokens.invalidate(self._request, lease.value)
            self._lease = self._tokens.lease(self._request, self._deadline)
            self._send(client, self._lease.value)

    def _send(self, client: smtplib.SMTP, token: str) -> None:
        string = f"user={self.username}\x01auth=Bearer {token}\x01\x01"

        def respond(challenge: bytes | None = None) -> str:
            # The initial response; to an error challenge (Gmail's 334), an empty line.
            return string if challenge is None else ""

        client.auth("XOAUTH2", respond)  # returns on 235; raises for 4xx and 5xx


def password_login(endpoint: SmtpEndpoint) -> PasswordLogin | None:
    """The endpoint's username and password as a `Login`; None without a username (no AUTH)."""
    if not endpoint.username:
        return None
    return PasswordLogin(endpoint.username, endpoint.password or "")


# The mechanisms smtplib speaks, in the order tried (each failing one with a 535 passes on to
# the next, as smtplib's `login()` does). PLAIN sends the credentials with the command itself
# (RFC 4954's initial response): one round trip, where CRAM-MD5 and LOGIN take two. In clear
# text (encryption 'none', chosen explicitly) CRAM-MD5 goes first, as `login()` orders them:
# it never puts the password itself on the wire.
_MECHANISMS_OVER_TLS = ("PLAIN", "CRAM-MD5", "LOGIN")
_MECHANISMS_IN_CLEAR = ("CRAM-MD5", "PLAIN", "LOGIN")


def log_in(client: smtplib.SMTP, username: str, password: str, *, tls: bool) -> None:
    """AUTH with the first mechanism both sides know that takes the credentials, or raise
    smtplib's `SMTPAuthenticationError` (the last refusal) or `SMTPException` (none in common)."""
    advertised = client.esmtp_features["auth"].upper().split()
    order = _MECHANISMS_OVER_TLS if tls else _MECHANISMS_IN_CLEAR
    mechanisms = [mechanism for mechanism in order if mechanism in advertised]
    if not mechanisms:
        raise smtplib.SMTPException("No suitable authentication method found.")
    client.user, client.password = username, password
    refusal: smtplib.SMTPAuthenticationError | None = None
    for mechanism in mechanisms:
        respond = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
        try:
            client.auth(mechanism, respond)  # returns on 235 (or 503, already authenticated)
        except smtplib.SMTPAuthenticationError as error:
            refusal = error
        else:
            return
    assert refusal is not None  # every mechanism tried, each refused
    raise refusal
