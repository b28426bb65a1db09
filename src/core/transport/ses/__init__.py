"""The SES v2 API transport (`type: ses`): the transport, and the failures it raises."""

from core.transport.ses.errors import (
    SesAccessDenied,
    SesAccountSuspended,
    SesConfigurationSetNotFound,
    SesConnectFailed,
    SesFailure,
    SesIdentityNotVerified,
    SesOutcomeUnknown,
    SesQuotaExceeded,
    SesRejected,
    SesSendingPaused,
    SesThrottled,
    SesTimeout,
    SesUnavailable,
)
from core.transport.ses.transport import SesTransport

__all__ = [
    "SesAccessDenied",
    "SesAccountSuspended",
    "SesConfigurationSetNotFound",
    "SesConnectFailed",
    "SesFailure",
    "SesIdentityNotVerified",
    "SesOutcomeUnknown",
    "SesQuotaExceeded",
    "SesRejected",
    "SesSendingPaused",
    "SesThrottled",
    "SesTimeout",
    "SesTransport",
    "SesUnavailable",
]
