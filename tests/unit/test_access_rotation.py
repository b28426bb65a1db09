"""A rotation: a new secret, the old one accepted until the overlap ends and not after, and
nothing older than the one before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.access.model import ApiKey
from core.access.rotation import rotated, secret_accepted
from core.access.tokens import hash_secret


def _key(secret: str) -> ApiKey:
    return ApiKey(id="bootstrap", role="bootstrap-admin", secret_hash=hash_secret(secret))


def test_without_overlap_only_the_new_secret_works() -> None:
    key, secret = rotated(_key("old"), 0)
    now = datetime.now(UTC)

    assert secret_accepted(secret, key, now)
    assert not secret_accepted("old", key, now)
    assert (key.previous_secret_hash, key.previous_valid_until) == (None, None)
    assert key.rotated_at


def test_the_old_secret_works_until_the_overlap_ends() -> None:
    key, secret = rotated(_key("old"), 60)
    valid_until = datetime.fromisoformat(key.previous_valid_until or "")
    now = datetime.now(UTC)

    assert timedelta(seconds=60) <= valid_until - now <= timedelta(seconds=61)
    assert valid_until.microsecond == 0  # whole seconds, rounded up
    assert secret_accepted("old", key, now)
    assert secret_accepted(secret, key, now)
    assert not secret_accepted("old", key, valid_until)
    assert secret_accepted(secret, key, valid_until)


def test_a_second_rotation_forgets_the_first_secret() -> None:
    first, second_secret = rotated(_key("old"), 600)
    second, third_secret = rotated(first, 600)
    now = datetime.now(UTC)

    assert not secret_accepted("old", second, now)
    assert secret_accepted(second_secret, second, now)
    assert secret_accepted(third_secret, second, now)
    assert "old" not in second.model_dump_json()
