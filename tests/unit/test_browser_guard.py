"""The rule both local ports share: loopback Host names only, never a browser."""

from __future__ import annotations

import pytest

from local_stack.browser_guard import (
    browser_headers,
    browser_refusal,
    is_loopback_host,
    sigv4_access_key_id,
)

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


# --- headers only a browser sends ---------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ["Origin"],
        ["origin"],
        ["ORIGIN"],
        ["Sec-Fetch-Site"],
        ["sec-fetch-mode"],
        ["Sec-Fetch-Dest", "Content-Type"],
        ["SEC-FETCH-USER"],
    ],
)
def test_browser_headers_are_named(names: list[str]) -> None:
    assert browser_headers(names)
    assert browser_refusal(["127.0.0.1:5005"], names) == (
        f"does not answer browsers ({', '.join(browser_headers(names))})."
    )


@pytest.mark.parametrize(
    "names",
    [
        [],
        ["Host", "Authorization", "X-Amz-Target", "Content-Type", "X-Amz-Date", "User-Agent"],
        ["Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "X-Amz-Content-Sha256"],
        ["X-Origin", "Origin-Trial", "Sec-Websocket-Key", "Referer"],
    ],
)
def test_what_sdks_send_is_no_browser_s(names: list[str]) -> None:
    assert browser_headers(names) == []
    assert browser_refusal(["localhost"], names) is None


def test_a_foreign_host_is_refused_before_anything_else() -> None:
    refusal = browser_refusal(["evil.example:5005"], ["Origin"])

    assert refusal is not None
    assert "Host" in refusal


# --- what only an SDK sends ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "key_id"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=local/20261204/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=abc",
            "local",
        ),
        (
            " AWS4-HMAC-SHA256  Credential=AKIAEXAMPLE/20261204/eu-west-1/sqs/aws4_request",
            "AKIAEXAMPLE",
        ),
        (None, None),
        ("", None),
        ("Bearer local", None),
        ("Basic bG9jYWw6bG9jYWw=", None),
        ("AWS local:signature", None),  # SigV2: no SDK the stack uses sends it
        ("AWS4-HMAC-SHA256 Credential=/20261204/us-east-1/sqs/aws4_request", None),
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Credential=local/x", None),
    ],
)
def test_sigv4_access_key_id(authorization: str | None, key_id: str | None) -> None:
    assert sigv4_access_key_id(authorization) == key_id
