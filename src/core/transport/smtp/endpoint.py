"""Where an SMTP service's server is, and how to talk to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.services.smtp_options import Encryption


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where to deliver and how; the password is kept out of reprs and logs."""

    host: str
    port: int
    encryption: Encryption
    verify_tls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
