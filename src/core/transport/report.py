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


class DkimReport(Report):
    """The DNS record a service's DKIM signatures need, derived from its key (nothing is looked
    up: publishing it is the domain owner's step)."""

    domain: str = Field(description="The signatures' `d=`.")
    selector: str = Field(description="The signatures' `s=`.")
    record_name: str = Field(
        description="Where receivers look the key up: `<selector>._domainkey.<domain>`."
    )
    record_type: str = "TXT"
    record_value: str = Field(description='The TXT record\'s text: "v=DKIM1; k=rsa; p=...".')
    key_bits: int
    unsigned_fields: list[str] = Field(
        description="Fields left out of the signature because the provider rewrites them"
        " (Amazon SES: Date, Message-ID)."
    )
    sender_aligned: bool | None = Field(
        description="Whether the service's default sender (`from_email`) is at `domain` or"
        " below it, as DMARC needs; null when the service has no default sender."
    )


class ConnectionReport(Report):
    """A connection test: the steps a send would take, stopped before any mail goes."""

    ok: bool = Field(description="Every stage passed; false with `error` saying where not.")
    service: str
    stages: list[StageResult]
    error: ErrorReport | None = None
    elapsed_ms: float
    dkim: DkimReport | None = Field(
        default=None,
        description="A service that signs with DKIM: the DNS record its signatures need.",
    )
