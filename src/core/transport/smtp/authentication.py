"""SMTP AUTH, as a strategy the session is given: how this service proves who it is.

A `Login` is handed the client after EHLO (and STARTTLS, when there is one), with the AUTH
extension offered; it runs AUTH to the end and returns, or raises: smtplib's
`SMTPResponseException` for a refusal (the session classifies it by its code as it does every
reply: a 5xx is `SmtpAuthFailed`, a 4xx `SmtpDeferred`), `SmtpAuthFailed` for anything else that
stops it. `needs_tls`: whether what it sends is secret, so that it never crosses a connection in
clear text unless the operator chose encryption 'none' explicitly.

Today's strategy is `PasswordLogin`; another (OAuth2's XOAUTH2, say) meets the same `Login`
protocol and is handed to `SmtpTransport(login=...)`.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from typing import Protocol

from core.transport.smtp.endpoint import SmtpEndpoint


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
