"""What a fault server saw of one SMTP connection: the commands, when the client's words came
relative to the server's replies, and each message whose final dot arrived, with its answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from local_stack.smtp.fault_wire import Wire

# In `FaultSession.flights`: a message's data (after DATA's 354, or a BDAT chunk).
MESSAGE_DATA = "<message>"


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
    _wire: Wire | None = field(default=None, repr=False, compare=False)
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
