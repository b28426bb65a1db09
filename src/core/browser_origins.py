"""The web origins browser apps may call the API from: a deployment setting, read at start.

DreamFactory keeps them in its `cors_config` table, edited by its administrator; here they are
one comma-separated setting (CORS_ALLOWED_ORIGINS, the template's CorsAllowedOrigins). Each is
an origin as a browser sends it in `Origin`: `scheme://host[:port]`, nothing after it. A typo
(a path, a trailing slash, no scheme) would never match any browser's `Origin`, so it fails
the start instead, naming the entry. `*` (any origin) is only ever an explicit, lone choice.
"""

from __future__ import annotations

from urllib.parse import urlsplit

ANY_ORIGIN = "*"
# A browser leaves the scheme's own port out of `Origin`; so does the setting once read.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_allowed_origins(raw: str) -> tuple[str, ...]:
    """The origins a comma-separated setting lists, as browsers write them (lower case, no
    default port); empty for none. `ValueError` names an entry that is no origin."""
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    if ANY_ORIGIN in entries:
        if len(entries) > 1:
            raise ValueError("'*' allows every origin: list it alone, or list origins instead")
        return (ANY_ORIGIN,)
    origins: list[str] = []
    for entry in entries:
        origin = _origin(entry)
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _origin(entry: str) -> str:
    problem = f"{entry!r} is not an origin (scheme://host[:port], as a browser sends it)"
    parts = urlsplit(entry)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{problem}: it needs http:// or https:// and a host")
    if parts.path or parts.query or parts.fragment or entry.endswith(("?", "#")):
        raise ValueError(f"{problem}: nothing may follow the host and port, not even '/'")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{problem}: it may not name a user")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"{problem}: its port is no number from 1 to 65535")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 address keeps its brackets in an origin
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
