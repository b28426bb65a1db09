"""The connection test of an SES service: what a send would meet, asked of SES without sending.

Two stages, each a read SES answers without a message: `account` (GetAccount: is sending
enabled for the account in this region, is it out of the sandbox, its quota) and `identity`
(GetEmailIdentity for the sender: the service's `from_email` address, else its domain; is it
verified for sending). A stage fails with the reason a send would have got: `ses_sending_paused`
when the account may not send, `ses_identity_not_verified` when the sender is not verified,
and, when SES cannot be asked, the failure of the call itself (`ses_access_denied` for a role
without `ses:GetAccount`, `ses_connect_failed`, ...). The probe stops at the first failure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.transport.base import Deadline
from core.transport.ses.client import SesApi
from core.transport.ses.errors import (
    SesFailure,
    SesIdentityNotVerified,
    SesSendingPaused,
    SesTimeout,
    failure_of,
)


@dataclass(frozen=True)
class AccountFacts:
    """What GetAccount says of sending in the service's region."""

    sending_enabled: bool
    production_access: bool  # False: the sandbox (verified recipients only, 200 a day)
    enforcement_status: str | None  # HEALTHY, PROBATION or SHUTDOWN
    max_24_hour_send: float | None
    max_send_rate: float | None
    sent_last_24_hours: float | None


@dataclass(frozen=True)
class IdentityFacts:
    """What GetEmailIdentity says of the identity a send from `sender` is checked against."""

    sender: str
    identity: str | None  # the address or domain SES knows; None: neither is an identity
    verified_for_sending: bool
    identity_type: str | None = None  # EMAIL_ADDRESS or DOMAIN
    verification_status: str | None = None  # PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE...


@dataclass
class SesProbeLog:
    """The stages passed (each with the `time.monotonic()` it ended at), what they learnt,
    and the failure a send would have met."""

    region: str
    configuration_set: str | None
    started: float = field(default_factory=time.monotonic)
    marks: list[tuple[str, float]] = field(default_factory=list)
    failed_stage: str | None = None
    ended: float | None = None
    account: AccountFacts | None = None
    identity: IdentityFacts | None = None
    failure: SesFailure | None = None

    def mark(self, stage: str) -> None:
        self.marks.append((stage, time.monotonic()))


def probe_ses(
    client: SesApi,
    log: SesProbeLog,
    sender: str | None,
    deadline: Deadline,
) -> SesProbeLog:
    """Ask SES about the account and `sender`'s identity, filling `log` (never raises an
    `SesFailure`: it is the log's `failure`)."""
    stage = "account"
    try:
        if deadline.remaining() <= 0:
            raise _late()
        log.account = _account(client.get_account())
        if not log.account.sending_enabled:
            raise SesSendingPaused(
                "SES has sending disabled for this account in this region (paused, or shut"
                " down for its bounce or complaint rates): no send would go."
            )
        log.mark(stage)
        if sender:
            stage = "identity"
            if deadline.remaining() <= 0:
                raise _late()
            log.identity = _identity(client, sender)
            if not log.identity.verified_for_sending:
                raise SesIdentityNotVerified(_unverified(log.identity))
            log.mark(stage)
    except SesFailure as failure:
        log.failure, log.failed_stage = failure, stage
    except (ClientError, BotoCoreError) as error:  # read as a send would read it
        log.failure, log.failed_stage = failure_of(error), stage
    finally:
        log.ended = time.monotonic()
    return log


def _late() -> SesFailure:
    return SesTimeout("No time was left to ask SES.")


def _account(answer: dict[str, Any]) -> AccountFacts:
    quota = answer.get("SendQuota") or {}
    return AccountFacts(
        sending_enabled=bool(answer.get("SendingEnabled")),
        production_access=bool(answer.get("ProductionAccessEnabled")),
        enforcement_status=answer.get("EnforcementStatus"),
        max_24_hour_send=quota.get("Max24HourSend"),
        max_send_rate=quota.get("MaxSendRate"),
        sent_last_24_hours=quota.get("SentLast24Hours"),
    )


def _identity(client: SesApi, sender: str) -> IdentityFacts:
    """The sender's own address identity if SES has one, else its domain's (as SES checks)."""
    domain = sender.rpartition("@")[2]
    for identity in dict.fromkeys((sender, domain)):
        try:
            answer = client.get_email_identity(EmailIdentity=identity)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NotFoundException":
                continue
            raise
        return IdentityFacts(
            sender=sender,
            identity=identity,
            verified_for_sending=bool(answer.get("VerifiedForSendingStatus")),
            identity_type=answer.get("IdentityType"),
            verification_status=answer.get("VerificationStatus"),
        )
    return IdentityFacts(sender=sender, identity=None, verified_for_sending=False)


def _unverified(facts: IdentityFacts) -> str:
    if facts.identity is None:
        return (
            f"SES has no identity for {facts.sender} or its domain in this region: verify"
            " one before sending."
        )
    status = f" (verification {facts.verification_status})" if facts.verification_status else ""
    return f"SES has not verified {facts.identity} for sending{status}."
