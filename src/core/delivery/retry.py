"""When to try a transient failure again: exponential backoff with jitter, bounded."""

from __future__ import annotations

import random

# The longest single wait, whatever the attempt number.
MAX_BACKOFF_SECONDS = 3600


def backoff_seconds(attempt: int, base_seconds: float, *, rng: random.Random | None = None) -> int:
    """Wait before attempt `attempt + 1`: base * 2^(attempt-1), scaled by a random 0.5-1.5
    so that messages deferred together do not all come back together."""
    chance = rng or random.Random()  # noqa: S311  # jitter, not cryptography
    exponential = base_seconds * 2.0 ** max(0, attempt - 1)
    return max(1, round(min(exponential, MAX_BACKOFF_SECONDS) * chance.uniform(0.5, 1.5)))
