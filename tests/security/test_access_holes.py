"""Access holes attackers found (issue 7), each shown closed through the real API, with moto
for AWS and real SMTP servers on loopback that record what reaches them.

- An admin cannot redirect a stored SMTP password to a server of their choice.
- Pending mail follows revocation: the worker re-checks the sender's key and role.
- A message's record (recipients, bcc included) is for its own role and for admins only.
- A refused request, a 429 from the provider's limit included, uses up no allowance.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from core.delivery.message_record import MessageRecord, Status
from local_stack.apigateway import LocalLambdaContext
from tests.conftest import TABLE_NAMES
from tests.support.access import CreatedKey, create_key, create_role, send
from tests.support.api import ADMIN_KEY, ApiResponse, call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import LOOPBACK, CaptureServer
from tests.support.web_servers import WebServer, serve_file

pytestmark = pytest.mark.usefixtures("aws")

# The fixtures (smtp_server, send_queue, configure) are the integration layer's, shared
# through this folder's conftest.
StartServer = Callable[..., CaptureServer]
USER = "mailer"
PASSWORD = "pw-stored-Zq9!x7"
SENDER = "a@example.com"
MESSAGE = {"to": ["john@example.com"], "bcc": ["boss@example.com"], "body_text": "Hi"}


def _record(record_id: str, **options: Any) -> ApiResponse:
    return call_api("GET", f"/api/v2/email/messages/{record_id}", **options)


def _in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")


# --- 5: the stored password follows the server it was given for -------------------------------


def _service(server: CaptureServer, **config: Any) -> dict[str, Any]:
    return create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "username": USER,
            "password": PASSWORD,
            "from_email": SENDER,
            **config,
        }
    )


def _patch(config: dict[str, Any]) -> ApiResponse:
    return call_api("PATCH", "/api/v2/system/service/email", {"config": config})


def test_a_stored_password_cannot_be_sent_to_another_server(smtp_server: StartServer) -> None:
    server = smtp_server(credentials=(USER, PASSWORD))
    attacker = smtp_server()  # offers AUTH in clear text, and records who tries it
    before = _service(server)

    redirected = _patch({"port": attacker.port})
    sent = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert (redirected.status, redirected.reason) == (400, "password_required"), redirected.body
    assert "config.password" in redirected.body["error"]["message"]
    assert call_api("GET", "/api/v2/system/service/email").body == before
    assert sent.status == 200, sent.body
    assert server.only_message.auth_login == USER
    assert (attacker.sessions, attacker.auth_attempts, attacker.messages) == (0, [], [])


@pytest.mark.parametrize(
    ("stored", "patch"),
    [
        pytest.param({}, {"host": "localhost"}, id="host"),
        pytest.param({}, {"port": 2525}, id="port"),
        pytest.param({}, {"username": "someone-else"}, id="username"),
        pytest.param({}, {"username": None}, id="username-removed"),
        pytest.param({"encryption": "ssl"}, {"encryption": "none"}, id="ssl-to-none"),
        pytest.param({"encryption": "tls"}, {"encryption": "none"}, id="tls-to-none"),
        pytest.param({"encryption": "tls"}, {"encryption": ""}, id="tls-to-empty"),
        pytest.param({"encryption": "ssl"}, {"verify_tls": False}, id="verify-off"),
    ],
)
def test_redirecting_or_weakening_needs_the_password(
    smtp_server: StartServer, stored: dict[str, Any], patch: dict[str, Any]
) -> None:
    before = _service(smtp_server(), **stored)

    response = _patch({**patch, "from_name": "Billing"})

    assert (response.status, response.reason) == (400, "password_required"), response.body
    assert call_api("GET", "/api/v2/system/service/email").body == before


def test_with_the_password_the_service_may_move(smtp_server: StartServer) -> None:
    _service(smtp_server())
    moved_to = smtp_server(credentials=(USER, "new-password"))

    response = _patch({"port": moved_to.port, "password": "new-password"})
    sent = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert response.status == 200, response.body
    assert sent.status == 200, sent.body
    assert moved_to.only_message.auth_login == USER


def test_dropping_the_password_lets_the_service_move(smtp_server: StartServer) -> None:
    _service(smtp_server())
    moved_to = smtp_server()

    response = _patch({"port": moved_to.port, "username": None, "password": None})
    sent = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert response.status == 200, response.body
    assert sent.status == 200, sent.body
    assert moved_to.only_message.auth_login is None
    assert moved_to.auth_attempts == []


@pytest.mark.parametrize(
    ("stored", "patch"),
    [
        pytest.param({"encryption": "none"}, {"encryption": "tls"}, id="none-to-tls"),
        pytest.param({"encryption": "tls"}, {"encryption": "ssl"}, id="tls-to-ssl"),
        pytest.param({"encryption": "ssl"}, {"encryption": "tls"}, id="ssl-to-tls"),
        pytest.param({"verify_tls": False}, {"verify_tls": True}, id="verify-on"),
        pytest.param({}, {"from_email": "b@example.com", "max_send_rate": 5}, id="defaults"),
    ],
)
def test_strengthening_or_other_changes_need_no_password(
    smtp_server: StartServer, stored: dict[str, Any], patch: dict[str, Any]
) -> None:
    _service(smtp_server(), **stored)

    response = _patch(patch)

    assert response.status == 200, response.body
    assert {name: response.body["config"][name] for name in patch} == patch


def test_a_service_without_a_password_may_move_freely(smtp_server: StartServer) -> None:
    create_service({"host": LOOPBACK, "port": smtp_server().port, "encryption": "tls"})

    response = _patch({"host": "localhost", "encryption": "none"})

    assert response.status == 200, response.body


# --- 6: pending mail follows revocation -------------------------------------------------------


@pytest.fixture
def server(smtp_server: StartServer) -> CaptureServer:
    server = smtp_server()
    create_service({"host": LOOPBACK, "port": server.port, "encryption": "none"})
    return server


def _app_key(**role: Any) -> CreatedKey:
    create_role("app", **{"services": ["email"], "senders": [SENDER], **role})
    return create_key("app")


def _queue(key: str, **body: Any) -> str:
    answer = call_api(
        "POST",
        "/api/v2/email",
        {**MESSAGE, "from_email": SENDER, **body},
        api_key=key,
        query="async=true",
    )
    assert answer.status == 202, answer.body
    record_id: str = answer.body["id"]
    return record_id


def _settled(record_id: str) -> tuple[str, str | None]:
    record = _record(record_id).body
    return record["status"], record.get("reason")


REVOCATIONS: dict[str, Callable[[CreatedKey], ApiResponse]] = {
    "key-revoked": lambda key: call_api("DELETE", f"/api/v2/system/api_key/{key.id}"),
    "key-disabled": lambda key: call_api(
        "PATCH", f"/api/v2/system/api_key/{key.id}", {"enabled": False}
    ),
}


@pytest.mark.parametrize("revoke", REVOCATIONS.values(), ids=REVOCATIONS.keys())
def test_a_queued_message_of_a_revoked_key_is_not_sent(
    server: CaptureServer, send_queue: SendQueue, revoke: Callable[[CreatedKey], ApiResponse]
) -> None:
    key = _app_key()
    record_id = _queue(key.token)
    assert revoke(key).status == 200

    run = send_queue.run_worker()

    assert run.failed == set()
    assert _settled(record_id) == ("cancelled", "key_revoked")
    assert server.sessions == 0
    assert send_queue.waiting() == 0


def test_a_queued_message_of_a_key_whose_role_vanished_is_not_sent(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    key = _app_key()
    record_id = _queue(key.token)
    # The API refuses to delete a role in use; the table can still lose it (the console, say).
    boto3.resource("dynamodb").Table(TABLE_NAMES["RolesTable"]).delete_item(Key={"name": "app"})

    send_queue.run_worker()

    assert _settled(record_id) == ("cancelled", "key_revoked")
    assert server.sessions == 0


def test_a_scheduled_message_of_a_revoked_key_is_not_sent(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    key = _app_key()
    # Far enough ahead to be `scheduled` still when a busy machine has answered (a full CI
    # run saw 2 s pass first).
    send_at = (datetime.now(UTC) + timedelta(seconds=5)).isoformat(timespec="seconds")
    record_id = _queue(key.token, send_at=send_at)
    assert _settled(record_id) == ("scheduled", None)
    call_api("DELETE", f"/api/v2/system/api_key/{key.id}")

    give_up = time.monotonic() + 15
    while _settled(record_id)[0] == "scheduled" and time.monotonic() < give_up:
        send_queue.run_worker()  # until its time comes
        time.sleep(0.2)

    assert _settled(record_id) == ("cancelled", "key_revoked")
    assert server.sessions == 0


def test_a_revoked_keys_staged_request_is_discarded(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    key = _app_key()
    big = base64.b64encode(b"x" * 210 * 1024).decode()
    record_id = _queue(
        key.token, attachments=[{"name": "a.bin", "content": big, "content_type": "x/y"}]
    )
    assert len(send_queue.staged()) == 1
    call_api("DELETE", f"/api/v2/system/api_key/{key.id}")

    send_queue.run_worker()

    assert _settled(record_id) == ("cancelled", "key_revoked")
    assert send_queue.staged() == []
    assert server.sessions == 0


TIGHTENINGS = {
    "service-removed": {"services": ["bulk"]},
    "sender-removed": {"senders": ["b@example.com"]},
    "fewer-recipients": {"max_recipients": 1},
}


@pytest.mark.parametrize("tightening", TIGHTENINGS.values(), ids=TIGHTENINGS.keys())
def test_a_queued_message_its_role_now_forbids_is_not_sent(
    server: CaptureServer, send_queue: SendQueue, tightening: dict[str, Any]
) -> None:
    key = _app_key()
    record_id = _queue(key.token)
    assert call_api("PATCH", "/api/v2/system/role/app", tightening).status == 200

    send_queue.run_worker()

    assert _settled(record_id) == ("cancelled", "role_forbids")
    assert server.sessions == 0


def test_a_queued_message_its_role_still_allows_is_sent(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    key = _app_key()
    record_id = _queue(key.token)
    call_api("PATCH", "/api/v2/system/role/app", {"senders": [SENDER, "b@example.com"]})

    send_queue.run_worker()

    assert _settled(record_id) == ("sent", None)
    assert server.only_message.mail_from == SENDER


def test_the_bootstrap_keys_queued_message_is_sent(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    record_id = _queue(ADMIN_KEY)

    send_queue.run_worker()

    assert _settled(record_id) == ("sent", None)
    assert len(server.messages) == 1


def _invoke_async(**message: Any) -> dict[str, Any]:
    from handlers import invoke  # imported late: the handler reads settings on first use

    event = {"service": "email", "async": True, "message": {**MESSAGE, **message}}
    result: dict[str, Any] = invoke.lambda_handler(
        event, LocalLambdaContext(timeout_seconds=10).typed()
    )
    assert result.get("status") == "queued", result
    return result


@pytest.mark.parametrize(
    ("tightening", "outcome"),
    [
        pytest.param(None, ("sent", None), id="unchanged"),
        pytest.param({"senders": ["b@example.com"]}, ("cancelled", "role_forbids"), id="tightened"),
    ],
)
def test_a_direct_invocations_queued_message_follows_the_invoke_role(
    server: CaptureServer,
    send_queue: SendQueue,
    configure: Callable[..., None],
    tightening: dict[str, Any] | None,
    outcome: tuple[str, str | None],
) -> None:
    create_role("worker", services=["email"], senders=[SENDER])
    configure(INVOKE_ROLE="worker")
    queued = _invoke_async(from_email=SENDER)
    if tightening is not None:
        call_api("PATCH", "/api/v2/system/role/worker", tightening)

    send_queue.run_worker()

    assert _settled(queued["id"]) == outcome
    assert server.sessions == (1 if outcome[0] == "sent" else 0)


# --- 7: a message's record is for its own role ------------------------------------------------


def test_another_role_cannot_read_or_cancel_a_message(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    owner = _app_key()
    create_role("other", services=["email"], senders=[SENDER])
    other = create_key("other").token
    record_id = _queue(owner.token, send_at=_in_an_hour())

    read = _record(record_id, api_key=other)
    cancel = call_api("DELETE", f"/api/v2/email/messages/{record_id}", api_key=other)
    unknown = _record("0" * 32, api_key=other)

    # Just as if it did not exist: the same answer as an unknown id, and no recipients.
    answers = [(answer.status, answer.reason) for answer in (read, cancel, unknown)]
    assert answers == [(404, "message_not_found")] * 3
    assert "boss@example.com" not in json.dumps([read.body, cancel.body])
    assert _record(record_id).body["status"] == "scheduled"


def test_the_sending_role_and_admins_can_read_and_cancel(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    owner = _app_key()
    same_role = create_key("app").token
    create_role("ops", admin=True)  # an admin role need not be allowed on the service
    admin = create_key("ops").token
    record_id = _queue(owner.token, send_at=_in_an_hour())

    answers = [_record(record_id, api_key=key) for key in (owner.token, same_role, admin)]
    cancelled = call_api("DELETE", f"/api/v2/email/messages/{record_id}", api_key=same_role)

    assert [answer.status for answer in answers] == [200, 200, 200], answers
    assert answers[0].body["recipients"] == ["john@example.com", "boss@example.com"]
    assert answers[0].body["role"] == "app"
    assert (cancelled.status, cancelled.body["status"]) == (200, "cancelled")


def test_a_record_without_a_role_is_for_admins_only(server: CaptureServer) -> None:
    owner = _app_key()
    record = MessageRecord(
        id="1" * 32, service="email", key_id=owner.id, message_id="<m@x>", status=Status.SENT
    )
    item = record.model_dump(mode="json", exclude_none=True)
    item.pop("role", None)  # as written before records named their role
    boto3.resource("dynamodb").Table(TABLE_NAMES["MessagesTable"]).put_item(Item=item)

    assert _record(record.id, api_key=owner.token).reason == "message_not_found"
    assert _record(record.id).status == 200


# --- 12a: refusals use up no allowance --------------------------------------------------------


def _limited_service(server: CaptureServer, **limits: int) -> None:
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": SENDER,
            **limits,
        }
    )


def test_a_daily_quota_refusal_leaves_the_roles_allowance(smtp_server: StartServer) -> None:
    server = smtp_server()
    _limited_service(server, daily_quota=1)
    key = _app_key(rate_limits={"per_minute": 2}).token
    # All three sends must fall in one minute of the role's window.
    while time.time() % 60 > 50:
        time.sleep(0.05)

    first = send(key, from_email=SENDER)
    refused = send(key, from_email=SENDER)
    _patch({"daily_quota": 5})
    second = send(key, from_email=SENDER)

    assert (first.status, first.headers["X-RateLimit-Remaining"]) == (200, "1")
    assert (refused.status, refused.reason) == (429, "rate_limited")
    assert (second.status, second.headers.get("X-RateLimit-Remaining")) == (200, "0"), second.body
    assert len(server.messages) == 2


def test_a_send_rate_refusal_leaves_the_roles_allowance(smtp_server: StartServer) -> None:
    server = smtp_server()
    _limited_service(server, max_send_rate=1)
    key = _app_key(rate_limits={"per_minute": 2}).token
    # All three sends must fall in one minute of the role's window.
    while time.time() % 60 > 50:
        time.sleep(0.05)

    first = send(key, from_email=SENDER)
    refused = send(key, from_email=SENDER)
    time.sleep(int(refused.headers["Retry-After"]))
    second = send(key, from_email=SENDER)

    assert (first.status, refused.status, refused.reason) == (200, 429, "rate_limited")
    assert (second.status, second.headers.get("X-RateLimit-Remaining")) == (200, "0"), second.body
    assert len(server.messages) == 2


def test_a_cancelled_queued_message_leaves_the_providers_allowance(
    smtp_server: StartServer, send_queue: SendQueue
) -> None:
    server = smtp_server()
    _limited_service(server, daily_quota=1)
    key = _app_key()
    record_id = _queue(key.token)
    call_api("DELETE", f"/api/v2/system/api_key/{key.id}")

    send_queue.run_worker()
    after = call_api("POST", "/api/v2/email", {**MESSAGE, "from_email": SENDER})

    assert _settled(record_id) == ("cancelled", "key_revoked")
    assert after.status == 200, after.body
    assert len(server.messages) == 1


# --- issue 16, 6: the checks that refuse a request come before the work it asks for ---------


@pytest.fixture
def web(configure: Callable[..., None]) -> Iterator[WebServer]:
    """A plain HTTP file server on loopback that the operator's settings let fetches reach
    (as the SSRF tests allow it); it records every request that arrives."""
    configure(
        ATTACHMENT_FETCH_ALLOW_LOOPBACK="true",
        ATTACHMENT_FETCH_ALLOW_HTTP="true",
        ATTACHMENT_FETCH_TIMEOUT_SECONDS="3",
    )
    with WebServer() as web:
        web.routes["/internal/report.pdf"] = serve_file(b"%PDF internal", "application/pdf")
        yield web


# The same request three ways: each must be refused before anything is fetched.
WAYS = {"send": "", "queue": "async=true", "preview": "preview=true"}


@pytest.mark.parametrize("query", WAYS.values(), ids=WAYS.keys())
def test_a_sender_the_role_refuses_fetches_nothing(
    server: CaptureServer, web: WebServer, query: str
) -> None:
    """The role's sender rule refused the request only after its URL attachment was fetched:
    a refused key could still make the function reach an internal address. Now the sender is
    judged before any fetch, and the answer is the same whether the host resolves or not."""
    key = _app_key().token
    body = {**MESSAGE, "from_email": "ceo@example.com"}

    reachable = call_api(
        "POST",
        "/api/v2/email",
        {**body, "attachment": web.url("/internal/report.pdf")},
        api_key=key,
        query=query,
    )
    unresolvable = call_api(
        "POST",
        "/api/v2/email",
        {**body, "attachment": "http://no-such-host.invalid/report.pdf"},
        api_key=key,
        query=query,
    )

    assert (reachable.status, reachable.reason) == (403, "sender_forbidden"), reachable.body
    assert reachable.body == unresolvable.body
    assert web.arrivals == []
    assert server.sessions == 0


def test_a_template_sender_the_role_refuses_fetches_nothing(
    server: CaptureServer, web: WebServer
) -> None:
    """The sender a template brings is judged before the files the request names are fetched."""
    template = {"name": "memo", "body_text": "Hi", "from_email": "ceo@example.com"}
    assert call_api("POST", "/api/v2/system/email_template", template).status == 201
    key = _app_key().token

    answer = call_api(
        "POST",
        "/api/v2/email",
        {
            "template": "memo",
            "to": "john@example.com",
            "import_url": web.url("/internal/report.pdf"),
        },
        api_key=key,
    )

    assert (answer.status, answer.reason) == (403, "sender_forbidden"), answer.body
    assert web.arrivals == []


@pytest.mark.parametrize("query", WAYS.values(), ids=WAYS.keys())
def test_a_rate_limited_key_fetches_nothing(
    server: CaptureServer, web: WebServer, query: str
) -> None:
    """The role's allowance was taken after the fetch: a key out of it still made the function
    fetch, as often as it liked. Now the allowance comes first."""
    key = _app_key(rate_limits={"per_minute": 1}).token
    while time.time() % 60 > 50:  # both requests in one minute of the role's window
        time.sleep(0.05)
    assert send(key, from_email=SENDER).status == 200

    answer = call_api(
        "POST",
        "/api/v2/email",
        {**MESSAGE, "from_email": SENDER, "attachment": web.url("/internal/report.pdf")},
        api_key=key,
        query=query,
    )

    assert (answer.status, answer.reason) == (429, "rate_limited"), answer.body
    assert web.arrivals == []
    assert len(server.messages) == 1


def test_a_failed_fetch_counts_against_the_roles_allowance(
    server: CaptureServer, web: WebServer
) -> None:
    """Work done counts: a request whose fetch fails after its allowance was taken keeps it
    used (else a key could make the function fetch without limit), but the provider's limit
    is given back, since nothing went to it."""
    key = _app_key(rate_limits={"per_minute": 2}).token
    while time.time() % 60 > 50:
        time.sleep(0.05)

    failed = send(key, from_email=SENDER, attachment=web.url("/missing.pdf"))
    sent = send(key, from_email=SENDER)

    assert (failed.status, failed.reason) == (400, "attachment_fetch_failed"), failed.body
    assert (sent.status, sent.headers.get("X-RateLimit-Remaining")) == (200, "0"), sent.body
    assert [arrival.target for arrival in web.arrivals] == ["/missing.pdf"]


# --- issue 16, 5: a key limited to templates sends only what they say -----------------------

WELCOME = {
    "name": "welcome",
    "to": "team@example.com",
    "subject": "Welcome, {first_name}",
    "body_text": "Hello {first_name}",
    "from_name": "Welcome Desk",
    "from_email": SENDER,
}
OTHER = {"name": "other", "subject": "Other", "body_text": "Other", "from_email": SENDER}


@pytest.fixture
def templates(server: CaptureServer) -> dict[str, int]:
    """The templates `welcome` and `other`, by name: their ids."""
    ids: dict[str, int] = {}
    for template in (WELCOME, OTHER):
        created = call_api("POST", "/api/v2/system/email_template", template)
        assert created.status == 201, created.body
        ids[template["name"]] = created.body["id"]
    return ids


def _locked_key(*names: str) -> str:
    return _app_key(templates=list(names) or ["welcome"]).token


def _send_locked(key: str, *, query: str = "", **body: Any) -> ApiResponse:
    return call_api(
        "POST", "/api/v2/email", {"template": "welcome", **body}, api_key=key, query=query
    )


INLINE = [{"name": "x.txt", "content": "eA==", "content_type": "text/plain"}]
CONTENT_AND_IDENTITY = {
    "subject-blank": ("subject", ""),
    "body_text-blank": ("body_text", ""),
    "body_html": ("body_html", "<p>win</p>"),
    "body_html-null": ("body_html", None),
    "from_name": ("from_name", "Your Bank"),
    "from_name-blank": ("from_name", ""),
    "from_email": ("from_email", SENDER),
    "reply_to_name": ("reply_to_name", "Support"),
    "reply_to_email": ("reply_to_email", "help@example.com"),
    "reply_to_email-null": ("reply_to_email", None),
    "attachments": ("attachments", INLINE),
    "attachments-empty": ("attachments", []),
    "attachment": ("attachment", "https://files.example/x.pdf"),
    "import_url": ("import_url", "https://files.example/x.pdf"),
}


@pytest.mark.parametrize("query", WAYS.values(), ids=WAYS.keys())
@pytest.mark.parametrize(
    ("field", "value"), CONTENT_AND_IDENTITY.values(), ids=CONTENT_AND_IDENTITY.keys()
)
@pytest.mark.usefixtures("send_queue")
def test_a_template_locked_key_cannot_change_what_the_mail_says_or_who_sends_it(
    server: CaptureServer, templates: dict[str, int], field: str, value: Any, query: str
) -> None:
    """The lock tested truthiness and three fields: `"subject": ""` blanked the subject, and the
    sender's name, the reply-to and attachments (inline or by URL) could be set. Any field
    that changes the content or identity of the mail, present at all, is a 403 naming it."""
    key = _locked_key()

    answer = _send_locked(key, query=query, to="john@example.com", **{field: value})

    assert (answer.status, answer.reason) == (403, "template_content_locked"), answer.body
    assert answer.body["error"]["context"] == {"fields": [field]}
    assert f"'{field}'" in answer.body["error"]["message"]
    assert server.sessions == 0


def test_a_template_locked_key_gives_recipients_and_values(
    server: CaptureServer, templates: dict[str, int]
) -> None:
    """What the lock leaves a key: recipients, `template_data` and other top-level values."""
    key = _locked_key()

    answer = _send_locked(
        key,
        to="john@example.com",
        cc=["jane@example.com"],
        bcc="audit@example.com",
        first_name="John",
        template_data={"unused": "x"},
    )

    assert answer.status == 200, answer.body
    received = server.only_message
    # The request's recipients replace the template's, as any field the request gives.
    assert received.rcpt_tos == ["john@example.com", "jane@example.com", "audit@example.com"]
    assert received.parsed()["Subject"] == "Welcome, John"


def _without(answer: ApiResponse, name: str) -> str:
    return json.dumps(answer.body).replace(name, "NAME")


@pytest.mark.parametrize("path", ["/api/v2/email", "/api/v2/email/preview"])
def test_a_forbidden_and_a_missing_template_answer_alike(
    server: CaptureServer, templates: dict[str, int], path: str
) -> None:
    """A locked key told 403 for a template it may not use and 404 for one that does not
    exist: it could list every template's name. Both are now the same 403."""
    key = _locked_key()
    body = {"to": "john@example.com"}

    forbidden = call_api("POST", path, {**body, "template": "other"}, api_key=key)
    missing = call_api("POST", path, {**body, "template": "nothing"}, api_key=key)
    forbidden_id = call_api("POST", path, {**body, "template_id": templates["other"]}, api_key=key)
    missing_id = call_api("POST", path, {**body, "template_id": 99_999}, api_key=key)

    assert (forbidden.status, forbidden.reason) == (403, "template_forbidden"), forbidden.body
    assert _without(forbidden, "other") == _without(missing, "nothing")
    assert (forbidden_id.status, forbidden_id.reason) == (403, "template_forbidden")
    assert _without(forbidden_id, str(templates["other"])) == _without(missing_id, "99999")
    assert server.sessions == 0


def test_a_queued_message_its_template_lock_now_forbids_is_not_sent(
    server: CaptureServer, templates: dict[str, int], send_queue: SendQueue
) -> None:
    """Queued mail was checked again for revocation, services and senders, not for the lock:
    a key moved off a template still had its queued mail sent. The job now carries its
    template, and the worker checks it against the role as it is."""
    key = _locked_key("welcome", "other")
    answer = _send_locked(key, query="async=true", to="john@example.com")
    assert answer.status == 202, answer.body
    assert call_api("PATCH", "/api/v2/system/role/app", {"templates": ["other"]}).status == 200

    send_queue.run_worker()

    assert _settled(answer.body["id"]) == ("cancelled", "role_forbids")
    assert server.sessions == 0


def test_a_queued_free_text_message_of_a_role_since_locked_is_not_sent(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    key = _app_key()
    record_id = _queue(key.token)
    assert call_api("PATCH", "/api/v2/system/role/app", {"templates": ["*"]}).status == 200

    send_queue.run_worker()

    assert _settled(record_id) == ("cancelled", "role_forbids")
    assert server.sessions == 0


def test_a_queued_message_its_template_lock_still_allows_is_sent(
    server: CaptureServer, templates: dict[str, int], send_queue: SendQueue
) -> None:
    key = _locked_key()
    answer = _send_locked(key, query="async=true", to="john@example.com", first_name="Ann")
    assert answer.status == 202, answer.body
    assert (
        call_api("PATCH", "/api/v2/system/role/app", {"templates": ["welcome", "x"]}).status == 200
    )

    send_queue.run_worker()

    assert _settled(answer.body["id"]) == ("sent", None)
    assert server.only_message.parsed()["Subject"] == "Welcome, Ann"


def test_a_scheduled_message_its_template_lock_now_forbids_is_not_sent(
    server: CaptureServer, templates: dict[str, int], send_queue: SendQueue
) -> None:
    key = _locked_key()
    send_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds")
    answer = _send_locked(key, to="john@example.com", send_at=send_at)
    assert answer.status == 202, answer.body
    record_id = answer.body["id"]
    assert call_api("PATCH", "/api/v2/system/role/app", {"templates": ["other"]}).status == 200

    give_up = time.monotonic() + 10
    while _settled(record_id)[0] == "scheduled" and time.monotonic() < give_up:
        send_queue.run_worker()  # until its time comes
        time.sleep(0.2)

    assert _settled(record_id) == ("cancelled", "role_forbids")
    assert server.sessions == 0
