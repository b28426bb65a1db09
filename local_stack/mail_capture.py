"""The local stack's SMTP server: it keeps every message it receives as files instead of
delivering it.

Each message becomes `<stamp>.eml`, the bytes exactly as the client sent them after DATA,
and `<stamp>.json`, the SMTP envelope: Bcc recipients appear only there. Messages sent through
moto's SES API land in the same folder the same way (`local_stack.ses`), and so do those the
SMTP server takes with the id it answered (`queued as <id>`, the `.json`'s
`provider_message_id`). The `.json` is
written last, so a message whose sidecar exists is complete. Mail may hold password-reset
links: the folder is 0700 and each file 0600 (`local_stack.private_files`). The server is
the toolkit's (`local_stack.smtp`), with the mailbox simulator's handler
(`local_stack.smtp.simulator`) keeping into a `MailFolder`: plain, or with STARTTLS and AUTH
(and implicit TLS on a second port) when given the stack's certificate authority.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

from local_stack.local_ca import LocalAuthority
from local_stack.private_files import private_directory, write_private
from local_stack.smtp.capture import Received
from local_stack.smtp.loopback import LoopbackSmtp, Security
from local_stack.smtp.simulator import SimulatorHandler, SimulatorSettings


@dataclass(frozen=True)
class CapturedMail:
    """One received message: where its bytes are, and its envelope."""

    eml_path: Path
    mail_from: str
    rcpt_tos: list[str]
    message_id: str
    received_at: str


class MailCapture:
    """A running capture server on loopback `port`, writing into `mail_dir` (or `folder`).

    With an `authority` it offers STARTTLS with a certificate that authority issued, and AUTH
    (any credentials) once the connection is encrypted; with a `tls_port` too, implicit TLS
    there. Without one it speaks plain SMTP only. The simulator's recipients answer as
    `simulator` says (`local_stack.smtp.simulator`) on every port.
    """

    def __init__(
        self,
        port: int,
        mail_dir: Path,
        *,
        authority: LocalAuthority | None = None,
        tls_port: int | None = None,
        simulator: SimulatorSettings | None = None,
        folder: MailFolder | None = None,
    ) -> None:
        self.port = port
        self.mail_dir = private_directory(mail_dir)
        kept_in = folder or MailFolder(mail_dir)

        def keep(message: Received, queue_id: str) -> None:
            kept_in.keep(message, provider_message_id=queue_id, via="queued as")

        handler = SimulatorHandler(keep, simulator)
        if authority is None:
            self._servers = [LoopbackSmtp(handler, port=port).start()]
            return
        context = authority.server_context()
        self._servers = [
            LoopbackSmtp(
                handler,
                port=port,
                security=Security.STARTTLS,
                tls=context,
                authenticator=handler.authenticate,
            ).start()
        ]
        if tls_port is not None:
            implicit = LoopbackSmtp(
                handler,
                port=tls_port,
                security=Security.IMPLICIT,
                tls=context,
                authenticator=handler.authenticate,
            )
            try:
                self._servers.append(implicit.start())
            except BaseException:
                self.stop()  # the STARTTLS server, already serving
                raise

    def stop(self) -> None:
        for server in self._servers:
            server.stop()


def read_captured(mail_dir: Path) -> list[CapturedMail]:
    """Every complete message in `mail_dir`, oldest first."""
    captured = []
    for sidecar in sorted(mail_dir.glob("*.json")):
        envelope = json.loads(sidecar.read_text())
        captured.append(
            CapturedMail(
                eml_path=sidecar.with_suffix(".eml"),
                mail_from=envelope["mail_from"],
                rcpt_tos=envelope["rcpt_tos"],
                message_id=envelope["message_id"],
                received_at=envelope["received_at"],
            )
        )
    return captured


# Names sort in arrival order, even for messages within the same microsecond, whichever of the
# stack's servers (SMTP capture, moto's SES) wrote them.
_SEQUENCE = itertools.count(1)


class MailFolder:
    """Where captured messages go: one `.eml` and one `.json` each, and a line on stdout."""

    def __init__(
        self, mail_dir: Path, *, on_kept: Callable[[Received, str], None] | None = None
    ) -> None:
        self._mail_dir = mail_dir
        # Told of each message kept with a provider id (the mailbox simulator's events).
        self._on_kept = on_kept

    def keep(
        self, message: Received, *, provider_message_id: str | None = None, via: str = "SES"
    ) -> None:
        """Write `message` down (called on the server's thread, before it answers); a message
        moto's SES took carries the id SES gave it (`provider_message_id`), one the SMTP
        server took the id it answered with (`via` says which)."""
        received = datetime.fromtimestamp(message.arrived_at, UTC)
        stem = f"{received:%Y%m%dT%H%M%S.%fZ}-{next(_SEQUENCE):04d}"
        headers = BytesHeaderParser(policy=default).parsebytes(message.data)
        sidecar = {
            "mail_from": message.mail_from,
            "rcpt_tos": message.rcpt_tos,
            "message_id": str(headers.get("Message-ID", "")),
            "received_at": received.isoformat(),
        }
        if provider_message_id is not None:
            sidecar["provider_message_id"] = provider_message_id
        private_directory(self._mail_dir)  # someone may have cleared it
        eml_path = self._mail_dir / f"{stem}.eml"
        write_private(eml_path, message.data, durable=False)
        sidecar_path = eml_path.with_suffix(".json")
        write_private(sidecar_path, json.dumps(sidecar, indent=2).encode(), durable=False)
        named = "" if provider_message_id is None else f" ({via} {provider_message_id})"
        print(
            f"mail: {eml_path} from <{message.mail_from}> to "
            + ", ".join(f"<{rcpt}>" for rcpt in message.rcpt_tos)
            + named,
            flush=True,
        )
        if provider_message_id is not None and self._on_kept is not None:
            self._on_kept(message, provider_message_id)
