"""The soak run's misbehaving SMTP server: the toolkit's `FaultServer` dealing faults at random,
and the ground truth of what it received, to check every status the API reports against.

Per transaction, with the given probabilities:
- `defer`: 451 to RCPT (the client must try again later);
- `reset_mid_data`: after the DATA command's 354, close with unread data (SO_LINGER 0: RST)
  before the final dot is read: the message was *not* taken;
- `drop_after_dot`: read the whole message and its dot, then close (FIN) without a reply:
  the message *was* received, and the client cannot know: a true `unknown`;
- otherwise `250`.

`received` maps each message's soak id (from its Subject) to how many times its final dot
arrived; `unanswered` holds the ids whose dot arrived on a connection that was then dropped.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from local_stack.smtp.fault_script import At, Fault
from local_stack.smtp.faults import FaultServer

SOAK_ID = re.compile(rb"^Subject: soak (\S+)", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Faults:
    defer: float = 0.0
    reset_mid_data: float = 0.0
    drop_after_dot: float = 0.0


@dataclass
class GroundTruth:
    received: Counter[str] = field(default_factory=Counter)
    unanswered: set[str] = field(default_factory=set)
    faults: Counter[str] = field(default_factory=Counter)


class RandomFaults:
    """A `FaultScript` rolling the dice for each fault where it would strike, in any session,
    and counting the faults it dealt."""

    offers_starttls = False

    def __init__(self, odds: Faults, *, seed: int) -> None:
        self._odds = odds
        self._random = random.Random(seed)
        # The sessions' threads roll the same dice.
        self._lock = threading.Lock()
        self._dealt: Counter[str] = Counter()

    @property
    def dealt(self) -> Counter[str]:
        with self._lock:
            return Counter(self._dealt)

    def fault(self, session: int, at: At, recipient: str | None) -> Fault | None:
        if at is At.RCPT and self._roll("defer", self._odds.defer):
            return Fault.answer(At.RCPT, "451 4.3.0 try again later")
        # Acts as soon as the message starts to arrive: before its final dot is read.
        if at is At.MESSAGE and self._roll("reset_mid_data", self._odds.reset_mid_data):
            return Fault.reset(At.MESSAGE, after_bytes=0)
        if at is At.END_OF_DATA and self._roll("drop_after_dot", self._odds.drop_after_dot):
            return Fault.drop(At.END_OF_DATA)
        return None

    def _roll(self, name: str, probability: float) -> bool:
        with self._lock:
            hit = self._random.random() < probability
            if hit:
                self._dealt[name] += 1
            return hit


class FaultSmtpServer(FaultServer):
    """A `FaultServer` on loopback dealing `faults` at random; a context manager."""

    def __init__(self, faults: Faults, *, seed: int = 7, extensions: Iterable[str] = ()) -> None:
        self._dice = RandomFaults(faults, seed=seed)
        super().__init__(script=self._dice, extensions=extensions)

    @property
    def truth(self) -> GroundTruth:
        """What the server received so far, and the faults it dealt."""
        arrivals = [arrival for session in self.sessions for arrival in session.arrivals]
        return GroundTruth(
            received=Counter(_soak_id(arrival.data) for arrival in arrivals),
            unanswered={_soak_id(arrival.data) for arrival in arrivals if arrival.answer is None},
            faults=self._dice.dealt,
        )


def _soak_id(data: bytes) -> str:
    found = SOAK_ID.search(data)
    return found.group(1).decode() if found else "?"
