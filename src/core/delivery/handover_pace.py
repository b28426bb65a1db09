"""A provider's pace taken as a message is handed over, not when its job is picked up.

The provider's sliding windows hold for the moments their units are taken
(`core.access.rate_limit`); they hold at the provider only if every message arrives about as
long after its unit as every other. Taken when a job is picked up, they did not: a worker's
lanes then claim, check and start each message before handing it over, and those steps take
different times on different lanes (a new connection, a slow store), so a second at the server
could see 6 messages of a pace of 5. Taken just before the message's text is written (its
envelope already accepted), what is left between the unit and the final dot is the same for
every message to that server: a write and the way there.

So a paced service's job is picked up after a look at its windows (`Admission.provider_wait`:
if they would keep it waiting long, the job comes back later as a fresh copy, not an attempt),
and its unit is taken at the handover (`pace_at_handover`), waiting there, lane by lane, for
as long as the window asks, up to `MAX_WAIT_SECONDS`. A wait longer than that (the window
filled up meanwhile, by other workers say) ends the send before its text: a transient failure
that nothing reached the server with, tried again later as any is.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from core.admission import Admission
from core.errors import DeliveryFailure, RateLimited
from core.services.model import Service
from core.transport.base import Deadline

# How long a send may wait at its handover for the provider's pace, at most; a job whose
# service's windows would keep it waiting longer is not picked up (it hops).
MAX_WAIT_SECONDS = 3.0
# Lanes that wake for the same freed slot should not all ask at the same millisecond.
_SPREAD_SECONDS = 0.02
_jitter = random.SystemRandom()


class PaceNotReached(DeliveryFailure):
    """The provider's pace kept a handover waiting past `MAX_WAIT_SECONDS`: nothing of the
    message's text was written; it goes again later."""

    transient_by_default = True
    default_reason = "provider_pace"


def is_paced(service: Service) -> bool:
    """Whether the service has a per-second pace: its units are taken at the handover."""
    return service.config.max_send_rate is not None


def pace_at_handover(
    admission: Admission, service: Service, deadline: Deadline
) -> Callable[[], None]:
    """What to run at the handover: take one of the provider's units, waiting for it."""

    def take() -> None:
        give_up = time.monotonic() + min(MAX_WAIT_SECONDS, max(0.0, deadline.remaining() - 1))
        while True:
            try:
                admission.take_provider(service)
                return
            except RateLimited as refused:
                wait = (
                    refused.wait_seconds
                    if refused.wait_seconds is not None
                    else float(refused.retry_after)
                )
                if time.monotonic() + wait > give_up:
                    raise PaceNotReached(
                        f"The provider's pace for '{service.name}' kept the message waiting;"
                        " it goes again later.",
                        context={"retry_after": refused.retry_after},
                    ) from refused
                time.sleep(wait + _jitter.uniform(0, _SPREAD_SECONDS))

    return take
