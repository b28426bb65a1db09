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
        wait_seconds: float | None = None,
    ) -> None:
        super().__init__(message, reason=reason, context=context)
        self.retry_after = retry_after
        self.quota = quota  # the window that refused, at zero
        # To the millisecond, when the limiter knows (`retry_after` is whole seconds, rounded up).
        self.wait_seconds = wait_seconds


class MessageTooLarge(EmailApiError):
    status = 413
    default_reason = "message_too_large"


class AllRecipientsSuppressed(EmailApiError):
    """422: every recipient of the message is on the suppression list; nothing was sent."""

    status = 422
    default_reason = "all_recipients_suppressed"


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


# --- the provider's answer (5xx) ----------------------------------------------------------


class DeliveryFailure(EmailApiError):
    """502: the service's server (or API) refused the message, or could not be talked to
    safely. Every transport raises its own specialisations of this one; delivery, the queue
    and the API read only what it says here:

    - `transient`: whether trying again later may succeed (a 4xx reply, throttling, a dropped
      or timed-out connection before the message was handed over); permanent failures (a
      rejection, bad credentials, a bad certificate) are not retried;
    - `maybe_handed_over`: the message may have reached the provider (the connection broke
      after SMTP's final dot, say), so the outcome is unknown and resending could deliver it
      twice (see `DeliveryOutcomeUnknown`);
    - `stale_connection`: a kept connection was found dead before the message was handed
      over (closed by the server while idle): the send may go once more, on a fresh one.
    """

    status = 502
    default_reason = "delivery_failed"
    transient_by_default: ClassVar[bool] = False
    maybe_handed_over: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        context: dict[str, Any] | None = None,
        transient: bool | None = None,
        stale_connection: bool = False,
    ) -> None:
        super().__init__(message, reason=reason, context=context)
        self.transient = self.transient_by_default if transient is None else transient
        self.stale_connection = stale_connection


class DeliveryOutcomeUnknown(DeliveryFailure):
    """The message may or may not be on its way (the connection closed or went quiet after it
    was handed over). Not transient: the queue resends it only for a service that asked for
    that (`unknown_outcome: retry`)."""

    default_reason = "outcome_unknown"
    maybe_handed_over = True


class DeliveryTimeout(DeliveryFailure):
    """504: the provider did not answer within our time budget, before the handover."""

    status = 504
    default_reason = "delivery_timeout"
    transient_by_default = True
