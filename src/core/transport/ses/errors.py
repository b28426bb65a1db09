"""What an SES API failure means for delivery: each one a `DeliveryFailure` with its reason.

SES v2 answers an error with its HTTP status and a code (`x-amzn-ErrorType`); botocore raises
it as a `ClientError`, and a network failure as one of its own exceptions. `failure_of` reads
either into the taxonomy below. Whether trying again is safe follows from where it happened:
an error answer means SES did not take the message; a connection that could not be made, or
timed out while being made, means nothing was sent; but once the request is written, a read
that times out or a connection that drops before the answer leaves the outcome unknown (SES
may have queued the message), and it is not resent unless the service asked for that.

| what SES said or did                              | reason                          | again |
| ------------------------------------------------- | ------------------------------- | ----- |
| TooManyRequestsException, Throttling, a 429       | ses_throttled                   | yes   |
| LimitExceededException; throttling naming a quota | ses_quota_exceeded              | yes   |
| MessageRejected saying an identity is not         | ses_identity_not_verified       | no    |
| verified; MailFromDomainNotVerifiedException      |                                 |       |
| MessageRejected (other), BadRequest, other 4xx    | ses_rejected                    | no    |
| SendingPausedException (account or config set)    | ses_sending_paused              | no    |
| AccountSuspendedException                         | ses_account_suspended           | no    |
| AccessDenied, a 403, credentials refused/missing  | ses_access_denied               | no    |
| NotFoundException for the configuration set       | ses_configuration_set_not_found | no    |
| a 5xx answer (InternalFailure, unavailable)       | ses_unavailable                 | yes   |
| connection refused, unresolvable, TLS failed      | ses_connect_failed              | yes   |
| no connection within the time left (504)          | ses_timeout                     | yes   |
| no answer in time, or dropped, once sent          | ses_outcome_unknown             | no    |

Messages quote what SES said (bounded, on one line) where it helps the caller, never the
request, its signature or the credentials; an access denial names the action and the resource
(an identity or configuration set) but not the IAM role the function runs as.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)

from core.errors import DeliveryFailure, DeliveryOutcomeUnknown, DeliveryTimeout


class SesFailure(DeliveryFailure):
    """502: SES refused the message, or could not be asked."""

    default_reason = "ses_error"


class SesThrottled(SesFailure):
    default_reason = "ses_throttled"
    transient_by_default = True


class SesQuotaExceeded(SesFailure):
    default_reason = "ses_quota_exceeded"
    transient_by_default = True


class SesRejected(SesFailure):
    default_reason = "ses_rejected"


class SesIdentityNotVerified(SesFailure):
    default_reason = "ses_identity_not_verified"


class SesSendingPaused(SesFailure):
    default_reason = "ses_sending_paused"


class SesAccountSuspended(SesFailure):
    default_reason = "ses_account_suspended"


class SesAccessDenied(SesFailure):
    default_reason = "ses_access_denied"


class SesConfigurationSetNotFound(SesFailure):
    default_reason = "ses_configuration_set_not_found"


class SesUnavailable(SesFailure):
    default_reason = "ses_unavailable"
    transient_by_default = True


class SesConnectFailed(SesFailure):
    default_reason = "ses_connect_failed"
    transient_by_default = True


class SesTimeout(SesFailure, DeliveryTimeout):
    """504: no connection to SES within the time left; nothing was sent."""

    default_reason = "ses_timeout"


class SesOutcomeUnknown(SesFailure, DeliveryOutcomeUnknown):
    """The request was sent and no answer came (in time): SES may have queued the message."""

    default_reason = "ses_outcome_unknown"


_THROTTLING = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "RequestThrottled"}
)
_QUOTA = frozenset({"LimitExceededException", "LimitExceeded"})
_NOT_VERIFIED = frozenset({"MailFromDomainNotVerifiedException", "MailFromDomainNotVerified"})
_PAUSED = frozenset(
    {
        "SendingPausedException",
        "AccountSendingPausedException",
        "ConfigurationSetSendingPausedException",
    }
)
_SUSPENDED = frozenset({"AccountSuspendedException"})
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
_NOT_FOUND = frozenset(
    {"NotFoundException", "ConfigurationSetDoesNotExist", "ConfigurationSetDoesNotExistException"}
)
_QUOTED_LIMIT = 300
# "... not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:...:identity/x'"
_DENIAL = re.compile(
    r"perform `?(?P<action>[\w:*]+)'? on resource `?arn:[^`'\s]*?:(?P<res>[\w-]+/[^`'\s]+)"
)


def failure_of(
    error: ClientError | BotoCoreError, *, configuration_set: str | None = None
) -> SesFailure:
    """The failure `error` (raised by a botocore SES v2 call) stands for."""
    if isinstance(error, ClientError):
        return _refusal(error, configuration_set)
    if isinstance(error, ConnectTimeoutError):
        return SesTimeout("SES did not accept a connection within the time left.")
    if isinstance(error, EndpointConnectionError | ProxyConnectionError | SSLError):
        return SesConnectFailed(f"Could not connect to SES: {_kind(error)}.")
    if isinstance(error, ReadTimeoutError):
        return SesOutcomeUnknown(
            "SES did not answer in time after the message was sent: it may or may not be on"
            " its way."
        )
    if isinstance(error, ConnectionClosedError):
        return SesOutcomeUnknown(
            "The connection to SES closed after the message was sent, before an answer: it"
            " may or may not be on its way."
        )
    if isinstance(error, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return SesAccessDenied("No AWS credentials to call SES with (the function's IAM role).")
    # Something else went wrong in the client, on the way out or back: it may have gone.
    return SesOutcomeUnknown(f"The SES call failed: {_kind(error)}; the outcome is unknown.")


def _refusal(error: ClientError, configuration_set: str | None) -> SesFailure:
    response: dict[str, Any] = dict(error.response)
    details = response.get("Error", {})
    code = str(details.get("Code") or "")
    # An answer without AWS's error shape (its code is just the status) is no word of SES's
    # (a proxy's page, a wrong endpoint): its body is not quoted.
    said = "" if code.isdigit() else _quoted(str(details.get("Message") or ""))
    metadata = response.get("ResponseMetadata", {})
    status = int(metadata.get("HTTPStatusCode") or 0)
    context = {"ses_error_code": code or None, "http_status": status or None}
    if metadata.get("RequestId"):
        context["ses_request_id"] = metadata["RequestId"]
    lowered = said.lower()
    if code in _QUOTA or (code in _THROTTLING and "quota" in lowered):
        return SesQuotaExceeded(
            f"SES's sending quota is used up ({said or code}); the queue tries again later.",
            context=context,
        )
    if code in _THROTTLING or status == 429:
        return SesThrottled(
            f"SES is throttling this account's sends ({said or code}); the queue tries again"
            " later.",
            context=context,
        )
    if code in _NOT_VERIFIED or (code == "MessageRejected" and "not verified" in lowered):
        return SesIdentityNotVerified(
            f"SES has not verified the identity sent as: {said or code}", context=context
        )
    if code in _PAUSED:
        return SesSendingPaused(
            f"Sending through SES is paused for this account or configuration set: {said or code}",
            context=context,
        )
    if code in _SUSPENDED:
        return SesAccountSuspended(
            f"SES has suspended this account's sending: {said or code}", context=context
        )
    if code in _DENIED or status == 403:
        return SesAccessDenied(_denial(said, code), context=context)
    if code in _NOT_FOUND and (configuration_set or "configuration set" in lowered):
        return SesConfigurationSetNotFound(
            f"SES has no configuration set {configuration_set!r} in this region: {said or code}",
            context=context,
        )
    if status >= 500:
        return SesUnavailable(
            f"SES could not take the message now ({status} {code}); the queue tries again later.",
            context=context,
        )
    return SesRejected(f"SES refused the message: {said or code}", context=context)


def _denial(said: str, code: str) -> str:
    """An access denial, naming what was refused on what, without the caller's ARN."""
    found = _DENIAL.search(said)
    refused = f" ({found['action']} on {found['res']})" if found else ""
    return (
        f"The function's IAM role may not send this through SES{refused}: {code}. Name the"
        " identity in the SesSendingIdentities parameter (and the configuration set in"
        " SesConfigurationSets)."
    )


def _quoted(text: str) -> str:
    """SES's words on one line, bounded."""
    line = " ".join(text.split())
    return line if len(line) <= _QUOTED_LIMIT else line[: _QUOTED_LIMIT - 3] + "..."


def _kind(error: BotoCoreError) -> str:
    # botocore's own text names the endpoint URL and the low-level error, never credentials.
    return _quoted(str(error))
