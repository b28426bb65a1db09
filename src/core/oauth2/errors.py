"""What a failed token request raises: a `DeliveryFailure` of its own, `oauth_token_failed`,
whose context holds the endpoint's error code (or one of ours when it gave none) and the HTTP
status (null when no answer came). Never a secret: the messages are ours, and the little they
repeat of the endpoint's words (`scrubbed`) is bounded, stripped of control characters and of
the secrets the request carried.

| what happened                                              | `error`                 | retry |
| ---------------------------------------------------------- | ----------------------- | ----- |
| the endpoint refused: `invalid_client`, `invalid_grant`... | its code                | no    |
| it said `temporarily_unavailable` or `server_error`        | its code                | yes   |
| HTTP 5xx or 429 without a code                             | `http_error`            | yes   |
| another status without a code                              | `http_error`            | no    |
| a 200 without a usable bearer token; no HTTP at all        | `invalid_response`      | no    |
| the guard refuses the address (after DNS) or the port      | `destination_forbidden` | no    |
| TLS failed (an untrusted certificate, another host's)      | `tls_error`             | no    |
| no such host; the connection refused or dropped            | `unreachable`           | yes   |
| the DNS lookup or the endpoint did not answer in time: 504 | `timeout`               | yes   |

"retry": the failure is transient, so queued mail tries again later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.errors import DeliveryFailure, DeliveryTimeout

REASON = "oauth_token_failed"

# Codes whose very meaning is "try again later" (RFC 6749 §5.2, and §4.1.2.1's two).
TRANSIENT_CODES = frozenset({"temporarily_unavailable", "server_error"})
# An error code is RFC 6749's NQSCHARs; anything else is not repeated.
_ERROR_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
MAX_DESCRIPTION = 200


class OAuth2TokenFailed(DeliveryFailure):
    """502: no access token could be had from the service's token endpoint."""

    default_reason = REASON

    def __init__(self, message: str, *, error: str, status: int | None, transient: bool) -> None:
        super().__init__(message, context={"error": error, "status": status}, transient=transient)
        self.error = error
        self.http_status = status


class OAuth2TokenTimeout(OAuth2TokenFailed, DeliveryTimeout):
    """504: the token endpoint (or its DNS lookup) did not answer within the send's time."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error="timeout", status=None, transient=True)


def error_code(value: object) -> str | None:
    """The endpoint's `error`, if it is one RFC 6749 allows; else None (not repeated)."""
    if isinstance(value, str) and _ERROR_CODE.fullmatch(value):
        return value
    return None


def scrubbed(text: object, secrets: Iterable[str | None]) -> str:
    """Words of the endpoint's (`error_description`) as a message may repeat them: control
    characters out, every secret of the request replaced, at most `MAX_DESCRIPTION` long.
    Empty if it is not text."""
    if not isinstance(text, str):
        return ""
    clean = _CONTROL.sub(" ", text)
    for secret in secrets:
        if secret:
            clean = clean.replace(secret, "[redacted]")
    clean = " ".join(clean.split())
    if len(clean) > MAX_DESCRIPTION:
        clean = clean[:MAX_DESCRIPTION].rstrip() + "..."
    return clean
