"""The rule both local ports share: loopback Host names only, never a browser."""

from __future__ import annotations

import pytest

from local_stack.browser_guard import is_loopback_host

# --- Host: loopback names only, so a rebound DNS name is refused -------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:3001",
        "localhost",
        "localhost:3001",
        "LocalHost:1",
        "[::1]",
        "[::1]:3001",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host([host])


@pytest.mark.parametrize(
    "hosts",
    [
        None,
        [],
        [""],
        ["evil.example"],
        ["evil.example:3001"],
        ["localhost.evil.example"],
        ["127.0.0.1.nip.io"],
        ["127.0.0.2"],
        ["0.0.0.0:3001"],
        ["::1"],  # an IPv6 address in Host is bracketed
        ["127.0.0.1:"],
        ["127.0.0.1:3001/x"],
        ["user@127.0.0.1"],
        ["127.0.0.1", "evil.example"],  # two Host headers: which would a proxy believe?
    ],
)
def test_other_hosts(hosts: list[str] | None) -> None:
    assert not is_loopback_host(hosts)
