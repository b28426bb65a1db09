"""A scripted SMTP server on 127.0.0.1, on a raw socket, that misbehaves on cue.

It answers a chosen code, drops or resets the connection, or stalls, at a chosen point of the
session (in the middle of a message too), or answers with a reply that never fits (megabytes of
it, or a line at a time, slowly: `Stream`), and records every session: the commands, and each
message whose final dot arrived with the answer it got. aiosmtpd cannot do this: it always
reads a whole message before its handler is asked, and never closes mid-sentence.

What it does, point by point, is a `FaultScript`'s decision (`fault_script`): `SessionFaults`
plays the same faults in every session (or the first N, then others), as the tests script
them; the soak run deals faults at random. What it saw: `fault_session`; its socket:
`fault_wire`.

It can also offer PIPELINING and CHUNKING (RFC 2920, 3030): it reads commands line by line
whatever the client writes at once, and takes a `BDAT <size> [LAST]` chunk as it comes. Each
session records when the client's words arrived relative to the server's replies
(`FaultSession.flights`): how many round trips the client waited for.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterable
from typing import ClassVar, Protocol, Self

from local_stack.config import HOST
from local_stack.smtp.fault_script import Act, At, Fault, FaultScript, SessionFaults
from local_stack.smtp.fault_session import MESSAGE_DATA, Arrival, FaultSession
from local_stack.smtp.fault_wire import Hangup, Wire

# Enough for every client of a soak run to be waiting at once.
BACKLOG = 512
# The longest `FaultServer.sessions` waits for its sessions to catch up with their clients.
SETTLE_SECONDS = 2.0


class FaultServer:
    """An SMTP server on 127.0.0.1 that misbehaves as scripted and records every session.

    Scripted either with `faults` (and `faulty_sessions`, `then`: see `SessionFaults`) or with
    any other `script`. Without faults it behaves: it offers SIZE and AUTH PLAIN (any
    credentials pass), and STARTTLS only when the script says so, since it cannot really do
    TLS. A fault replaces the normal answer; a 421, as RFC 5321 says, also closes the
    connection. `receive_buffer` sets each connection's SO_RCVBUF (the kernel doubles it), so
    that a client writing a message bigger than the buffers on both sides is still writing when
    the server stops reading. Each session has a thread of its own, so a stalled one holds up
    no other; a STALL at MESSAGE lasts until the server stops. A context manager.

    `extensions` ("PIPELINING", "CHUNKING") are offered in EHLO on top of the others; None:
    `default_extensions`, which a test run may switch for every server it starts. Each reply
    waits `reply_delay` seconds first (a slow server).
    """

    _POLL_SECONDS = 0.05
    default_extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *faults: Fault,
        faulty_sessions: int | None = None,
        then: tuple[Fault, ...] = (),
        receive_buffer: int | None = None,
        script: FaultScript | None = None,
        extensions: Iterable[str] | None = None,
        reply_delay: float = 0.0,
    ) -> None:
        if script is not None and (faults or then or faulty_sessions is not None):
            raise ValueError("script the faults either one by one or with a `script`, not both")
        self.script: FaultScript = script or SessionFaults(faults, faulty_sessions, then)
        self.extensions = tuple(
            self.default_extensions if extensions is None else (e.upper() for e in extensions)
        )
        self.reply_delay = reply_delay
        # Appended as each connection is accepted, in order; each session's thread fills in its
        # own, and records a message before answering it: once a client has its reply, it is here.
        self._sessions: list[FaultSession] = []
        self._listener = _listener(receive_buffer)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fault-smtp", daemon=True)
        self._conversations: list[threading.Thread] = []

    @property
    def sessions(self) -> list[FaultSession]:
        """Every session so far, once each has caught up with its client (see
        `FaultSession.settled`; a second or two at most): a client that writes QUIT and leaves
        without its reply may be done before the server has read it."""
        give_up = time.monotonic() + SETTLE_SECONDS
        while not all(s.settled() for s in self._sessions) and time.monotonic() < give_up:
            time.sleep(0.005)
        return list(self._sessions)

    @property
    def only_session(self) -> FaultSession:
        assert len(self.sessions) == 1, f"expected one session, got {len(self.sessions)}"
        return self.sessions[0]

    @property
    def transactions(self) -> int:
        return sum(session.transactions for session in self.sessions)

    @property
    def delivered(self) -> list[Arrival]:
        """Messages the server took (a 2xx to the final dot), over every session."""
        return [a for session in self.sessions for a in session.arrivals if a.delivered]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            if not select.select([self._listener], [], [], self._POLL_SECONDS)[0]:
                continue
            connection, _ = self._listener.accept()
            session = FaultSession()
            index = len(self._sessions)
            self._sessions.append(session)
            conversation = threading.Thread(
                target=self._play,
                args=(connection, session, index),
                name=f"fault-smtp-{index}",
                daemon=True,
            )
            self._conversations = [t for t in self._conversations if t.is_alive()]
            self._conversations.append(conversation)
            conversation.start()
        for conversation in self._conversations:
            conversation.join()

    def _play(self, connection: socket.socket, session: FaultSession, index: int) -> None:
        session._wire = Wire(connection, self._stopping, session, self.reply_delay)
        try:
            with connection, contextlib.suppress(Hangup):
                self._converse(session._wire, session, index)
        finally:
            session._over.set()

    def _converse(self, wire: Wire, session: FaultSession, index: int) -> None:
        """Play one session until the client quits or a fault ends it (raising `Hangup`)."""

        def decide(at: At, normal: str, recipient: str | None = None) -> Fault:
            return self.script.fault(index, at, recipient) or Fault.answer(at, normal)

        def respond(at: At, normal: str, recipient: str | None = None) -> str:
            return self._carry_out(wire, decide(at, normal, recipient))

        respond(At.GREETING, "220 localhost ESMTP fault server")
        # `transaction`: a MAIL FROM was taken; then pipelined RCPTs, DATA and BDAT that follow a
        # refused one are refused in turn, as a real server does.
        transaction, mail_from, rcpt_tos, chunks = False, "", list[str](), list[bytes]()
        while True:
            command = wire.readline().decode("utf-8", "replace").rstrip("\r\n")
            session.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            session.heard.append((verb, wire.position))
            if verb == "EHLO":
                respond(At.EHLO, self._ehlo_reply())
            elif verb == "HELO":
                respond(At.EHLO, "250 localhost")
            elif verb == "STARTTLS":
                respond(At.STARTTLS, "454 4.7.0 TLS not available")
            elif verb == "AUTH":
                respond(At.AUTH, "235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                mail_from, rcpt_tos, chunks = _address(command), [], []
                transaction = respond(At.MAIL, "250 2.1.0 OK").startswith("2")
            elif verb == "RCPT" and not transaction:
                wire.send("503 5.5.1 Error: need MAIL command")
            elif verb == "RCPT":
                recipient = _address(command)
                if respond(At.RCPT, "250 2.1.5 OK", recipient).startswith("2"):
                    rcpt_tos.append(recipient)
            elif verb == "DATA" and not transaction:
                wire.send("503 5.5.1 Error: need MAIL command")
            elif verb == "DATA":
                ready = "354 End data with <CR><LF>.<CR><LF>"
                reply = respond(At.DATA, ready if rcpt_tos else "554 5.5.1 No valid recipients")
                if reply.startswith("354"):
                    self._interrupt(wire, decide(At.MESSAGE, ""))
                    data = _read_data(wire)
                    session.heard.append((MESSAGE_DATA, wire.position))
                    self._take(wire, session, decide, Arrival(mail_from, rcpt_tos, data, None))
                    transaction, mail_from, rcpt_tos = False, "", []
            elif verb == "BDAT" and "CHUNKING" in self.extensions:
                size, last = _chunk_size(command)
                self._interrupt(wire, decide(At.MESSAGE, ""), chunk=size)
                chunks.append(wire.read(size))
                session.heard.append((MESSAGE_DATA, wire.position))
                if not last:
                    wire.send(f"250 2.0.0 {size} octets received")
                elif not transaction:
                    wire.send("503 5.5.1 Error: need MAIL command")
                elif not rcpt_tos:
                    wire.send("554 5.5.1 Error: no valid recipients")
                else:
                    refusal = self.script.fault(index, At.DATA, None)
                    if refusal is not None:
                        self._carry_out(wire, refusal)
                    else:
                        data = b"".join(chunks)
                        arrival = Arrival(mail_from, rcpt_tos, data, None)
                        self._take(wire, session, decide, arrival)
                if last:
                    transaction, mail_from, rcpt_tos, chunks = False, "", [], []
            elif verb == "RSET":
                transaction, mail_from, rcpt_tos, chunks = False, "", [], []
                wire.send("250 2.0.0 OK")
            elif verb == "NOOP":
                wire.send("250 2.0.0 OK")
            elif verb == "QUIT":
                respond(At.QUIT, "221 2.0.0 Bye")
                return
            else:
                wire.send("502 5.5.2 Command not recognized")

    def _take(self, wire: Wire, session: FaultSession, decide: _Decide, arrival: Arrival) -> None:
        """The whole message is in: answer it as END_OF_DATA says, recording it first (once
        the client has its reply, it is here)."""
        verdict = decide(At.END_OF_DATA, "250 2.0.0 OK: queued")
        answer = verdict.reply if verdict.act is Act.ANSWER else None
        session.arrivals.append(
            Arrival(arrival.mail_from, list(arrival.rcpt_tos), arrival.data, answer)
        )
        self._carry_out(wire, verdict)

    @staticmethod
    def _interrupt(wire: Wire, fault: Fault, chunk: int | None = None) -> None:
        """At MESSAGE: do what `fault` says in the middle of the message (see `Fault`); the
        message is a DATA section, or a BDAT chunk of `chunk` bytes."""
        if fault.act is Act.ANSWER:
            return  # no fault: the message is read as usual
        if fault.after_bytes is None and chunk is None:
            wire.wait_unread(ending=b"\r\n.\r\n")
        elif fault.after_bytes is None:
            wire.wait_unread(at_least=chunk)
        else:
            wire.skip(fault.after_bytes)
            if not wire.buffered:
                wire.wait_unread()
        if fault.act is Act.STALL:
            wire.stop_reading()
        if fault.act is Act.RESET or (chunk is not None and wire.buffered):
            wire.abort()
        raise Hangup

    @staticmethod
    def _carry_out(wire: Wire, fault: Fault) -> str:
        """Do what `fault` says; the reply sent, or `Hangup` when the session ends here."""
        if fault.act is Act.RESET:
            wire.abort()
        if fault.act in (Act.DROP, Act.RESET):
            raise Hangup
        if fault.act is Act.STALL:
            wire.wait_for_hangup()
        if fault.act is Act.STREAM:
            assert fault.stream is not None
            wire.stream(fault.reply, fault.stream)
            if not fault.stream.line:
                return fault.reply  # the one long line was the reply
        wire.send(fault.reply)
        if fault.reply.startswith("421"):
            raise Hangup
        return fault.reply

    def _ehlo_reply(self) -> str:
        keywords = ["SIZE 10485760", "8BITMIME", "AUTH PLAIN", *self.extensions]
        if self.script.offers_starttls:
            keywords.append("STARTTLS")
        lines = ["localhost", *keywords]
        return "\r\n".join(f"250-{line}" for line in lines[:-1]) + f"\r\n250 {lines[-1]}"


class _Decide(Protocol):
    def __call__(self, at: At, normal: str, recipient: str | None = None) -> Fault: ...


def _listener(receive_buffer: int | None) -> socket.socket:
    """A listening socket on loopback; accepted connections inherit its SO_RCVBUF, which must
    be set before `listen` to size the window the handshake offers."""
    if receive_buffer is None:
        return socket.create_server((HOST, 0), backlog=BACKLOG)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    listener.bind((HOST, 0))
    listener.listen(BACKLOG)
    return listener


def _address(command: str) -> str:
    """The address in `MAIL FROM:<a@b> SIZE=1` or `RCPT TO:<a@b>`."""
    return command.partition("<")[2].partition(">")[0]


def _chunk_size(command: str) -> tuple[int, bool]:
    """The size in `BDAT 1234 LAST`, and whether it is the last chunk."""
    words = command.split()
    return int(words[1]), len(words) > 2 and words[2].upper() == "LAST"


def _read_data(wire: Wire) -> bytes:
    """The DATA section up to its final dot, with the client's dot-stuffing undone."""
    lines = []
    while (line := wire.readline()) not in (b".\r\n", b".\n"):
        lines.append(line[1:] if line.startswith(b".") else line)
    return b"".join(lines)
