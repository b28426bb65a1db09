"""What a connection test reports, whatever the transport: whether it passed, its stages in
order with their times, and the error a send would have met. Each transport's report adds what
it learnt (SMTP's: `core.transport.smtp.probe.SmtpConnectionReport`; SES's:
`core.transport.ses.report.SesConnectionReport`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Report(BaseModel):
    """A part of a report: frozen, and no field beyond those declared."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StageResult(Report):
    """One stage of the test, in order (SMTP's: `connect`, `tls`, `greeting`, `ehlo`, ...)."""

    stage: str
    ok: bool
    ms: float = Field(description="How long the stage took, in milliseconds.")


class ErrorReport(Report):
    reason: str = Field(description="What a send would have failed with, e.g. `smtp_auth_failed`.")
    message: str
    stage: str = Field(description="The stage it failed at (see `stages`).")
    smtp_code: int | None = None  # the SMTP server's reply code, when it gave one
    provider_error: str | None = Field(
        default=None,
        description="The provider's own error code, when it gave one: an OAuth2 token"
        " endpoint's `invalid_client`, `invalid_grant`, ...",
    )
    transient: bool = Field(description="Whether a send would have been tried again later.")


class ConnectionReport(Report):
    """A connection test: the steps a send would take, stopped before any mail goes."""

    ok: bool = Field(description="Every stage passed; false with `error` saying where not.")
    service: str
    stages: list[StageResult]
    error: ErrorReport | None = None
    elapsed_ms: float
