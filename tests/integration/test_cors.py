"""CORS for browser apps, behind API Gateway as deployed: preflights, answers, refusals.

DreamFactory answers CORS for the origins its administrator lists in `cors_config` (df-core
`database/migrations/2015_01_27_190908_create_system_tables.php` lines 164-181: `path`,
`origin`, `header`, `method`, `max_age`; `2016_10_12_175601_upgrade_cors.php` lines 15-19 add
`exposed_header` and `supports_credentials`). `src/Providers/CorsServiceProvider.php` lines
59-92 splits an entry's `origin` on commas for the request's best-matching path, and with no
entry (`config/df.php` lines 79-88: no origins, no credentials by default) adds no CORS header
at all. `src/Services/DfCorsService.php` lines 21-33 answers a preflight 204. Here the origins
are one deployment setting (CORS_ALLOWED_ORIGINS) for every path.

Each test starts the API function cold with the setting it names, as a new deployment would.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core import runtime
from core.settings import get_settings
from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

APP = "https://app.example.com"
OTHER_APP = "http://localhost:8080"
STRANGER = "https://evil.example.net"
SETTING = "CORS_ALLOWED_ORIGINS"


def _cold_start() -> None:
    """The API function as a new container starts it: settings read again, resolver rebuilt."""
    from handlers import api

    get_settings.cache_clear()
    runtime.reset()
    importlib.reload(api)


@pytest.fixture
def allow_origins() -> Iterator[Callable[[str], None]]:
    """Deploy with CORS_ALLOWED_ORIGINS set to the value given; undone afterwards."""

    def allow(value: str) -> None:
        os.environ[SETTING] = value
        _cold_start()

    yield allow
    os.environ.pop(SETTING, None)
    _cold_start()


def _preflight(path: str, origin: str, method: str = "POST") -> ApiResponse:
    """What a browser sends before a call with a key header: no key, no body."""
    return call_api(
        "OPTIONS",
        path,
        api_key=None,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type,x-dreamfactory-api-key",
        },
    )


def _send(server: CaptureServer, origin: str, **options: Any) -> ApiResponse:
    create_plain_service(server.port)
    return call_api(
        "POST",
        "/api/v2/email",
        {"to": "ann@example.com", "subject": "From the page", "body_text": "Hello."},
        headers={"Origin": origin},
        **options,
    )


def _comma_list(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


def test_without_the_setting_a_preflight_is_refused_and_no_answer_names_an_origin(
    smtp_server: Callable[..., CaptureServer],
) -> None:
    preflight = _preflight("/api/v2/email", APP)
    sent = _send(smtp_server(), APP)

    assert preflight.status == 401
    assert sent.status == 200, sent.body
    for answer in (preflight, sent):
        assert not any(name.lower().startswith("access-control-") for name in answer.headers)
        assert "Vary" not in answer.headers


@pytest.mark.parametrize("path", ["/api/v2/email", "/api/v2/system/service/email"])
def test_a_listed_origins_preflight_is_answered_without_a_key(
    allow_origins: Callable[[str], None], path: str
) -> None:
    allow_origins(f"{APP},{OTHER_APP}")

    answer = _preflight(path, OTHER_APP, method="PATCH")

    assert answer.status == 204
    assert answer.body is None
    assert answer.headers["Access-Control-Allow-Origin"] == OTHER_APP
    assert answer.headers["Vary"] == "Origin"
    assert {"post", "get", "patch", "delete"} <= _comma_list(
        answer.headers["Access-Control-Allow-Methods"]
    )
    assert {
        "content-type",
        "x-dreamfactory-api-key",
        "x-api-key",
        "idempotency-key",
        "x-http-method-override",
    } <= _comma_list(answer.headers["Access-Control-Allow-Headers"])
    assert answer.headers["Access-Control-Max-Age"] == "600"
    # No cookie is read: a page's credentials are never invited along.
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_an_unlisted_origins_preflight_is_refused_naming_no_origin(
    allow_origins: Callable[[str], None],
) -> None:
    allow_origins(APP)

    answer = _preflight("/api/v2/email", STRANGER)

    assert answer.status == 401
    assert answer.reason == "unauthorized"
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_a_listed_origins_send_is_delivered_and_its_answer_names_the_origin(
    allow_origins: Callable[[str], None], smtp_server: Callable[..., CaptureServer]
) -> None:
    """An app key (not the admin's), as a browser app sends it."""
    allow_origins(f"{APP},{OTHER_APP}")
    server = smtp_server()
    create_role("web", services=["email"], senders=["*"])

    answer = _send(server, APP, api_key=create_key("web").token)

    assert answer.status == 200, answer.body
    assert server.only_message.rcpt_tos == ["ann@example.com"]
    assert answer.headers["Access-Control-Allow-Origin"] == APP
    assert answer.headers["Vary"] == "Origin"
    assert "retry-after" in _comma_list(answer.headers["Access-Control-Expose-Headers"])
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_an_unlisted_origins_call_is_answered_but_names_no_origin(
    allow_origins: Callable[[str], None], smtp_server: Callable[..., CaptureServer]
) -> None:
    """A page cannot read it (its browser sees no Allow-Origin); a server-side client, which
    sends what Origin it likes, was never stopped by CORS anyway: the key is the guard."""
    allow_origins(APP)

    answer = _send(smtp_server(), STRANGER)

    assert answer.status == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize("via_authorizer", [True, False])
def test_the_functions_errors_name_a_listed_origin_too(
    allow_origins: Callable[[str], None], via_authorizer: bool
) -> None:
    """A 400 from the function, and its own 401 when it checks the key itself (sam local
    invoke); behind API Gateway a POST without a key reaches it too (DreamFactory's body key)."""
    allow_origins(f"{APP},{OTHER_APP}")

    invalid = call_api("POST", "/api/v2/email", {"to": "nobody"}, headers={"Origin": APP})
    no_key = call_api(
        "POST",
        "/api/v2/email",
        {"to": "ann@example.com"},
        api_key=None,
        headers={"Origin": APP},
        via_authorizer=via_authorizer,
    )

    assert invalid.status == 400
    assert no_key.status == 401
    for answer in (invalid, no_key):
        assert answer.headers["Access-Control-Allow-Origin"] == APP
        assert answer.headers["Vary"] == "Origin"


def test_any_origin_is_an_explicit_choice_and_never_with_credentials(
    allow_origins: Callable[[str], None],
) -> None:
    allow_origins("*")

    preflight = _preflight("/api/v2/email", STRANGER)
    answer = call_api("GET", "/api/v2/system/service", headers={"Origin": STRANGER})

    assert preflight.status == 204
    for each in (preflight, answer):
        assert each.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in each.headers
        assert "Vary" not in each.headers


def test_a_plain_options_request_still_needs_a_key(allow_origins: Callable[[str], None]) -> None:
    """No Origin, or no Access-Control-Request-Method: not a preflight, so no exception."""
    allow_origins(APP)

    no_origin = call_api("OPTIONS", "/api/v2/email", api_key=None)
    not_preflight = call_api("OPTIONS", "/api/v2/email", api_key=None, headers={"Origin": APP})

    assert no_origin.status == not_preflight.status == 401
