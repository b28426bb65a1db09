"""An SMTP server on loopback whose replies change from one transaction to the next.

`CaptureServer` answers the same way every time; retries need a server that fails first and
recovers later. `ScriptedServer(script=[Replies(mail_from="421 ..."), ...])` answers the
n-th transaction (the n-th MAIL FROM) with `script[n]`, and normally once the script is done.
It counts every MAIL FROM, so a test can tell how many SMTP transactions were attempted.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.smtp_servers import LOOPBACK, Received, Replies


class _Script:
    def __init__(self, script: Sequence[Replies]) -> None:
        self.script = list(script)
        self.mail_from: list[str] = []  # every MAIL FROM, answered 250 or not
        self.rcpt_to: list[list[str]] = []  # the RCPT TOs of each transaction
        self.messages: list[Received] = []
        self.sessions = 0

    def _current(self) -> Replies:
        index = len(self.mail_from) - 1
        return self.script[index] if 0 <= index < len(self.script) else Replies()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_from.append(address)
        self.rcpt_to.append([])
        refusal = self._current().mail_from
        if refusal:
            return refusal
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.rcpt_to[-1].append(address)
        replies = self._current()
        refusal = replies.rcpt.get(address) or replies.every_rcpt
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._current().data
        if refusal:
            return refusal
        self.messages.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                tls=False,
                auth_login=None,
            )
        )
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    """aiosmtpd's Controller on a socket bound first (it cannot listen on port 0 itself)."""

    def __init__(self, handler: _Script, listener: socket.socket) -> None:
        super().__init__(handler, hostname=LOOPBACK, port=listener.getsockname()[1])
        self._listener = listener

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._listener)


class ScriptedServer:
    """A plain SMTP server on 127.0.0.1 answering each transaction as `script` says."""

    def __init__(self, script: Sequence[Replies] = ()) -> None:
        self._handler = _Script(script)
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._controller = _Controller(self._handler, self._listener)

    @property
    def transactions(self) -> list[str]:
        """The sender of every MAIL FROM received: one per SMTP transaction attempted."""
        return self._handler.mail_from

    @property
    def recipients(self) -> list[list[str]]:
        """The RCPT TOs of each transaction, accepted or not."""
        return self._handler.rcpt_to

    @property
    def messages(self) -> list[Received]:
        return self._handler.messages

    def __enter__(self) -> Self:
        try:
            self._controller.start()
        except BaseException:
            self._listener.close()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._controller.stop()
