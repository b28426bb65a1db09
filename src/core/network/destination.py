"""Whether an SMTP destination may be connected to: the guard against server-side request forgery.

The SMTP host and port are the one place where an API user tells the functions where to
connect. Left open, a service could point at the cloud metadata endpoint, the Lambda runtime
API on loopback, or an internal Redis, and the send would carry SMTP commands there. So:

- an IP literal is normalised first, in every spelling the resolver accepts (`2130706433`,
  `0x7f000001`, `127.1`, `0177.0.0.1`, `[::1]`, `::ffff:127.0.0.1`, a zone id), and judged by
  what it is, not by how it is written;
- link-local, cloud metadata (by address and by well-known name), multicast, unspecified,
  broadcast and reserved addresses are always refused; loopback only when the operator
  allows it (SMTP_ALLOW_LOOPBACK), private ranges unless the operator forbids them
  (SMTP_ALLOW_PRIVATE);
- only SMTP ports are allowed (SMTP_ALLOWED_PORTS): SMTP commands sent to another service's
  port are a cross-protocol attack, and how fast a port answers tells whether it is open.

Checked when a service is saved (`check_destination`, no DNS) and again when connecting
(`resolve`): a name is resolved once, every address is checked, and the connection goes to
a checked address, so a DNS answer that changes in between (rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from core.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = frozenset({25, 465, 587, 2525})


class Kind(StrEnum):
    """What an address (or a well-known name) is, as far as connecting to it goes."""

    PUBLIC = "a public address"
    PRIVATE = "a private network address"
    LOOPBACK = "a loopback address"
    METADATA = "a cloud metadata endpoint"
    LINK_LOCAL = "a link-local address"
    MULTICAST = "a multicast address"
    UNSPECIFIED = "an unspecified address"
    BROADCAST = "a broadcast address"
    RESERVED = "a reserved or non-routable address"


# Instance metadata and credential endpoints: AWS (IMDS over IPv4 and IPv6, ECS task
# metadata, EKS Pod Identity), GCP, Azure (IMDS and its WireServer), Alibaba Cloud,
# Oracle Cloud Classic. Most sit in link-local space, refused anyway; listed so that the
# refusal says what they are, and for the ones outside it.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
    )
)
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
    }
)
# Names every resolver maps to loopback (RFC 6761 reserves `localhost` and `*.localhost`).
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# RFC 1918, unique local IPv6, and the carrier-grade NAT range (RFC 6598), which Python's
# `is_private` leaves out but is no more public than the others.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# NAT64 (RFC 6052 and the local-use RFC 8215 prefix): the last 32 bits are the IPv4 address
# the gateway connects to.
_NAT64_NETWORKS = tuple(ipaddress.ip_network(net) for net in ("64:ff9b::/96", "64:ff9b:1::/48"))
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects 0.0.0.0 to loopback
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_ALWAYS_REFUSED = frozenset(
    {
        Kind.METADATA,
        Kind.LINK_LOCAL,
        Kind.MULTICAST,
        Kind.UNSPECIFIED,
        Kind.BROADCAST,
        Kind.RESERVED,
    }
)


class DestinationForbidden(Exception):
    """The destination may not be connected to; `field` says whether the host or the port,
    `kind` what the host is or resolves to (None for a port), for callers that word their own
    message (an attachment URL is no SMTP host)."""

    def __init__(
        self, message: str, field: Literal["host", "port"], kind: Kind | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.kind = kind


@dataclass(frozen=True)
class DestinationPolicy:
    """What the operator allows beyond public addresses on SMTP ports; `ports=None`: any."""

    allow_loopback: bool = False
    allow_private: bool = True
    ports: frozenset[int] | None = DEFAULT_PORTS

    @classmethod
    def from_settings(cls, settings: Settings) -> DestinationPolicy:
        return cls(
            allow_loopback=settings.smtp_allow_loopback,
            allow_private=settings.smtp_allow_private,
            ports=parse_ports(settings.smtp_allowed_ports),
        )

    @classmethod
    def for_outbound_http(cls, settings: Settings) -> DestinationPolicy:
        """Where attachment URLs may point (`core.attachments.fetch`): web ports, no private
        ranges unless allowed. Allowing loopback (tests, a local stack) allows any port too,
        since local servers listen where the system puts them; the fetcher still keeps other
        ports to loopback addresses."""
        web_ports = {443, 80} if settings.outbound_allow_http else {443}
        return cls(
            allow_loopback=settings.outbound_allow_loopback,
            allow_private=settings.outbound_allow_private,
            ports=None if settings.outbound_allow_loopback else frozenset(web_ports),
        )

    def allows(self, kind: Kind) -> bool:
        if kind in _ALWAYS_REFUSED:
            return False
        if kind is Kind.LOOPBACK:
            return self.allow_loopback
        if kind is Kind.PRIVATE:
            return self.allow_private
        return True


def parse_ports(text: str) -> frozenset[int] | None:
    """SMTP_ALLOWED_PORTS: `*` for any port, else a comma-separated list of port numbers."""
    if text.strip() == "*":
        return None
    try:
        ports = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        ports = frozenset({0})
    if not ports or not all(1 <= port <= 65535 for port in ports):
        raise ValueError(
            f"SMTP_ALLOWED_PORTS must be '*' or port numbers separated by commas, not {text!r}."
        )
    return ports


# --- reading a host -----------------------------------------------------------------------------


def ip_literal(host: str) -> Address | None:
    """The address `host` spells, in any form the system resolver takes as numeric; else None.

    `socket.inet_aton` is the resolver's own parser for the legacy IPv4 forms (decimal,
    octal and hex parts, fewer than four parts), so what it reads here is what a connect
    would reach. A zone id is dropped: it only matters for link-local, refused anyway.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.removesuffix(".")  # "127.0.0.1." is not a name worth resolving either
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.partition("%")[0])
        except ValueError:
            return None
    if not text or text[0] not in "0123456789":
        return None  # a name: inet_aton reads nothing else, and no label may start otherwise
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):  # not an address; ValueError: a NUL or a non-ASCII digit
        return None


def normalize_host(host: str) -> str:
    """An IP literal in its canonical form (`127.1` -> `127.0.0.1`); a name unchanged."""
    address = ip_literal(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # One spelling on every Python: 3.13 writes these dotted, older ones in hex.
        return f"::ffff:{address.ipv4_mapped}"
    return str(address) if address is not None else host


def is_host_name(host: str) -> bool:
    """Whether `host` is a syntactically valid DNS name (international names allowed)."""
    try:
        ascii_name = host.removesuffix(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_name.split(".")
    return (
        0 < len(ascii_name) <= 253
        and all(_is_label(label) for label in labels)
        # An all-numeric last label would be read as an address, not looked up.
        and not labels[-1].isdigit()
    )


def _is_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in label)
    )


# --- judging ------------------------------------------------------------------------------------


def classify_address(address: Address) -> Kind:
    """What `address` is. IPv6 forms that carry an IPv4 address are judged by that address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return classify_address(embedded)
    if address in _METADATA_ADDRESSES:
        return Kind.METADATA
    if address.is_unspecified or address in _THIS_NETWORK:
        return Kind.UNSPECIFIED
    if address.is_loopback:
        return Kind.LOOPBACK
    if address.is_link_local:
        return Kind.LINK_LOCAL
    if address.is_multicast:
        return Kind.MULTICAST
    if address == _BROADCAST:
        return Kind.BROADCAST
    if any(address in network for network in _PRIVATE_NETWORKS):
        return Kind.PRIVATE
    if address.is_reserved or not address.is_global:
        return Kind.RESERVED  # documentation, benchmarking, site-local, 240/4, ...
    return Kind.PUBLIC


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify_name(name: str) -> Kind | None:
    """The kind of a well-known name (metadata, loopback), or None for any other name."""
    folded = name.strip().rstrip(".").lower()
    if folded in _METADATA_NAMES:
        return Kind.METADATA
    if folded in _LOOPBACK_NAMES or folded.endswith(".localhost"):
        return Kind.LOOPBACK
    return None


def check_destination(host: str, port: int, policy: DestinationPolicy) -> None:
    """Raise `DestinationForbidden` unless `host:port` may be used; no DNS lookup.

    Used when a service is saved: an IP literal or a well-known name is judged here, any
    other name when connecting (`resolve`), since what it resolves to may change.
    """
    _check_port(port, policy)
    address = ip_literal(host)
    kind = classify_address(address) if address is not None else classify_name(host)
    if kind is not None:
        _check_kind(host, kind, policy)


def resolve(host: str, port: int, policy: DestinationPolicy) -> list[str]:
    """The addresses to connect to for `host:port`, every one checked; or raise.

    One lookup: connecting to these addresses (rather than to the name again) is what keeps
    a second, different DNS answer out. A name with any forbidden address is refused
    whole: it is misconfigured or hostile either way. `socket.gaierror` passes through.
    """
    _check_port(port, policy)
    kind = classify_name(host)
    if kind is not None:
        _check_kind(host, kind, policy)
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    families = (socket.AF_INET, socket.AF_INET6)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found if info[0] in families))
    check_addresses(host, addresses, policy)
    return addresses


def check_addresses(host: str, addresses: Iterable[str], policy: DestinationPolicy) -> None:
    """Raise `DestinationForbidden` if any of `addresses` (resolved for `host`) is forbidden."""
    for address in addresses:
        parsed = ip_literal(address)
        # Not an address at all (no resolver answers that): nothing to connect to safely.
        kind = classify_address(parsed) if parsed is not None else Kind.RESERVED
        if not policy.allows(kind):
            raise DestinationForbidden(
                f"SMTP host '{host}' resolves to {kind.value}{_hint(kind)}; refusing to connect.",
                "host",
                kind,
            )


def _check_port(port: int, policy: DestinationPolicy) -> None:
    if policy.ports is not None and port not in policy.ports:
        allowed = ", ".join(str(p) for p in sorted(policy.ports))
        raise DestinationForbidden(
            f"SMTP port {port} is not allowed: use one of {allowed}"
            " (the operator's SMTP_ALLOWED_PORTS setting).",
            "port",
        )


def _check_kind(host: str, kind: Kind, policy: DestinationPolicy) -> None:
    if not policy.allows(kind):
        raise DestinationForbidden(
            f"SMTP host '{host}' is {kind.value}{_hint(kind)}.", "host", kind
        )


def _hint(kind: Kind) -> str:
    if kind is Kind.LOOPBACK:
        return ", not allowed unless the operator sets SMTP_ALLOW_LOOPBACK=true"
    if kind is Kind.PRIVATE:
        return ", not allowed because the operator set SMTP_ALLOW_PRIVATE=false"
    return ", which is never allowed"
