"""A key's secrets over time: a rotation gives it a new one and may let the old one work a
while longer; a presented secret is accepted if it is either, within that window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.access.model import ApiKey
from core.access.tokens import hash_secret, new_secret, secret_matches
from core.clock import parse_iso


def rotated(key: ApiKey, overlap_seconds: int) -> tuple[ApiKey, str]:
    """`key` with a new secret (returned beside it, never stored); the one it had keeps working
    `overlap_seconds`, and any older one stops now."""
    secret = new_secret()
    now = datetime.now(UTC)
    changed = key.model_copy(
        update={
            "secret_hash": hash_secret(secret),
            "previous_secret_hash": key.secret_hash if overlap_seconds else None,
            "previous_valid_until": (
                _whole_seconds_after(now, overlap_seconds) if overlap_seconds else None
            ),
            "rotated_at": now.isoformat(timespec="seconds"),
        }
    )
    return changed, secret


def secret_accepted(secret: str, key: ApiKey, now: datetime) -> bool:
    """Whether `secret` is the key's secret, or its previous one still inside the overlap."""
    in_overlap = key.previous_valid_until is not None and now < parse_iso(key.previous_valid_until)
    return secret_matches(secret, key.secret_hash) or (
        in_overlap and secret_matches(secret, key.previous_secret_hash)
    )


def _whole_seconds_after(start: datetime, seconds: int) -> str:
    """`start + seconds`, rounded up to a whole second: the old key works at least that long."""
    end = start + timedelta(seconds=seconds)
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return end.isoformat(timespec="seconds")
