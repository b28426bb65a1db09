"""The SSRF guard's judgement of SMTP destinations: spellings, kinds, policy, ports."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from core.network.destination import (
    DEFAULT_PORTS,
    DestinationForbidden,
    DestinationPolicy,
    Kind,
    check_destination,
    classify_address,
    classify_name,
    ip_literal,
    is_host_name,
    normalize_host,
    parse_ports,
    resolve,
)

STRICT = DestinationPolicy()  # the deployed defaults: no loopback, private allowed, SMTP ports
NO_PRIVATE = DestinationPolicy(allow_private=False)
LOOPBACK_OK = DestinationPolicy(allow_loopback=True)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::1]", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("FD00:EC2::254", "fd00:ec2::254"),
    ],
)
def test_every_spelling_of_an_address_is_normalised(spelling: str, canonical: str) -> None:
    assert normalize_host(spelling) == canonical
    assert ip_literal(spelling) == ip_literal(canonical)


@pytest.mark.parametrize(
    "name", ["smtp.example.com", "localhost", "email-smtp.us-east-1.amazonaws.com", "1e100.net"]
)
def test_names_are_left_as_they_are(name: str) -> None:
    assert ip_literal(name) is None
    assert normalize_host(name) == name


@pytest.mark.parametrize(
    "text", ["256.1.1.1", "08.1.1.1", "1\u06627.0.0.1", "127.0.0.1\x00x", "::ffff:127.1"]
)
def test_what_no_resolver_reads_as_an_address_is_none(text: str) -> None:
    assert ip_literal(text) is None
    assert not is_host_name(text)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", Kind.PUBLIC),
        ("2001:4860:4860::8888", Kind.PUBLIC),
        ("127.0.0.1", Kind.LOOPBACK),
        ("127.255.255.254", Kind.LOOPBACK),
        ("::1", Kind.LOOPBACK),
        ("::ffff:127.0.0.1", Kind.LOOPBACK),
        ("10.1.2.3", Kind.PRIVATE),
        ("172.16.0.1", Kind.PRIVATE),
        ("172.31.255.255", Kind.PRIVATE),
        ("192.168.1.1", Kind.PRIVATE),
        ("100.64.0.1", Kind.PRIVATE),
        ("fd12:3456::1", Kind.PRIVATE),
        ("::ffff:10.0.0.1", Kind.PRIVATE),
        ("169.254.169.254", Kind.METADATA),
        ("::ffff:169.254.169.254", Kind.METADATA),
        ("169.254.170.2", Kind.METADATA),
        ("fd00:ec2::254", Kind.METADATA),
        ("100.100.100.200", Kind.METADATA),
        ("168.63.129.16", Kind.METADATA),
        ("64:ff9b::a9fe:a9fe", Kind.METADATA),  # NAT64 of 169.254.169.254
        ("169.254.1.1", Kind.LINK_LOCAL),
        ("fe80::1", Kind.LINK_LOCAL),
        ("224.0.0.1", Kind.MULTICAST),
        ("ff02::1", Kind.MULTICAST),
        ("0.0.0.0", Kind.UNSPECIFIED),  # noqa: S104  # an address to refuse, not to bind
        ("0.1.2.3", Kind.UNSPECIFIED),
        ("::", Kind.UNSPECIFIED),
        ("255.255.255.255", Kind.BROADCAST),
        ("240.0.0.1", Kind.RESERVED),
        ("192.0.2.1", Kind.RESERVED),
        ("2001:db8::1", Kind.RESERVED),
        ("2002:7f00:1::", Kind.LOOPBACK),  # 6to4 of 127.0.0.1
    ],
)
def test_addresses_are_classified(address: str, kind: Kind) -> None:
    assert classify_address(ipaddress.ip_address(address)) is kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("metadata.google.internal", Kind.METADATA),
        ("METADATA.Google.Internal.", Kind.METADATA),
        ("metadata.goog", Kind.METADATA),
        ("metadata", Kind.METADATA),
        ("instance-data", Kind.METADATA),
        ("instance-data.ec2.internal", Kind.METADATA),
        ("metadata.azure.internal", Kind.METADATA),
        ("localhost", Kind.LOOPBACK),
        ("LocalHost.", Kind.LOOPBACK),
        ("mail.localhost", Kind.LOOPBACK),
        ("smtp.example.com", None),
        ("metadata.example.com", None),
    ],
)
def test_well_known_names_are_classified(name: str, kind: Kind | None) -> None:
    assert classify_name(name) is kind


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "2852039166",
        "[fd00:ec2::254]",
        "metadata.google.internal",
        "Metadata.Google.Internal.",
        "instance-data",
        "169.254.1.1",
        "[fe80::1%eth0]",
        "224.0.0.1",
        "0.0.0.0",  # noqa: S104  # an address to refuse, not to bind
        "0",
        "::",
        "255.255.255.255",
        "240.0.0.1",
    ],
)
@pytest.mark.parametrize("policy", [STRICT, LOOPBACK_OK], ids=["strict", "loopback-allowed"])
def test_always_refused(host: str, policy: DestinationPolicy) -> None:
    with pytest.raises(DestinationForbidden) as refused:
        check_destination(host, 587, policy)

    assert refused.value.field == "host"
    assert "never allowed" in refused.value.message


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "127.1",
        "0177.0.0.1",
        "[::1]",
        "::ffff:127.0.0.1",
        "localhost",
        "localhost.",
        "ip6-localhost",
    ],
)
def test_loopback_only_when_allowed(host: str) -> None:
    with pytest.raises(DestinationForbidden) as refused:
        check_destination(host, 587, STRICT)

    assert "SMTP_ALLOW_LOOPBACK" in refused.value.message
    check_destination(host, 587, LOOPBACK_OK)


@pytest.mark.parametrize(
    "host", ["10.0.0.5", "172.20.1.1", "192.168.0.10", "100.64.1.1", "fd00::1"]
)
def test_private_unless_forbidden(host: str) -> None:
    check_destination(host, 587, STRICT)

    with pytest.raises(DestinationForbidden) as refused:
        check_destination(host, 587, NO_PRIVATE)

    assert "SMTP_ALLOW_PRIVATE" in refused.value.message


@pytest.mark.parametrize("port", [6379, 11211, 80, 8080, 22, 1025])
def test_only_smtp_ports_by_default(port: int) -> None:
    with pytest.raises(DestinationForbidden) as refused:
        check_destination("smtp.example.com", port, STRICT)

    assert refused.value.field == "port"
    assert "25, 465, 587, 2525" in refused.value.message
    check_destination("smtp.example.com", port, DestinationPolicy(ports=None))


@pytest.mark.parametrize("port", sorted(DEFAULT_PORTS))
def test_smtp_ports_pass(port: int) -> None:
    check_destination("smtp.example.com", port, STRICT)


@pytest.mark.parametrize(
    ("text", "ports"),
    [("*", None), (" * ", None), ("25,587", frozenset({25, 587})), ("25, 2525 ,", {25, 2525})],
)
def test_allowed_ports_setting(text: str, ports: Any) -> None:
    assert parse_ports(text) == ports


@pytest.mark.parametrize("text", ["", "smtp", "25;587", "0", "65536", "25,x"])
def test_bad_allowed_ports_setting(text: str) -> None:
    with pytest.raises(ValueError, match="SMTP_ALLOWED_PORTS"):
        parse_ports(text)


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        ("smtp.example.com", True),
        ("smtp.example.com.", True),
        ("mail_relay.corp", True),
        ("bücher.example", True),
        ("smtp.example.com:587", False),
        ("http://smtp.example.com", False),
        ("-smtp.example.com", False),
        ("smtp..example.com", False),
        ("a" * 64 + ".example.com", False),
        ("1.2.3.4.5", False),  # all-numeric: would be read as an address, and is none
    ],
)
def test_host_name_syntax(host: str, valid: bool) -> None:
    assert is_host_name(host) is valid


# --- at connect time: one lookup, every address checked ---------------------------------------


def _resolver(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """Answer every lookup with `addresses`; returns the list of names looked up."""
    looked_up: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        looked_up.append(host)
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_resolve_looks_up_once_and_returns_the_checked_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = _resolver(monkeypatch, "8.8.8.8", "2001:4860:4860::8888", "8.8.8.8")

    assert resolve("smtp.example.com", 587, STRICT) == ["8.8.8.8", "2001:4860:4860::8888"]
    assert looked_up == ["smtp.example.com"]


@pytest.mark.parametrize(
    "answers",
    [
        ("169.254.169.254",),
        ("8.8.8.8", "169.254.169.254"),  # one bad address spoils the name
        ("127.0.0.1",),
        ("::1", "8.8.8.8"),
        ("::ffff:169.254.169.254",),
    ],
)
def test_a_name_resolving_to_a_forbidden_address(
    monkeypatch: pytest.MonkeyPatch, answers: tuple[str, ...]
) -> None:
    _resolver(monkeypatch, *answers)

    with pytest.raises(DestinationForbidden) as refused:
        resolve("smtp.example.com", 587, STRICT)

    assert refused.value.message.startswith("SMTP host 'smtp.example.com' resolves to")


def test_well_known_names_are_refused_before_any_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up = _resolver(monkeypatch, "8.8.8.8")

    with pytest.raises(DestinationForbidden):
        resolve("metadata.google.internal", 587, LOOPBACK_OK)
    with pytest.raises(DestinationForbidden):
        resolve("smtp.example.com", 6379, LOOPBACK_OK)

    assert looked_up == []
