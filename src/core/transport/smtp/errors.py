"""The SMTP transport's failures: `DeliveryFailure`s, each with its own `reason`.

Which one a session raises at which stage is the table in `core.transport.smtp.session`;
delivery, the queue and the API read only what `DeliveryFailure` says (`transient`,
`maybe_handed_over`, `stale_connection`).
"""

from __future__ import annotations

from core.errors import DeliveryFailure, DeliveryOutcomeUnknown, DeliveryTimeout


class SmtpFailure(DeliveryFailure):
    """502: the SMTP server refused us, or we could not talk to it safely."""

    default_reason = "smtp_error"


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


class SmtpOutcomeUnknown(SmtpFailure, DeliveryOutcomeUnknown):
    """The connection closed or went quiet after the final `.` of DATA: the message may or
    may not be on its way."""

    default_reason = "smtp_outcome_unknown"


class SmtpTimeout(SmtpFailure, DeliveryTimeout):
    """504: the SMTP server did not answer within our time budget."""

    default_reason = "smtp_timeout"
