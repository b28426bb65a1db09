"""CORS for browser apps: which pages may call the API, and what their browser may send and read.

DreamFactory answers CORS for the origins its administrator lists (df-core's `cors_config`
table); here they are a deployment setting (`core.browser_origins`), and with none listed the
resolver gets no CORS at all: no CORS header on any answer, and a preflight is just an
unauthenticated OPTIONS request, refused (401).

Powertools' `CORSConfig` does the work: an answer to a listed `Origin` carries
`Access-Control-Allow-Origin: <that origin>` (errors too: they are routed answers), and an
OPTIONS request matching no route is its preflight answer, 204 with the allowed methods. A
preflight carries no API key, so `authenticate` lets one from a listed origin through; one from
any other origin is no exception and meets the 401. Credentials are never allowed: the API
reads no cookie, and a key travels in a header the page sets itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_lambda_powertools.event_handler import CORSConfig
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from core.browser_origins import ANY_ORIGIN

# What DreamFactory clients send beyond CORS's safelisted headers (Powertools adds
# Authorization, Content-Type, X-Amz-Date, X-Api-Key and X-Amz-Security-Token): the key's
# header, the session token DreamFactory's own clients send along (read by nobody here, but a
# header the preflight does not allow fails the call), the send's own headers, and the verb
# override of a POST.
ALLOWED_HEADERS = [
    "X-DreamFactory-API-Key",
    "X-DreamFactory-Session-Token",
    "Idempotency-Key",
    "Prefer",
    "X-HTTP-Method",
    "X-HTTP-Method-Override",
]
# Headers a page's script may read besides the safelisted ones: when to come back after a 429
# and the quota left, the methods a 405 names.
EXPOSED_HEADERS = [
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Allow",
]
# How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours, Firefox at
# 24); DreamFactory's default of 0 would cost a preflight before every call.
PREFLIGHT_MAX_AGE_SECONDS = 600


class OriginAllowList(CORSConfig):
    """Powertools' CORS, plus `Vary: Origin` wherever the answer names the caller's origin, so
    that no cache hands one origin's answer to another."""

    def to_dict(self, origin: str | None) -> dict[str, str]:
        headers = super().to_dict(origin)
        if headers and origin != ANY_ORIGIN:
            headers["Vary"] = "Origin"
        return headers


def cors_config(origins: Sequence[str]) -> OriginAllowList | None:
    """The resolver's CORS for the listed origins; None (no CORS) for none."""
    if not origins:
        return None
    first, *others = origins
    return OriginAllowList(
        allow_origin=first,
        extra_origins=others,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
        allow_credentials=False,
    )


def is_allowed_preflight(event: APIGatewayProxyEvent, cors: CORSConfig | None) -> bool:
    """Whether `event` is a CORS preflight (OPTIONS naming the method to come) from an origin
    `cors` allows: the one request a browser sends without the page's headers, key included."""
    if cors is None or event.http_method.upper() != "OPTIONS":
        return False
    headers = _lower_case(event.headers)
    origin = headers.get("origin")
    if not origin or not headers.get("access-control-request-method"):
        return False
    return cors.allowed_origin(origin) is not None


def _lower_case(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {name.lower(): value for name, value in (headers or {}).items()}
