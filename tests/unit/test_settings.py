"""The functions' settings: what a deployed function cannot start without is named when missing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.settings import ConfigurationError, check_settings, get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    get_settings.cache_clear()


def test_a_missing_table_name_fails_the_start_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MESSAGES_TABLE")

    with pytest.raises(ConfigurationError) as raised:
        check_settings()

    assert str(raised.value) == (
        "Configuration error: missing environment variable(s): MESSAGES_TABLE."
    )
    assert raised.value.missing == ["MESSAGES_TABLE"]


def test_every_missing_variable_is_named_and_empty_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROLES_TABLE")
    monkeypatch.setenv("SEND_QUEUE_URL", "")
    monkeypatch.delenv("STAGING_BUCKET")

    with pytest.raises(ConfigurationError, match="SEND_QUEUE_URL") as raised:
        get_settings()

    assert sorted(raised.value.missing) == ["ROLES_TABLE", "SEND_QUEUE_URL", "STAGING_BUCKET"]


def test_an_unreadable_value_is_named_with_what_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_ATTEMPTS", "eight")

    with pytest.raises(ConfigurationError) as raised:
        get_settings()

    assert raised.value.missing == []
    assert list(raised.value.invalid) == ["MAX_ATTEMPTS"]
    assert str(raised.value).startswith("Configuration error: MAX_ATTEMPTS: Input should be")


def test_a_complete_environment_passes_the_check() -> None:
    check_settings()

    assert get_settings().messages_table == "email-api-messages"


@pytest.mark.parametrize("handler", ["api", "authorizer", "invoke", "worker"])
def test_a_function_without_a_table_name_fails_its_cold_start(handler: str) -> None:
    """Each handler checks its settings when Lambda loads it, before any request."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("MESSAGES_TABLE", "COVERAGE_PROCESS_START")
    }
    loaded = subprocess.run(  # noqa: S603  # this interpreter, fixed arguments
        [sys.executable, "-c", f"import handlers.{handler}"],
        env={**environment, "PYTHONPATH": os.pathsep.join(["src", "."])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert loaded.returncode != 0
    assert "missing environment variable(s): MESSAGES_TABLE" in loaded.stderr
