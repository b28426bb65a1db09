"""SMTP AUTH with a username and password, by the first mechanism both sides know."""

from __future__ import annotations

import smtplib

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
