"""DreamFactory clients listing system records through the local stack, as they send it.

DreamFactory's admin interface lists email templates with its `getAll` defaults
(df-admin-interface `src/app/shared/services/df-base-crud.service.ts` lines 15-24 and
195-225: `limit=50&offset=0&include_count=true`, Angular's encoding, its API key and session
token headers), searches them with `filter-queries.ts` line 21, and lists services sorted by
name with a `type in (...)` filter, then opens one with `related=service_doc_by_service_id`
(`src/app/adf-services/resolvers/services.resolver.ts` lines 66-88). A script asks
`?filter=name='x'` as curl sends it, unencoded, and takes the first record: it must be x.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.events import EVENTS_API_KEY
from tests.support.stack_process import RunningStack

TEMPLATES = "/api/v2/system/email_template"
SERVICES = "/api/v2/system/service"
# What the admin interface's Angular HttpClient puts on every `/api` request.
ADMIN_INTERFACE = {
    "Accept": "application/json, text/plain, */*",
    "X-DreamFactory-API-Key": EVENTS_API_KEY,
    "X-DreamFactory-Session-Token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
}
JSON = {"Content-Type": "application/json; charset=utf-8"}


def _create(stack: RunningStack, path: str, record: dict[str, Any]) -> dict[str, Any]:
    created = stack.request(
        "POST", path, body=json.dumps(record), headers={**ADMIN_INTERFACE, **JSON}
    )
    assert created.status == 201, created.body
    body: dict[str, Any] = created.body
    return body


def test_the_admin_interfaces_template_list_and_search(stack: RunningStack) -> None:
    made = [
        _create(stack, TEMPLATES, {"name": name, "description": about, "body_text": "Hi"})
        for name, about in (("dfq-welcome", "Sent on sign-up"), ("dfq-invoice", "Monthly"))
    ]

    listed = stack.request(
        "GET", TEMPLATES, headers=ADMIN_INTERFACE, query="limit=50&offset=0&include_count=true"
    )
    # The table's search box: `(name like "%invoice%") or (description like "%invoice%")`,
    # as Angular's HttpParams encodes it (spaces, quotes and % escaped; parentheses not).
    searched = stack.request(
        "GET",
        TEMPLATES,
        headers=ADMIN_INTERFACE,
        query="filter=(name%20like%20%22%25invoice%25%22)%20or%20(description%20like%20"
        "%22%25invoice%25%22)&limit=10&offset=0&include_count=true",
    )

    assert listed.status == 200, listed.body
    assert listed.headers["Content-Type"].startswith("application/json")
    assert [t for t in listed.body["resource"] if t["name"].startswith("dfq-")] == made
    assert listed.body["meta"] == {"count": len(listed.body["resource"])}
    assert searched.status == 200, searched.body
    assert [t["name"] for t in searched.body["resource"]] == ["dfq-invoice"]
    assert searched.body["meta"] == {"count": 1}


def test_a_scripts_filter_by_name_gets_that_template_first(stack: RunningStack) -> None:
    for name in ("dfq-a-first", "dfq-reset", "dfq-z-last"):
        _create(stack, TEMPLATES, {"name": name, "body_text": "Hi"})

    # curl "https://host/api/v2/system/email_template?filter=name='dfq-reset'" -H "X-Dre..."
    found = stack.request(
        "GET",
        TEMPLATES,
        headers={"X-DreamFactory-API-Key": EVENTS_API_KEY},
        query="filter=name='dfq-reset'",
    )
    counted = stack.request(
        "GET",
        TEMPLATES,
        headers={"X-DreamFactory-API-Key": EVENTS_API_KEY},
        query="filter=name%20like%20'dfq-%25'&count_only=true",
    )
    refused = stack.request(
        "GET",
        TEMPLATES,
        headers={"X-DreamFactory-API-Key": EVENTS_API_KEY},
        query="filter=name='dfq-reset'&group=name",
    )

    assert found.status == 200, found.body
    assert [t["name"] for t in found.body["resource"]] == ["dfq-reset"]
    assert counted.status == 200, counted.body
    assert counted.body >= 3
    assert refused.status == 400
    assert refused.body["error"]["reason"] == "unsupported_parameter"


def test_the_admin_interfaces_service_list_and_details(stack: RunningStack) -> None:
    config = {"host": "127.0.0.1", "port": 2525, "encryption": "none"}
    _create(stack, SERVICES, {"name": "dfq-mailer", "type": "smtp_email", "config": config})

    listed = stack.request(
        "GET",
        SERVICES,
        headers=ADMIN_INTERFACE,
        query="filter=(type%20in%20(%22local_email%22,%22smtp_email%22))"
        "&sort=name&offset=0&include_count=true",
    )
    opened = stack.request(
        "GET",
        f"{SERVICES}/dfq-mailer",
        headers=ADMIN_INTERFACE,
        query="related=service_doc_by_service_id",
    )

    assert listed.status == 200, listed.body
    names = [service["name"] for service in listed.body["resource"]]
    assert "dfq-mailer" in names
    assert names == sorted(names)
    assert {service["type"] for service in listed.body["resource"]} == {"smtp_email"}
    assert listed.body["meta"] == {"count": len(names)}
    assert opened.status == 200, opened.body
    assert opened.body["name"] == "dfq-mailer"
    assert opened.body["service_doc_by_service_id"] == []
