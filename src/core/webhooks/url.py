"""A webhook's URL: read once when subscribed (a clear 400 before anything is stored), and its
host judged by the outbound guard (`core.network.destination`) under the same operator
settings as attachment URLs (OUTBOUND_ALLOW_*). The guard judges it again, after DNS, before
every call (`core.webhooks.post`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import InvalidRequest
from core.network.destination import (
    DestinationForbidden,
    DestinationPolicy,
    Kind,
    check_destination,
    ip_literal,
    is_host_name,
    normalize_host,
)


@dataclass(frozen=True)
class WebhookUrl:
    scheme: str
    host: str
    port: int
    target: str  # the path and query, as the request line takes it


def parse_webhook_url(text: str, *, allow_http: bool) -> WebhookUrl:
    """`text` as a URL a webhook may call, or `InvalidRequest` saying why not."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise _invalid("is not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not allow_http):
        allowed = "https or http" if allow_http else "https"
        raise _invalid(f"must use {allowed}", reason="webhook_scheme_forbidden")
    if parts.username is not None or parts.password is not None:
        # It would be shown by every GET; the signature is how an endpoint knows the caller.
        raise _invalid("must not hold credentials (verify the signature instead)")
    if parts.fragment:
        raise _invalid("must not have a fragment")
    host = parts.hostname or ""
    if not host or (ip_literal(host) is None and not is_host_name(host)):
        raise _invalid("has no valid host")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    if any(ord(character) <= 32 or ord(character) == 127 for character in target):
        raise _invalid("has spaces or control characters in its path")
    default_port = 443 if scheme == "https" else 80
    return WebhookUrl(scheme, normalize_host(host), port or default_port, target)


def shown(url: str) -> str:
    """`url` for a log line: no query string, which may hold a token of the endpoint's."""
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


def check_webhook_url(url: WebhookUrl, policy: DestinationPolicy) -> None:
    """`InvalidRequest` if the guard refuses the URL's host or port as written (no DNS)."""
    try:
        check_destination(url.host, url.port, policy)
    except DestinationForbidden as error:
        raise destination_refused(error.kind, url.port) from None


def destination_refused(kind: Kind | None, port: int) -> InvalidRequest:
    """The 400 (or the logged error) for a destination the guard refused."""
    if kind is None:
        why = f"uses port {port}; webhooks may use 443 (and 80 when plain http is allowed)"
    elif kind is Kind.LOOPBACK:
        why = f"points at {kind.value}, allowed only if OUTBOUND_ALLOW_LOOPBACK=true"
    elif kind is Kind.PRIVATE:
        why = f"points at {kind.value}, allowed only if OUTBOUND_ALLOW_PRIVATE=true"
    else:
        why = f"points at {kind.value}, which is never allowed"
    return _invalid(why, reason="webhook_destination_forbidden")


def _invalid(why: str, *, reason: str = "invalid_webhook_url") -> InvalidRequest:
    return InvalidRequest(f"The webhook URL {why}.", reason=reason, context={"field": "url"})
