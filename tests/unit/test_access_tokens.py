"""API key tokens: their format, how they split, and how a presented secret is compared."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from core.access.authentication import presented_api_key
from core.access.tokens import (
    hash_secret,
    new_key_id,
    new_secret,
    secret_matches,
    split_token,
    token_for,
)

KEY_ID = "0123456789abcdef"
SECRET = "A" * 42 + "_"


def test_a_new_token_is_an_id_a_dot_and_256_random_bits() -> None:
    key_id, secret = new_key_id(), new_secret()

    token = token_for(key_id, secret)

    assert re.fullmatch(r"[0-9a-f]{16}", key_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)  # 32 bytes, URL-safe base64, no padding
    assert token == f"{key_id}.{secret}"
    assert split_token(token) == (key_id, secret)


def test_every_new_token_is_different() -> None:
    assert len({new_key_id() for _ in range(100)}) == 100
    assert len({new_secret() for _ in range(100)}) == 100


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-key", id="no-dot"),
        pytest.param(f"{KEY_ID}{SECRET}", id="dot-missing"),
        pytest.param(f"{KEY_ID}.", id="no-secret"),
        pytest.param(f".{SECRET}", id="no-id"),
        pytest.param(f"{KEY_ID.upper()}.{SECRET}", id="upper-case-id"),
        pytest.param(f"{KEY_ID[:-1]}.{SECRET}", id="short-id"),
        pytest.param(f"{KEY_ID}0.{SECRET}", id="long-id"),
        pytest.param(f"{KEY_ID}.{SECRET[:-1]}", id="short-secret"),
        pytest.param(f"{KEY_ID}.{SECRET}A", id="long-secret"),
        pytest.param(f"{KEY_ID}.{SECRET[:-1]}=", id="padding"),
        pytest.param(f"{KEY_ID}.{SECRET[:-1]}+", id="standard-base64"),
        pytest.param(f"{KEY_ID}.{SECRET}.{SECRET}", id="two-dots"),
        pytest.param(f" {KEY_ID}.{SECRET}", id="leading-space"),
        pytest.param(f"{KEY_ID}.{SECRET}\n", id="trailing-newline"),
    ],
)
def test_malformed_tokens_do_not_split(token: str) -> None:
    assert split_token(token) is None


def test_the_hash_is_sha256_of_the_secret() -> None:
    assert hash_secret(SECRET) == hashlib.sha256(SECRET.encode()).hexdigest()
    assert hash_secret(SECRET) == hash_secret(SECRET)
    assert SECRET not in hash_secret(SECRET)


def test_a_secret_matches_only_its_own_hash() -> None:
    stored = hash_secret(SECRET)

    assert secret_matches(SECRET, stored)
    assert not secret_matches(SECRET[:-1] + "-", stored)
    assert not secret_matches(SECRET, None)  # no previous secret: nothing matches it
    assert not secret_matches(SECRET, "")
    assert not secret_matches(stored, stored)  # the hash itself is not the secret


def test_the_comparison_takes_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []

    def compare_digest(a: str, b: str) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)

    assert secret_matches(SECRET, hash_secret(SECRET))
    assert compared == [(hash_secret(SECRET), hash_secret(SECRET))]


# --- where a client puts its key -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        pytest.param({"X-DreamFactory-API-Key": "k1"}, None, "k1", id="dreamfactory-header"),
        pytest.param({"x-dreamfactory-api-key": "k1"}, None, "k1", id="lower-case-header"),
        pytest.param({"X-API-Key": "k2"}, None, "k2", id="x-api-key"),
        pytest.param({"X-Api-Key": "k2"}, None, "k2", id="x-api-key-any-case"),
        pytest.param(None, {"api_key": "k3"}, "k3", id="query"),
        pytest.param(
            {"X-DreamFactory-API-Key": "k1", "X-API-Key": "k2"},
            {"api_key": "k3"},
            "k1",
            id="dreamfactory-header-first",
        ),
        pytest.param({"X-API-Key": "k2"}, {"api_key": "k3"}, "k2", id="header-before-query"),
        pytest.param({"X-API-Key": ""}, {"api_key": "k3"}, "k3", id="empty-header-ignored"),
        pytest.param({"Authorization": "Bearer k4"}, None, None, id="other-header"),
        pytest.param({}, {"api_key": ""}, None, id="empty-query"),
        pytest.param(None, None, None, id="nothing"),
    ],
)
def test_presented_api_key(
    headers: dict[str, str] | None, query: dict[str, str] | None, expected: str | None
) -> None:
    assert presented_api_key(headers, query) == expected
