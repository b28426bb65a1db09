"""What a fault server does wrong, and when: a `Fault` replaces the normal answer at a point
of the session (`At`); a `FaultScript` decides, point by point, which fault plays.
`SessionFaults` plays the same faults in every session (or the first N, then others), as the
tests script them; `InTransaction` plays one in one transaction of the first session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


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
