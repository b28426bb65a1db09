"""The local stack's settings: the Invoke API's own port, and ports that must differ."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from local_stack.config import DEFAULT_API_PORT, DEFAULT_INVOKE_PORT, LocalConfig


def test_the_invoke_api_defaults_to_sam_local_start_lambda_s_port() -> None:
    config = LocalConfig.from_env({})

    assert (config.api_port, config.invoke_port) == (DEFAULT_API_PORT, DEFAULT_INVOKE_PORT)
    assert config.invoke_url == "http://127.0.0.1:3001"
    assert config.invoke_port != config.api_port


def test_the_invoke_port_is_a_setting() -> None:
    config = LocalConfig.from_env({"LOCAL_INVOKE_PORT": "4001"})

    assert config.invoke_url == "http://127.0.0.1:4001"


def test_a_bad_invoke_port_names_its_setting() -> None:
    with pytest.raises(SystemExit, match="LOCAL_INVOKE_PORT must be a port number"):
        LocalConfig.from_env({"LOCAL_INVOKE_PORT": "api"})


def test_the_invoke_api_never_shares_the_api_s_port() -> None:
    # Checked before any port is probed: no socket is opened.
    config = LocalConfig(
        api_port=3000,
        invoke_port=3000,
        smtp_port=1025,
        moto_port=5005,
        mail_dir=Path("mail"),
        admin_key="key",
        admin_key_given=True,
    )

    with pytest.raises(SystemExit, match="LOCAL_API_PORT and LOCAL_INVOKE_PORT are both 3000"):
        config.require_free_ports()


@pytest.mark.parametrize(
    ("raw", "identities"),
    [
        (None, ("example.com",)),  # the local `email` service's sender's domain
        ("example.org, dev@example.net", ("example.org", "dev@example.net")),
        ("", ()),
    ],
)
def test_moto_s_ses_verifies_the_identities_named(
    raw: str | None, identities: tuple[str, ...]
) -> None:
    environ = {} if raw is None else {"LOCAL_SES_IDENTITIES": raw}

    assert LocalConfig.from_env(environ).ses_identities == identities


def _with_key(**state: Any) -> LocalConfig:
    return dataclasses.replace(LocalConfig.from_env({}), **state)


def test_the_banner_says_where_the_admin_key_came_from() -> None:
    assert "generated" in _with_key().admin_key_origin
    assert _with_key(admin_key_given=True).admin_key_origin == "from BOOTSTRAP_ADMIN_KEY"
    rotated = _with_key(admin_key_kept=True, admin_key_rotated_at="2026-12-04T21:00:00+00:00")
    assert "rotated through the admin API at 2026-12-04T21:00:00+00:00" in rotated.admin_key_origin
    replaced = _with_key(admin_key_given=True, admin_key_replaced=True).admin_key_origin
    assert "replaced the key the admin API had rotated or disabled" in replaced
    disabled = _with_key(admin_key_kept=True, admin_key_disabled=True).admin_key_origin
    assert "disabled through the admin API" in disabled
