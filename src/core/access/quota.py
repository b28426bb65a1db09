"""Where a caller stands against its tightest rate-limit window (what `X-RateLimit-*` say)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    """The tightest window after this request: its limit, what is left, and when it resets."""

    limit: int
    remaining: int
    reset_at: int  # epoch seconds
