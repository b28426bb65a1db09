"""A scripted SMTP server on 127.0.0.1, on a raw socket, that misbehaves on cue.

It answers a chosen code, drops or resets the connection, or stalls, at a chosen point of the
session (in the middle of a message too), or answers with a reply that never fits (megabytes of
it, or a line at a time, slowly: `Stream`), and records every session: the commands, and each
message whose final dot arrived with the answer it got. aiosmtpd cannot do this: it always
reads a whole message before its handler is asked, and never closes mid-sentence.

What it does, point by point, is a `FaultScript`'s decision: `SessionFaults` plays the same
faults in every session (or the first N, then others), as the tests script them; the soak run
deals faults at random.

It can also offer PIPELINING and CHUNKING (RFC 2920, 3030): it reads commands line by line
whatever the client writes at once, and takes a `BDAT <size> [LAST]` chunk as it comes. Each
session records when the client's words arrived relative to the server's replies
(`FaultSession.flights`): how many round trips the client waited for.
"""

from __future__ import annotations

import contextlib
import fcntl
import select
import socket
import struct
import termios
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol, Self

from local_stack.config import HOST

# Enough for every client of a soak run to be waiting at once.
BACKLOG = 512
# The longest `FaultServer.sessions` waits for its sessions to catch up with their clients.
SETTLE_SECONDS = 2.0
# In `FaultSession.flights`: a message's data (after DATA's 354, or a BDAT chunk).
MESSAGE_DATA = "<message>"


class At(StrEnum):
    """A point where an SMTP server answers the client; a `Fault` replaces that answer."""

    GREETING = "greeting"
    EHLO = "ehlo"  # HELO too
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    # The DATA command: where the 354 goes. With CHUNKING, BDAT ... LAST's answer once its chunk
    # is read (a server answers BDAT only then): a fault here refuses or drops the message.
    DATA = "data"
    # After the 354 (or the BDAT command), before the final dot (the chunk's last byte) is read
    # (see `Fault.after_bytes`).
    MESSAGE = "message"
    END_OF_DATA = "end_of_data"  # the message and its final dot (or last chunk) have arrived
    QUIT = "quit"


class Act(StrEnum):
    ANSWER = "answer"  # send the scripted reply instead of the normal one
    # Close the connection instead of answering. The kernel says FIN when the server has read
    # everything the client sent, RST when some of it is still unread (as at MESSAGE).
    DROP = "drop"
    RESET = "reset"  # abort the connection: SO_LINGER 0, so an RST whatever was read
    STALL = "stall"  # never answer; wait for the client to give up
    STREAM = "stream"  # the scripted reply, after as much of a reply as `Fault.stream` says


@dataclass(frozen=True)
class Stream:
    """A reply that goes on: `size` octets (or a little more) of continuation lines of `line`
    octets each (the code, a hyphen, filler, CRLF), one every `every` seconds (0: as fast as
    the client reads), before the reply's last line; with `line=0`, one line of `size` octets
    instead, the reply itself. What a hostile server (or anyone on the path, before TLS) can
    send."""

    size: int
    line: int = 512
    every: float = 0.0


@dataclass(frozen=True)
class Fault:
    """What the server does at `at` instead of its normal answer.

    At `At.MESSAGE` nothing is answered: the server reads `after_bytes` bytes of the message,
    then acts as soon as more of it waits unread (so a DROP there is a close with unread data,
    an RST); with `after_bytes=None` it reads none and acts only once the whole message, final
    dot included, waits unread: the client has written all of it. A STALL there stops reading.
    With CHUNKING the same holds for a BDAT chunk; a DROP there aborts (an RST) even when part
    of the chunk came in with the command's line: the server never looked at it, as one that
    read no further than the command would have left it unread in the kernel.
    """

    at: At
    act: Act
    reply: str = ""
    # At RCPT: the recipients it applies to (none listed: every recipient).
    recipients: frozenset[str] = frozenset()
    after_bytes: int | None = None
    stream: Stream | None = None

    @classmethod
    def answer(cls, at: At, reply: str, *, recipients: Iterable[str] = ()) -> Fault:
        return cls(at, Act.ANSWER, reply, frozenset(recipients))

    @classmethod
    def drop(
        cls, at: At, *, recipients: Iterable[str] = (), after_bytes: int | None = None
    ) -> Fault:
        return cls(at, Act.DROP, recipients=frozenset(recipients), after_bytes=after_bytes)

    @classmethod
    def reset(cls, at: At, *, after_bytes: int | None = None) -> Fault:
        return cls(at, Act.RESET, after_bytes=after_bytes)

    @classmethod
    def stall(
        cls, at: At, *, recipients: Iterable[str] = (), after_bytes: int | None = None
    ) -> Fault:
        return cls(at, Act.STALL, recipients=frozenset(recipients), after_bytes=after_bytes)

    @classmethod
    def streaming(cls, at: At, reply: str, stream: Stream) -> Fault:
        return cls(at, Act.STREAM, reply, stream=stream)

    def applies(self, at: At, recipient: str | None) -> bool:
        return self.at is at and (not self.recipients or recipient in self.recipients)


class FaultScript(Protocol):
    """Decides, point by point, where the server misbehaves."""

    @property
    def offers_starttls(self) -> bool:
        """Whether EHLO offers STARTTLS (the server cannot do TLS: only to refuse it)."""
        ...

    def fault(self, session: int, at: At, recipient: str | None) -> Fault | None:
        """The fault replacing the normal answer at `at` (to RCPT: for `recipient`) in the
        `session`-th session, counted from 0; None for the normal answer."""
        ...


@dataclass(frozen=True)
class SessionFaults:
    """The same faults in every session, or in the first `faulty_sessions` (a server that
    recovers) and `then` in the others (a server that changes its mind). The first fault that
    applies at a point is the one played."""

    faults: tuple[Fault, ...] = ()
    faulty_sessions: int | None = None
    then: tuple[Fault, ...] = ()

    @property
    def offers_starttls(self) -> bool:
        return any(fault.at is At.STARTTLS for fault in self.faults)

    def fault(self, session: int, at: At, recipient: str | None) -> Fault | None:
        faulty = self.faulty_sessions is None or session < self.faulty_sessions
        scripted = (f for f in (self.faults if faulty else self.then) if f.applies(at, recipient))
        return next(scripted, None)


@dataclass
class InTransaction:
    """The first session plays `planned` in its `number`-th transaction (counted by MAIL FROM,
    from 1) and nowhere else: a kept connection the server gives up on, or one message of a
    batch that goes wrong; every other point goes normally."""

    planned: Fault
    number: int = 2
    transactions: int = 0
    offers_starttls: bool = False

    def fault(self, session: int, at: At, recipient: str | None) -> Fault | None:
        if session != 0:
            return None
        if at is At.MAIL:
            self.transactions += 1
        due = self.transactions == self.number and self.planned.applies(at, recipient)
        return self.planned if due else None


@dataclass(frozen=True)
class Arrival:
    """A message whose final dot reached the server, and the server's answer to it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the DATA section, dot-unstuffed, without the final dot's line
    answer: str | None  # None: the server dropped the connection or stalled instead

    @property
    def delivered(self) -> bool:
        return self.answer is not None and self.answer.startswith("2")


@dataclass
class FaultSession:
    """One SMTP connection as the server saw it."""

    # Each command line as received (without CRLF), in order; message lines are not commands.
    commands: list[str] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    # What the client said, in order: each command's verb, MESSAGE_DATA for a message's data,
    # with how far into the client's byte stream it ended.
    heard: list[tuple[str, int]] = field(default_factory=list)
    # For each reply the server sent, how much of the client's byte stream had arrived by then.
    replies_at: list[int] = field(default_factory=list)
    # Octets of a `Stream` the client's kernel took (the client stops reading: the rest never went).
    streamed: int = 0
    _wire: _Wire | None = field(default=None, repr=False, compare=False)
    _over: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def flights(self) -> list[list[str]]:
        """What the client said (see `heard`), grouped by how many replies the server had sent
        when it arrived: a group is what the client wrote before waiting for an answer, so a
        session takes as many round trips as it has groups, the greeting's included."""
        groups: dict[int, list[str]] = {}
        for said, end in self.heard:
            answered = sum(1 for arrived in self.replies_at if arrived < end)
            groups.setdefault(answered, []).append(said)
        return list(groups.values())

    def settled(self) -> bool:
        """Whether the server has caught up with the client: the session is over, or it waits
        for the client with nothing unread (or was told to read no more)."""
        return self._over.is_set() or (self._wire is not None and self._wire.idle())

    @property
    def verbs(self) -> list[str]:
        return [command.split(" ", 1)[0].upper() for command in self.commands]

    @property
    def transactions(self) -> int:
        """MAIL FROM commands: each starts an SMTP transaction."""
        return self.verbs.count("MAIL")

    @property
    def message_arrived(self) -> bool:
        """Whether a whole message, final dot included, reached the server."""
        return bool(self.arrivals)


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
        session._wire = _Wire(connection, self._stopping, session, self.reply_delay)
        try:
            with connection, contextlib.suppress(_Hangup):
                self._converse(session._wire, session, index)
        finally:
            session._over.set()

    def _converse(self, wire: _Wire, session: FaultSession, index: int) -> None:
        """Play one session until the client quits or a fault ends it (raising `_Hangup`)."""

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

    def _take(self, wire: _Wire, session: FaultSession, decide: _Decide, arrival: Arrival) -> None:
        """The whole message is in: answer it as END_OF_DATA says, recording it first (once
        the client has its reply, it is here)."""
        verdict = decide(At.END_OF_DATA, "250 2.0.0 OK: queued")
        answer = verdict.reply if verdict.act is Act.ANSWER else None
        session.arrivals.append(
            Arrival(arrival.mail_from, list(arrival.rcpt_tos), arrival.data, answer)
        )
        self._carry_out(wire, verdict)

    @staticmethod
    def _interrupt(wire: _Wire, fault: Fault, chunk: int | None = None) -> None:
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
        raise _Hangup

    @staticmethod
    def _carry_out(wire: _Wire, fault: Fault) -> str:
        """Do what `fault` says; the reply sent, or `_Hangup` when the session ends here."""
        if fault.act is Act.RESET:
            wire.abort()
        if fault.act in (Act.DROP, Act.RESET):
            raise _Hangup
        if fault.act is Act.STALL:
            wire.wait_for_hangup()
        if fault.act is Act.STREAM:
            assert fault.stream is not None
            wire.stream(fault.reply, fault.stream)
            if not fault.stream.line:
                return fault.reply  # the one long line was the reply
        wire.send(fault.reply)
        if fault.reply.startswith("421"):
            raise _Hangup
        return fault.reply

    def _ehlo_reply(self) -> str:
        keywords = ["SIZE 10485760", "8BITMIME", "AUTH PLAIN", *self.extensions]
        if self.script.offers_starttls:
            keywords.append("STARTTLS")
        lines = ["localhost", *keywords]
        return "\r\n".join(f"250-{line}" for line in lines[:-1]) + f"\r\n250 {lines[-1]}"


class _Decide(Protocol):
    def __call__(self, at: At, normal: str, recipient: str | None = None) -> Fault: ...


class _Hangup(Exception):
    """The session is over: the client left, the script dropped it, or the server is stopping."""


class _Wire:
    """Line-oriented reads and writes on one connection, giving up when the server stops."""

    _POLL_SECONDS = 0.05

    def __init__(
        self,
        connection: socket.socket,
        stopping: threading.Event,
        session: FaultSession | None = None,
        reply_delay: float = 0.0,
    ) -> None:
        self._connection = connection
        self._stopping = stopping
        self._session = session or FaultSession()
        self._reply_delay = reply_delay
        self._buffer = b""
        self._received = 0  # bytes taken from the kernel so far
        self._waiting = False  # in `_wait_readable`
        self._parked = False  # told to read no more

    @property
    def position(self) -> int:
        """How far into the client's byte stream the server has looked."""
        return self._received - len(self._buffer)

    @property
    def buffered(self) -> bool:
        """Whether bytes taken from the kernel wait to be looked at."""
        return bool(self._buffer)

    def idle(self) -> bool:
        """Whether the server waits for the client with nothing unread (or reads no more)."""
        if self._parked:
            return True
        if not self._waiting or self._buffer:
            return False
        try:
            return not select.select([self._connection], [], [], 0)[0]
        except (OSError, ValueError):
            return False

    def readline(self) -> bytes:
        while b"\n" not in self._buffer:
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def read(self, count: int) -> bytes:
        """Exactly `count` bytes (a BDAT chunk)."""
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def send(self, reply: str) -> None:
        if self._reply_delay and self._stopping.wait(self._reply_delay):
            raise _Hangup
        self._session.replies_at.append(self._received + self._unread())
        try:
            self._connection.sendall(reply.encode() + b"\r\n")
        except OSError as error:
            raise _Hangup from error

    def stream(self, reply: str, stream: Stream) -> None:
        """What `stream` says, before `reply`'s last line (or as that line, when `line` is 0):
        written a chunk at a time, the same bytes over again, so the server's memory stays
        flat however much it sends."""
        self._session.replies_at.append(self._received + self._unread())
        code = reply[:3].encode()
        if not stream.line:
            self._write(code + b" ")
            self._repeat(b"x" * 65536, stream.size, every=0.0)
            self._write(b"\r\n")
            return
        unit = code + b"-" + b"x" * max(stream.line - 6, 0) + b"\r\n"
        if stream.every:
            self._repeat(unit, stream.size, every=stream.every)
        else:
            self._repeat(unit * max(65536 // len(unit), 1), stream.size, every=0.0)

    def _repeat(self, chunk: bytes, size: int, *, every: float) -> None:
        sent = 0
        while sent < size:
            if every and self._stopping.wait(every):
                raise _Hangup
            self._write(chunk)  # whole, so that no line is cut: `size` is a floor
            sent += len(chunk)

    def _write(self, data: bytes) -> None:
        try:
            self._connection.sendall(data)
        except OSError as error:
            raise _Hangup from error
        self._session.streamed += len(data)

    def wait_for_hangup(self) -> None:
        """Read and ignore everything until the client closes (or the server stops)."""
        while True:
            self._fill()
            self._buffer = b""

    def skip(self, count: int) -> None:
        """Read and drop `count` bytes, and not one more from the kernel."""
        while len(self._buffer) < count:
            self._fill(count - len(self._buffer))
        self._buffer = self._buffer[count:]

    def wait_unread(self, ending: bytes | None = None, at_least: int | None = None) -> None:
        """Wait, reading nothing more, until data waits unread in the kernel's receive buffer;
        with `ending`, until what waits (after anything read already) ends with it; with
        `at_least`, until that much waits."""
        if ending is None and at_least is None:
            self._wait_readable()
            return

        def enough(waiting: bytes) -> bool:
            if ending is not None:
                return waiting.endswith(ending)
            return len(waiting) >= (at_least or 0)

        while not enough(self._buffer + self._peek()):
            # Readable only once more than what is there now has come: no busy loop.
            waiting = len(self._peek())
            self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, waiting + 1)
            self._wait_readable()
            if len(self._peek()) == waiting:
                raise _Hangup  # readable with nothing new: the client closed

    def abort(self) -> None:
        """Make the coming close an abort: an RST, whatever was read or not."""
        self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def stop_reading(self) -> None:
        """Read nothing more, until the server stops."""
        self._parked = True
        self._stopping.wait()
        raise _Hangup

    def _peek(self) -> bytes:
        size = self._connection.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        try:
            return self._connection.recv(size, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""
        except OSError as error:
            raise _Hangup from error

    def _unread(self) -> int:
        """Bytes in the kernel's receive buffer, not taken yet."""
        try:
            waiting = fcntl.ioctl(self._connection.fileno(), termios.FIONREAD, b"\0" * 4)
        except (OSError, ValueError):
            return 0
        return int(struct.unpack("i", waiting)[0])

    def _wait_readable(self) -> None:
        self._waiting = True
        try:
            while not select.select([self._connection], [], [], self._POLL_SECONDS)[0]:
                if self._stopping.is_set():
                    raise _Hangup
        finally:
            self._waiting = False

    def _fill(self, limit: int = 65536) -> None:
        self._wait_readable()
        try:
            chunk = self._connection.recv(min(limit, 65536))
        except OSError as error:
            raise _Hangup from error
        if not chunk:
            raise _Hangup
        self._received += len(chunk)
        self._buffer += chunk


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


def _read_data(wire: _Wire) -> bytes:
    """The DATA section up to its final dot, with the client's dot-stuffing undone."""
    lines = []
    while (line := wire.readline()) not in (b".\r\n", b".\n"):
        lines.append(line[1:] if line.startswith(b".") else line)
    return b"".join(lines)
