"""A webhook's receiving end in the tests: a web server on loopback answering `HOOK`, a
subscription through the admin API, and what the server received, each call's signature
checked as the docs tell a receiver to check it."""

from __future__ import annotations

import json
from typing import Any

from tests.support.api import call_api
from tests.support.web_servers import WebServer
from tests.support.webhook_signature import verify

HOOK = "/hook"


def subscribe(url: str, events: list[str], **fields: Any) -> dict[str, Any]:
    """A webhook calling `url` on `events`, created through the admin API (its `secret` shown
    this once)."""
    created = call_api("POST", "/api/v2/system/webhook", {"url": url, "events": events, **fields})
    assert created.status == 201, created.body
    webhook: dict[str, Any] = created.body
    return webhook


def received(endpoint: WebServer, secret: str) -> list[tuple[str, str, str | None]]:
    """(type, message_id, recipient) of each call, in order; every one signed with `secret`."""
    for arrival in endpoint.arrivals:
        assert verify(secret, arrival.headers, arrival.body), arrival.headers
    payloads = [json.loads(arrival.body) for arrival in endpoint.arrivals]
    return [(p["type"], p["message_id"], p.get("recipient")) for p in payloads]
