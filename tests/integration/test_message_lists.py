"""Finding messages through the API, in moto's DynamoDB with the template's indexes:
`GET /api/v2/{service}/messages` (a key sees its role's messages, an admin every one),
`GET /api/v2/system/message` across services and `/api/v2/system/message/{id}` (admins),
page after page, each filter, the cursor's checks; every list a Query, never a Scan."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from core.storage import dynamodb
from tests.support.access import CreatedKey, create_key, create_role, send
from tests.support.api import ADMIN_KEY, call_api, create_plain_service, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")


class Mail:
    """Messages sent by two roles through two services, in order (oldest first)."""

    def __init__(self, server: CaptureServer) -> None:
        create_plain_service(server.port)
        create_service(
            {
                "host": "127.0.0.1",
                "port": server.port,
                "encryption": "none",
                "from_email": "noreply@example.com",
            },
            name="bulk",
        )
        create_role("billing", services=["email", "bulk"])
        create_role("support", services=["email", "bulk"])
        self.keys: dict[str, CreatedKey] = {
            "billing": create_key("billing"),
            "support": create_key("support"),
        }
        # (id, service, role, to, tags)
        self.sent: list[tuple[str, str, str, str, list[str]]] = []

    def send(self, role: str, service: str, to: str, tags: list[str], **body: Any) -> str:
        token = self.keys[role].token if role != "admin" else ADMIN_KEY
        answer = send(token, service, to=to, tags=tags, **body)
        assert answer.status in (200, 202), answer.body
        self.sent.append((answer.body["id"], service, role, to, tags))
        return str(answer.body["id"])

    def ids(self, keep: Any = lambda *_: True) -> list[str]:
        """The ids of what was sent that `keep` (id, service, role, to, tags) keeps, newest
        first."""
        return [entry[0] for entry in reversed(self.sent) if keep(*entry)]


@pytest.fixture
def mail(server_only: CaptureServer) -> Mail:
    mail = Mail(server_only)
    for number in range(12):
        role = ("billing", "support", "admin")[number % 3]
        service = "email" if number % 4 else "bulk"
        tags = ["invoice", f"n:{number}"] if number % 2 == 0 else ["reminder"]
        mail.send(role, service, f"user{number % 5}@example.com", tags)
    return mail


@pytest.fixture
def server_only(smtp_server: Any) -> CaptureServer:
    server: CaptureServer = smtp_server()
    return server


def _pages(path: str, *, api_key: str = ADMIN_KEY, **filters: Any) -> list[dict[str, Any]]:
    """Every page of a list, following `meta.next_cursor`."""
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**filters, **({"cursor": cursor} if cursor else {})}
        answer = call_api("GET", path, api_key=api_key, query=urlencode(query))
        assert answer.status == 200, answer.body
        pages.append(answer.body)
        cursor = answer.body["meta"]["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 30


def _ids(pages: list[dict[str, Any]]) -> list[str]:
    return [message["id"] for page in pages for message in page["resource"]]


def test_a_key_pages_through_its_own_roles_messages_only(mail: Mail) -> None:
    for role in ("billing", "support"):
        token = mail.keys[role].token
        pages = _pages("/api/v2/email/messages", api_key=token, limit=2)

        shown = [message for page in pages for message in page["resource"]]
        assert {message["role"] for message in shown} == {role}
        ours = ("email", role)
        assert _ids(pages) == mail.ids(lambda _, service, r, *__, ours=ours: (service, r) == ours)
        assert all(len(page["resource"]) <= 2 for page in pages)


def test_an_admin_sees_every_roles_messages_of_a_service(mail: Mail) -> None:
    pages = _pages("/api/v2/email/messages", limit=3)

    assert _ids(pages) == mail.ids(lambda _, service, *__: service == "email")
    first = pages[0]["resource"][0]
    # The same view as a single lookup gives.
    single = call_api("GET", f"/api/v2/email/messages/{first['id']}")
    assert first == single.body


def test_the_admin_list_spans_services_and_takes_a_service_filter(mail: Mail) -> None:
    everything = _pages("/api/v2/system/message", limit=5)
    assert _ids(everything) == mail.ids()

    bulk = _pages("/api/v2/system/message", limit=5, service="bulk")
    assert _ids(bulk) == mail.ids(lambda _, service, *__: service == "bulk")


def test_an_admin_finds_a_message_by_its_id_alone(mail: Mail) -> None:
    record_id, service, _, to, tags = mail.sent[3]
    found = call_api("GET", f"/api/v2/system/message/{record_id}")

    assert found.status == 200, found.body
    assert (found.body["id"], found.body["service"], found.body["recipients"]) == (
        record_id,
        service,
        [to],
    )
    assert found.body["tags"] == tags
    missing = call_api("GET", "/api/v2/system/message/0123456789abcdef0123456789abcdef")
    assert (missing.status, missing.reason) == (404, "message_not_found")


@pytest.mark.parametrize("path", ["/api/v2/system/message", "/api/v2/system/message/abc"])
def test_the_admin_routes_refuse_other_keys(mail: Mail, path: str) -> None:
    answer = call_api("GET", path, api_key=mail.keys["billing"].token)
    assert answer.status == 403, answer.body


def test_a_key_cannot_list_a_service_its_role_may_not_use(server_only: CaptureServer) -> None:
    create_plain_service(server_only.port)
    create_role("narrow", services=["bulk"])
    key = create_key("narrow")
    answer = call_api("GET", "/api/v2/email/messages", api_key=key.token)
    assert answer.status == 403, answer.body


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"tag": "invoice"}, lambda _, s, r, to, tags: "invoice" in tags),
        ({"tag": "n:4"}, lambda _, s, r, to, tags: "n:4" in tags),
        ({"recipient": "user2@EXAMPLE.COM"}, lambda _, s, r, to, tags: to == "user2@example.com"),
        ({"status": "sent"}, lambda *_: True),
        ({"status": "failed"}, lambda *_: False),
    ],
    ids=["tag", "one-tag", "recipient", "status-sent", "status-failed"],
)
def test_each_filter(mail: Mail, filters: dict[str, str], keep: Any) -> None:
    pages = _pages("/api/v2/system/message", limit=4, **filters)
    assert _ids(pages) == mail.ids(keep)


def test_since_and_until_bound_the_list(mail: Mail) -> None:
    now = datetime.now(UTC)
    later = _pages("/api/v2/system/message", since=(now + timedelta(minutes=1)).isoformat())
    earlier = _pages("/api/v2/system/message", until=(now - timedelta(days=1)).isoformat())
    around = _pages(
        "/api/v2/system/message",
        since=(now - timedelta(minutes=5)).isoformat(),
        until=(now + timedelta(minutes=1)).isoformat(),
    )

    assert (_ids(later), _ids(earlier), _ids(around)) == ([], [], mail.ids())


def test_queued_messages_are_listed_with_their_tags(
    server_only: CaptureServer, send_queue: SendQueue
) -> None:
    create_plain_service(server_only.port)
    queued = call_api(
        "POST",
        "/api/v2/email",
        {"to": "a@example.com", "body_text": "Hi", "tags": ["batch:7"]},
        query="async=true",
    )
    assert queued.status == 202, queued.body

    waiting = _pages("/api/v2/email/messages", status="queued", tag="batch:7")
    assert [(m["id"], m["tags"]) for m in waiting[0]["resource"]] == [
        (queued.body["id"], ["batch:7"])
    ]
    send_queue.drain()
    sent = _pages("/api/v2/email/messages", status="sent", tag="batch:7")
    assert _ids(sent) == [queued.body["id"]]


def _first_cursor(path: str, api_key: str = ADMIN_KEY) -> str:
    answer = call_api("GET", path, api_key=api_key, query="limit=1")
    assert answer.status == 200, answer.body
    cursor: str = answer.body["meta"]["next_cursor"]
    assert cursor
    return cursor


def test_a_cursor_from_another_role_or_list_is_refused(mail: Mail) -> None:
    billing = mail.keys["billing"].token
    cursor = _first_cursor("/api/v2/email/messages", billing)

    for path, key, extra in [
        ("/api/v2/email/messages", mail.keys["support"].token, {}),
        ("/api/v2/bulk/messages", billing, {}),
        ("/api/v2/email/messages", ADMIN_KEY, {}),
        ("/api/v2/email/messages", billing, {"tag": "invoice"}),
        ("/api/v2/system/message", ADMIN_KEY, {}),
    ]:
        answer = call_api("GET", path, api_key=key, query=urlencode({**extra, "cursor": cursor}))
        assert (answer.status, answer.reason) == (400, "invalid_cursor"), (path, answer.body)


def test_a_tampered_cursor_is_refused_before_any_read(mail: Mail) -> None:
    cursor = _first_cursor("/api/v2/email/messages", mail.keys["billing"].token)
    body = json.loads(base64.urlsafe_b64decode(cursor))
    forged = [
        base64.urlsafe_b64encode(json.dumps({**body, "p": "bulk"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({**body, "k": "9999#x"}).encode()).decode(),
        cursor[:-4],
        "%%%",
    ]
    for bad in forged:
        answer = call_api(
            "GET",
            "/api/v2/email/messages",
            api_key=mail.keys["billing"].token,
            query=urlencode({"cursor": bad}),
        )
        assert (answer.status, answer.reason) == (400, "invalid_cursor"), (bad, answer.body)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=ten",
        "status=lost",
        "since=yesterday",
        "tag=a%20b",
        # pydantic alone reads a number as seconds since 1970 (found by the fuzzer).
        "until=0.5",
        "since=1700000000",
    ],
)
def test_bad_parameters_are_a_400(mail: Mail, query: str) -> None:
    answer = call_api("GET", "/api/v2/email/messages", query=query)
    assert answer.status == 400, answer.body


def test_an_empty_service_filter_is_a_400_not_a_failed_query(mail: Mail) -> None:
    # Found by the fuzzer: an empty partition key made DynamoDB refuse the query (a 500).
    answer = call_api("GET", "/api/v2/system/message", query="service=")
    assert answer.status == 400, answer.body


def test_a_time_before_year_1000_lists_nothing_rather_than_failing(mail: Mail) -> None:
    query = urlencode({"until": "0018-01-01T01:00:15+01:00"})

    answer = call_api("GET", "/api/v2/system/message", query=query)

    assert (answer.status, answer.body["resource"]) == (200, []), answer.body


@pytest.fixture
def dynamodb_calls() -> Iterator[list[str]]:
    """The names of the DynamoDB operations the API's client makes."""
    calls: list[str] = []
    events = dynamodb().meta.client.meta.events

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events.register("before-call.dynamodb", record)
    yield calls
    events.unregister("before-call.dynamodb", record)


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("/api/v2/email/messages", {}),
        ("/api/v2/email/messages", {"status": "sent", "tag": "invoice", "recipient": "x@y.z"}),
        ("/api/v2/system/message", {}),
        ("/api/v2/system/message", {"service": "bulk", "tag": "reminder"}),
    ],
)
def test_no_list_scans_the_table(
    mail: Mail, dynamodb_calls: list[str], path: str, filters: dict[str, str]
) -> None:
    dynamodb_calls.clear()
    _pages(path, limit=2, **filters)
    listing = [call for call in dynamodb_calls if call in ("Query", "Scan")]
    assert listing
    assert set(listing) == {"Query"}


def test_a_dreamfactory_client_s_tags_text_is_a_placeholder_not_a_label(
    server_only: CaptureServer,
) -> None:
    create_plain_service(server_only.port)
    body = {
        "to": "john@example.com",
        "subject": "Hi",
        "body_text": "Sale: {tags}",
        "tags": "spring",
    }

    answer = call_api("POST", "/api/v2/email", body)

    assert answer.status == 200, answer.body
    assert b"Sale: spring" in server_only.only_message.data
    shown = call_api("GET", f"/api/v2/email/messages/{answer.body['id']}").body
    assert shown["tags"] == []
