"""The SMTP transport, one job a module:

- `transport`: `SmtpTransport`, the `Transport` port's SMTP kind (open, send, close, probe);
- `session`: one connection's greeting, EHLO, STARTTLS, AUTH, transactions and goodbye,
  with the table of what fails how; `opening`: its connect, greeting, EHLO, STARTTLS and AUTH;
  `transaction`: MAIL, RCPT..., DATA or BDAT; `conversation`: what its steps share (the state,
  the time left, replies read by stage, the failures);
- `authentication`: AUTH as a strategy (`Login`; `PasswordLogin` today, handed to
  `SmtpTransport(login=...)`); `connection`: smtplib's clients pinned to checked addresses;
- `classification`: replies and socket errors turned into the failures of `errors`;
- `pipelining`, `replies`: fewer round trips, and replies read within bounds;
- `session_log`, `probe`: what a session learnt, and the connection test's report of it;
- `kind`: SMTP's entry in `core.transport.factory.KINDS` (build, identity).
"""

from core.transport.smtp.authentication import Login, PasswordLogin
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
    SmtpTlsError,
)
from core.transport.smtp.stages import Stage
from core.transport.smtp.transport import SmtpTransport

__all__ = [
    "Login",
    "PasswordLogin",
    "SmtpAuthFailed",
    "SmtpConnectFailed",
    "SmtpDeferred",
    "SmtpEndpoint",
    "SmtpFailure",
    "SmtpOutcomeUnknown",
    "SmtpRejected",
    "SmtpTimeout",
    "SmtpTlsError",
    "SmtpTransport",
    "Stage",
]
