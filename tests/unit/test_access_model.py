"""Roles and keys as the admin API takes and shows them; rate-limit windows and headers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.access.model import (
    BOOTSTRAP_ROLE,
    ApiKey,
    ApiKeyPatch,
    RateLimits,
    Role,
    Rotation,
)
from core.access.quota import Quota
from core.errors import InvalidRequest
from handlers.responses import quota_headers


def test_role_defaults_allow_nothing_but_the_services_default_sender() -> None:
    role = Role(name="app")

    assert role.public() == {
        "id": None,  # given when stored
        "name": "app",
        "description": "",
        "admin": False,
        "services": [],
        "senders": [],
        "max_recipients": None,
        "rate_limits": {"per_second": None, "per_minute": None, "per_day": None},
        "templates": None,
        "created_at": "",
        "updated_at": "",
    }


@pytest.mark.parametrize(
    "name",
    ["", "Billing", "billing app", "-billing", "_billing", "billing/x", "b" * 65, BOOTSTRAP_ROLE],
)
def test_invalid_role_names(name: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        Role(name=name)

    assert raised.value.reason == "invalid_role_name"
    assert raised.value.context == {"field": "name"}


@pytest.mark.parametrize("name", ["a", "billing", "billing-2", "billing_eu", "0day", "b" * 64])
def test_valid_role_names(name: str) -> None:
    assert Role(name=name).name == name


@pytest.mark.parametrize(
    "rule",
    ["billing", "billing@", "@example.com", "*example.com", "*@", "*@*", "*@*.example.com", "*@x"],
)
def test_invalid_sender_rules(rule: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        Role.model_validate({"name": "app", "senders": [rule]})

    assert raised.value.reason == "invalid_address"
    assert raised.value.context["field"] == "senders"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"max_recipients": 0}, id="max-recipients-zero"),
        pytest.param({"max_recipients": -1}, id="max-recipients-negative"),
        pytest.param({"rate_limits": {"per_minute": 0}}, id="per-minute-zero"),
        pytest.param({"rate_limits": {"per_day": -5}}, id="per-day-negative"),
        pytest.param({"rate_limits": {"per_hour": 5}}, id="unknown-window"),
        pytest.param({"admins": True}, id="unknown-field"),
    ],
)
def test_invalid_limits(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Role.model_validate({"name": "app", **fields})


def test_rate_limit_windows() -> None:
    assert RateLimits().windows() == []
    assert RateLimits(per_minute=5).windows() == [("minute", 60, 5)]
    assert RateLimits(per_day=100).windows() == [("day", 86_400, 100)]
    assert RateLimits(per_minute=5, per_day=100).windows() == [
        ("minute", 60, 5),
        ("day", 86_400, 100),
    ]


def test_quota_headers() -> None:
    assert quota_headers(Quota(limit=100, remaining=99, reset_at=1_700_006_400)) == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "99",
        "X-RateLimit-Reset": "1700006400",
    }


def test_a_key_never_shows_its_hashes() -> None:
    key = ApiKey(
        id="0123456789abcdef",
        role="app",
        secret_hash="a" * 64,
        previous_secret_hash="b" * 64,
        previous_valid_until="2030-01-01T00:00:00+00:00",
    )

    shown = key.public()

    assert "secret_hash" not in shown
    assert "previous_secret_hash" not in shown
    assert "a" * 64 not in str(shown)
    assert "b" * 64 not in str(shown)
    assert shown["previous_valid_until"] == "2030-01-01T00:00:00+00:00"


@pytest.mark.parametrize("field", ["secret_hash", "id", "created_at", "last_used_at"])
def test_a_key_patch_cannot_touch_anything_but_label_role_and_enabled(field: str) -> None:
    with pytest.raises(ValidationError):
        ApiKeyPatch.model_validate({field: "x"})


@pytest.mark.parametrize("overlap", [-1, 7 * 86_400 + 1])
def test_rotation_overlap_is_bounded(overlap: int) -> None:
    with pytest.raises(ValidationError):
        Rotation(overlap_seconds=overlap)
