"""The one error taxonomy of the email API.

Every failure a caller can see is an `EmailApiError`: it carries the HTTP status, a stable
machine-readable `reason`, a human message and optional context. Each handler answers with
`envelope()`, DreamFactory's error body, in exactly one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class EmailApiError(Exception):
    """Base class: an error with an HTTP status and a stable reason."""

    status: ClassVar[int] = 500
    default_reason: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.context = context or {}
        # Extra response headers the error implies (Retry-After for a 429, say).
        self.headers: dict[str, str] = {}

    def envelope(self) -> dict[str, Any]:
        """DreamFactory's error body, plus the stable `reason` clients can branch on."""
        error: dict[str, Any] = {
            "code": self.status,
            "message": self.message,
            "reason": self.reason,
        }
        if self.context:
            error["context"] = self.context
        return {"error": error}


# --- the caller's fault (4xx) -------------------------------------------------------------


class InvalidRequest(EmailApiError):
    """400: the body is not something we can send. Nothing was sent."""

    status = 400
    default_reason = "invalid_request"


class Unauthorized(EmailApiError):
    """401: no API key, or one we do not know. Never says which."""

    status = 401
    default_reason = "unauthorized"


class Forbidden(EmailApiError):
    status = 403
    default_reason = "forbidden"


class NotFound(EmailApiError):
    status = 404
    default_reason = "not_found"


class Conflict(EmailApiError):
    status = 409
    default_reason = "conflict"


class RateLimited(EmailApiError):
    """429: a rate limit was hit; `headers` say when to come back."""

    status = 429
    default_reason = "rate_limited"


class MessageTooLarge(EmailApiError):
    status = 413
    default_reason = "message_too_large"


# --- the SMTP server's answer (5xx) -------------------------------------------------------


class SmtpFailure(EmailApiError):
    """502: the SMTP server refused us, or we could not talk to it safely."""

    status = 502
    default_reason = "smtp_error"


class SmtpConnectFailed(SmtpFailure):
    default_reason = "smtp_connect_failed"


class SmtpAuthFailed(SmtpFailure):
    default_reason = "smtp_auth_failed"


class SmtpTlsError(SmtpFailure):
    default_reason = "smtp_tls_error"


class SmtpRejected(SmtpFailure):
    default_reason = "smtp_rejected"


class SmtpTimeout(SmtpFailure):
    """504: the SMTP server did not answer within our time budget."""

    status = 504
    default_reason = "smtp_timeout"
