"""The local stack's SMTP server: it keeps every message it receives as files instead of
delivering it.

Each message becomes `<stamp>.eml`, the bytes exactly as the client sent them after DATA,
and `<stamp>.json`, the SMTP envelope: Bcc recipients appear only there. Messages sent through
moto's SES API land in the same folder the same way (`local_stack.ses`). The `.json` is
written last, so a message whose sidecar exists is complete. Mail may hold password-reset
links: the folder is 0700 and each file 0600 (`local_stack.private_files`). The server is
the toolkit's (`local_stack.smtp`): its capture handler, keeping into a `MailFolder`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

from local_stack.private_files import private_directory, write_private
from local_stack.smtp.capture import CaptureHandler, Received
from local_stack.smtp.loopback import LoopbackSmtp


@dataclass(frozen=True)
class CapturedMail:
    """One received message: where its bytes are, and its envelope."""

    eml_path: Path
    mail_from: str
    rcpt_tos: list[str]
    message_id: str
    received_at: str


class MailCapture:
    """A running capture server on loopback `port`, writing into `mail_dir`."""

    def __init__(self, port: int, mail_dir: Path) -> None:
        self.port = port
        self.mail_dir = private_directory(mail_dir)
        handler = CaptureHandler(MailFolder(mail_dir).keep, accepted="250 Message captured")
        self._server = LoopbackSmtp(handler, port=port).start()

    def stop(self) -> None:
        self._server.stop()


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

    def __init__(self, mail_dir: Path) -> None:
        self._mail_dir = mail_dir

    def keep(self, message: Received, *, provider_message_id: str | None = None) -> None:
        """Write `message` down (called on the server's thread, before it answers); a message
        moto's SES took carries the id SES gave it (`provider_message_id`)."""
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
        via = "" if provider_message_id is None else f" (SES {provider_message_id})"
        print(
            f"mail: {eml_path} from <{message.mail_from}> to "
            + ", ".join(f"<{rcpt}>" for rcpt in message.rcpt_tos)
            + via,
            flush=True,
        )
