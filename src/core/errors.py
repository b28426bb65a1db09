"""The one error taxonomy of the email API.

Every failure a caller can see is an `EmailApiError`: it carries the HTTP status it stands
for, a stable machine-readable `reason`, a human message and optional context. Core only
raises them; `handlers.envelope` turns them into DreamFactory's error body, in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar

from core.access.quota import Quota


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
    """429: a rate limit was hit; one more may go in `retry_after` seconds."""

    status = 429
    default_reason = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        quota: Quota,
        reason: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, context=context)
        self.retry_after = retry_after
        self.quota = quota  # the window that refused, at zero


class MessageTooLarge(EmailApiError):
    status = 413
    default_reason = "message_too_large"


# --- our own fault (500) -----------------------------------------------------------------


class UnsafeMessage(EmailApiError):
    """500: the built message does not say what the validated request said (a header or a
    mailbox more, a bare line break...). It is a bug of ours, and nothing was sent."""

    default_reason = "unsafe_message"


class QueueUnavailable(EmailApiError):
    """503: the send queue did not take the message (SQS throttling or down); its record is
    settled `failed`, so sending again is safe."""

    status = 503
    default_reason = "enqueue_failed"


# --- the SMTP server's answer (5xx) -------------------------------------------------------


class SmtpFailure(EmailApiError):
    """502: the SMTP server refused us, or we could not talk to it safely.

    `transient` says whether trying again later may succeed (a 4xx reply, a dropped or timed
    out connection before the message was handed over, a connection the server reset before
    reading it all); permanent failures (5xx, bad credentials, a bad certificate) are not
    retried.
    """

    status = 502
    default_reason = "smtp_error"
    transient_by_default: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        context: dict[str, Any] | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message, reason=reason, context=context)
        self.transient = self.transient_by_default if transient is None else transient


class SmtpConnectFailed(SmtpFailure):
    default_reason = "smtp_connect_failed"
    transient_by_default = True


class SmtpAuthFailed(SmtpFailure):
    default_reason = "smtp_auth_failed"


class SmtpTlsError(SmtpFailure):
    default_reason = "smtp_tls_error"


class SmtpRejected(SmtpFailure):
    """A 5xx reply: the server will not take this message, now or later."""

    default_reason = "smtp_rejected"


class SmtpDeferred(SmtpFailure):
    """A 4xx reply (421, 450, 451, 452, 454, ...): the server asks us to try again later."""

    default_reason = "smtp_deferred"
    transient_by_default = True


class SmtpOutcomeUnknown(SmtpFailure):
    """The connection closed or went quiet after the final `.` of DATA: the message may or
    may not be on its way. Resending could deliver it twice, so it is not transient: the queue
    resends it only for a service that asked for that (`unknown_outcome: retry`)."""

    default_reason = "smtp_outcome_unknown"


class SmtpTimeout(SmtpFailure):
    """504: the SMTP server did not answer within our time budget."""

    status = 504
    default_reason = "smtp_timeout"
    transient_by_default = True
