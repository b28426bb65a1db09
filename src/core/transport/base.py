"""What every transport takes and returns (the transports themselves: `core.ports`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Envelope:
    """Who the message is from and to, for the provider; and the sender's labels and strings
    (`tags`, `metadata`) for a provider whose API takes them beside the message (SES's
    `EmailTags`). An SMTP transport sends none of them: what an SMTP provider should read of
    them is in the message's headers already (`X-SES-MESSAGE-TAGS`, by the service's say)."""

    sender: str
    recipients: list[str]
    tags: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """A message and its envelope, as a transport is handed them."""

    message: bytes
    envelope: Envelope


@dataclass(frozen=True)
class Delivery:
    """What the server said: who it accepted, who it refused for good (5xx at RCPT), and who
    it asked us to try again later (4xx at RCPT, e.g. 452), each with its reply."""

    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)
    # The provider's answer to the message itself (often naming its own queue id), and the
    # id it gave the message when it said one (SMTP's `250 ... queued as <id>`, SES's id).
    reply: str | None = None
    provider_message_id: str | None = None
    # What the handover cost, not what the server said (so no part of equality): the replies
    # waited for (None: the transport does not count them).
    round_trips: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Deadline:
    """A fixed point in time every network wait must finish before."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()
