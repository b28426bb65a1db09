"""When to try a transient failure again: exponential backoff with jitter, bounded; how long
to keep trying is each service's retry window (`Courier`)."""

from __future__ import annotations

import random

# Queued mail keeps trying through a provider's outage this long from its first attempt (a
# service may say otherwise: `retry_window_minutes`), and never longer than 5 days (Postfix's
# maximal_queue_lifetime), well within a record's 30 days.
DEFAULT_RETRY_WINDOW_MINUTES = 24 * 60
MAX_RETRY_WINDOW_MINUTES = 5 * 24 * 60

# The longest single wait, whatever the attempt number: SQS's longest delay, so that a retry
# can always be a fresh message (see handlers.worker), and an outage that ends is noticed
# within a quarter of an hour.
MAX_BACKOFF_SECONDS = 900


def backoff_seconds(attempt: int, base_seconds: float, *, rng: random.Random | None = None) -> int:
    """Wait before attempt `attempt + 1`: base * 2^(attempt-1), scaled by a random 0.5-1.5
    so that messages deferred together do not all come back together; never more than
    MAX_BACKOFF_SECONDS."""
    chance = rng or random.Random()  # noqa: S311  # jitter, not cryptography
    # The exponent is bounded too: an attempt number of thousands must not overflow a float.
    exponential = base_seconds * 2.0 ** min(max(0, attempt - 1), 32)
    jittered = min(exponential, MAX_BACKOFF_SECONDS) * chance.uniform(0.5, 1.5)
    return max(1, min(MAX_BACKOFF_SECONDS, round(jittered)))
