"""The report of an SES service's connection test, as the API shows it: the stages (`account`,
`identity`) with their times, what SES said of the account and of the sender's identity, and
the error a send would have met (`core.transport.ses.probe` asks)."""

from __future__ import annotations

from pydantic import Field

from core.transport.report import ConnectionReport, ErrorReport, Report, StageResult
from core.transport.ses.probe import SesProbeLog


class SesAccountReport(Report):
    sending_enabled: bool = Field(description="Whether SES lets the account send in the region.")
    production_access: bool = Field(
        description="false: the sandbox (only verified recipients, 200 messages a day)."
    )
    enforcement_status: str | None = Field(description="HEALTHY, PROBATION or SHUTDOWN.")
    max_24_hour_send: float | None = Field(description="The daily quota (-1: unlimited).")
    max_send_rate: float | None = Field(description="Messages a second.")
    sent_last_24_hours: float | None


class SesIdentityReport(Report):
    sender: str = Field(description="The service's default sender (`from_email`).")
    identity: str | None = Field(
        description="The identity SES checks it against: the address, else its domain; null "
        "when SES has neither."
    )
    verified_for_sending: bool
    identity_type: str | None = Field(description="EMAIL_ADDRESS or DOMAIN.")
    verification_status: str | None = Field(
        description="PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE or NOT_STARTED."
    )


class SesConnectionReport(ConnectionReport):
    """An SES service's connection test: two reads, no mail (`account`, then `identity` when
    the service has a default sender)."""

    region: str
    configuration_set: str | None
    account: SesAccountReport | None = Field(description="null: GetAccount did not answer.")
    identity: SesIdentityReport | None = Field(
        description="null: not asked (no default sender, or the account stage failed)."
    )


def describe_ses(log: SesProbeLog, *, service: str) -> SesConnectionReport:
    """The report of an SES probe's `log`, for the service named `service`."""
    stages: list[StageResult] = []
    since = log.started
    for stage, at in log.marks:
        stages.append(StageResult(stage=stage, ok=True, ms=_ms(at - since)))
        since = at
    ended = log.ended if log.ended is not None else since
    error = None
    if log.failure is not None:
        failed = log.failed_stage or "account"
        stages.append(StageResult(stage=failed, ok=False, ms=_ms(ended - since)))
        error = ErrorReport(
            reason=log.failure.reason,
            message=log.failure.message,
            stage=failed,
            transient=log.failure.transient,
        )
    account, identity = log.account, log.identity
    return SesConnectionReport(
        ok=log.failure is None,
        service=service,
        stages=stages,
        error=error,
        elapsed_ms=_ms(ended - log.started),
        region=log.region,
        configuration_set=log.configuration_set,
        account=SesAccountReport(**vars(account)) if account is not None else None,
        identity=SesIdentityReport(**vars(identity)) if identity is not None else None,
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
