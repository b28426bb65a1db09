"""Webhooks end to end: subscriptions through the admin API (moto's DynamoDB and Secrets
Manager), message events fanned out onto the webhook queue (moto's SQS), and the sender
function calling a real HTTP server on loopback, whose received body and signature are
checked with the verification snippet of docs/events.md."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from core import runtime
from core.message_events.model import MessageEvent, MessageEventType
from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.smtp_servers import Authorities, ClosedPort
from tests.support.web_servers import WebServer, answer, redirect, stall
from tests.support.webhook_endpoint import HOOK, subscribe
from tests.support.webhook_queue import WebhookCalls
from tests.support.webhook_signature import verify

pytestmark = pytest.mark.usefixtures("aws")

PATH = "/api/v2/system/webhook"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def event(kind: MessageEventType, service: str = "email", **fields: Any) -> MessageEvent:
    return MessageEvent(type=kind, message_id="m-1", service=service, at=AT, **fields)


def _webhook_secrets() -> list[str]:
    listed = boto3.client("secretsmanager").list_secrets()["SecretList"]
    return [secret["Name"] for secret in listed if "/webhooks/" in secret["Name"]]


def deliveries(webhook_id: str, query: str = "") -> ApiResponse:
    return call_api("GET", f"{PATH}/{webhook_id}/deliveries", query=query)


# --- subscriptions ------------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_kept_in_secrets_manager_only(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    created = subscribe(webhook_endpoint.url(HOOK), ["delivered", "bounced"], description="CRM")
    secret = created["secret"]

    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert created["events"] == ["bounced", "delivered"]
    assert created["id"].startswith("wh_")
    assert created["created_at"]
    listed = call_api("GET", PATH)
    fetched = call_api("GET", f"{PATH}/{created['id']}")
    shown = {key: value for key, value in created.items() if key != "secret"}
    assert listed.body == {"resource": [shown]}
    assert fetched.body == shown
    assert secret not in json.dumps([listed.body, fetched.body])
    (item,) = boto3.resource("dynamodb").Table("email-api-webhooks").scan()["Items"]
    assert secret not in json.dumps(item, default=str)
    kept = boto3.client("secretsmanager").get_secret_value(SecretId=str(item["secret_id"]))
    assert kept["SecretString"] == secret


def test_deleting_a_webhook_removes_its_secret_and_its_calls_stop(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    created = subscribe(webhook_endpoint.url(HOOK), ["*"])
    runtime.message_events().publish([event(MessageEventType.SENT)])

    removed = call_api("DELETE", f"{PATH}/{created['id']}")
    webhook_calls.run_sender()

    assert (removed.status, removed.body) == (200, {"id": created["id"]})
    assert call_api("GET", f"{PATH}/{created['id']}").reason == "webhook_not_found"
    assert not _webhook_secrets()
    assert webhook_endpoint.arrivals == []  # the call queued before was dropped
    assert webhook_calls.waiting() == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "ftp://hooks.example.com/x", "events": ["sent"]}, "webhook_scheme_forbidden"),
        ({"url": "https://user:pw@hooks.example.com/", "events": ["sent"]}, "invalid_webhook_url"),
        ({"url": "https://hooks.example.com/", "events": ["opened"]}, "invalid_request"),
        ({"url": "https://hooks.example.com/", "events": []}, "invalid_request"),
        ({"url": "https://hooks.example.com/", "events": ["sent"], "x": 1}, "invalid_request"),
        ({"url": "https://169.254.169.254/", "events": ["sent"]}, "webhook_destination_forbidden"),
        ({"url": "https://hooks.example.com:8443/", "events": ["sent"]}, None),
    ],
)
def test_bad_subscriptions_are_a_400_and_nothing_is_kept(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], reason: str | None
) -> None:
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", "unused")
    runtime.reset()

    created = call_api("POST", PATH, body)

    assert created.status == 400, created.body
    if reason is not None:
        assert created.reason == reason
    assert call_api("GET", PATH).body == {"resource": []}
    assert not _webhook_secrets()


def test_loopback_and_plain_http_are_refused_unless_the_operator_allows_them() -> None:
    loopback = call_api("POST", PATH, {"url": "https://127.0.0.1/hook", "events": ["sent"]})
    named = call_api("POST", PATH, {"url": "https://localhost/hook", "events": ["sent"]})
    plain = call_api("POST", PATH, {"url": "http://hooks.example.com/", "events": ["sent"]})

    assert (loopback.status, loopback.reason) == (400, "webhook_destination_forbidden")
    assert "OUTBOUND_ALLOW_LOOPBACK" in loopback.body["error"]["message"]
    assert (named.status, named.reason) == (400, "webhook_destination_forbidden")
    assert (plain.status, plain.reason) == (400, "webhook_scheme_forbidden")


def test_an_unknown_service_is_a_404() -> None:
    created = call_api(
        "POST", PATH, {"url": "https://hooks.example.com/", "events": ["sent"], "service": "nope"}
    )

    assert created.status == 404


def test_the_routes_answer_401_403_and_404() -> None:
    create_role("sender", services=["email"])
    key = create_key("sender").token
    unknown = "wh_" + "0" * 32

    assert call_api("GET", PATH, api_key=None).status == 401
    assert call_api("GET", PATH, api_key=key).status == 403
    assert call_api("POST", f"{PATH}/{unknown}/test", api_key=key).status == 403
    for method, path in (
        ("GET", f"{PATH}/{unknown}"),
        ("DELETE", f"{PATH}/{unknown}"),
        ("GET", f"{PATH}/{unknown}/deliveries"),
        ("POST", f"{PATH}/{unknown}/test"),
    ):
        found = call_api(method, path)
        assert (found.status, found.reason) == (404, "webhook_not_found"), path
    assert call_api("GET", f"{PATH}/not-an-id").status in (400, 404)


# --- calls ---------------------------------------------------------------------------------------


def test_an_event_reaches_the_endpoint_signed_as_the_readme_says(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    created = subscribe(webhook_endpoint.url(HOOK), ["bounced"])
    bounced = event(
        MessageEventType.BOUNCED,
        recipient="gone@example.com",
        data={"bounce_type": "Permanent", "diagnostic": "550 5.1.1 no such user"},
    )

    runtime.message_events().publish([bounced])
    assert webhook_calls.run_sender() == set()

    (arrival,) = webhook_endpoint.arrivals
    assert arrival.method == "POST"
    assert verify(created["secret"], arrival.headers, arrival.body)
    assert not verify("whsec_another", arrival.headers, arrival.body)
    assert json.loads(arrival.body) == {
        "id": bounced.id,
        "type": "bounced",
        "message_id": "m-1",
        "service": "email",
        "recipient": "gone@example.com",
        "at": "2026-12-01T09:30:00+00:00",
        "data": {"bounce_type": "Permanent", "diagnostic": "550 5.1.1 no such user"},
    }
    assert arrival.headers["X-Webhook-Id"] == bounced.id
    assert arrival.headers["Content-Type"] == "application/json"
    assert arrival.headers["User-Agent"].startswith("email-api-webhooks/")
    (logged,) = deliveries(created["id"]).body["resource"]
    assert logged["outcome"] == "delivered"
    assert (logged["status"], logged["attempt"], logged["type"]) == (200, 1, "bounced")
    assert logged["event_id"] == bounced.id


def test_only_the_subscribed_types_and_service_are_called(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    create_service({"host": "smtp.example.com", "port": 587}, name="billing")
    webhook_endpoint.routes["/billing"] = answer(204, b"")
    webhook_endpoint.routes["/all"] = answer(200, b"")
    subscribe(webhook_endpoint.url(HOOK), ["delivered"])
    subscribe(webhook_endpoint.url("/billing"), ["sent", "failed"], service="billing")
    subscribe(webhook_endpoint.url("/all"), ["*"])

    runtime.message_events().publish(
        [
            event(MessageEventType.SENT),
            event(MessageEventType.DELIVERED, recipient="a@example.com"),
            event(MessageEventType.SENT, service="billing"),
            event(MessageEventType.QUEUED, service="billing"),
        ]
    )
    while webhook_calls.run_sender() or webhook_calls.receive():
        pass

    received = sorted(
        (arrival.target, json.loads(arrival.body)["type"], json.loads(arrival.body)["service"])
        for arrival in webhook_endpoint.arrivals
    )
    assert received == [
        ("/all", "delivered", "email"),
        ("/all", "queued", "billing"),
        ("/all", "sent", "billing"),
        ("/all", "sent", "email"),
        ("/billing", "sent", "billing"),
        ("/hook", "delivered", "email"),
    ]


def test_a_send_with_no_subscriptions_reads_them_once_per_cache_period(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    publisher = runtime.webhook_publisher()
    publisher.publish([event(MessageEventType.SENT)])  # nobody subscribes yet: cached
    subscribe(webhook_endpoint.url(HOOK), ["sent"])

    publisher.publish([event(MessageEventType.SENT)])

    assert webhook_calls.waiting() == 0  # heard of within WEBHOOK_CACHE_SECONDS, not at once


@pytest.mark.parametrize("down", ["refusing", "answering 500"])
def test_a_down_endpoint_is_retried_with_growing_waits_then_recorded_failed(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer, down: str
) -> None:
    webhook_endpoint.routes[HOOK] = answer(500, b"oops")
    with ClosedPort() as closed:
        url = (
            webhook_endpoint.url(HOOK)
            if down == "answering 500"
            else f"http://127.0.0.1:{closed.port}/"
        )
        created = subscribe(url, ["sent"])
        runtime.message_events().publish([event(MessageEventType.SENT)])

        comebacks = [len(webhook_calls.run_sender()) for _ in range(12)]

    assert comebacks == [1] * 11 + [0]
    assert webhook_calls.waiting() == 0
    attempts = list(reversed(deliveries(created["id"], "limit=100").body["resource"]))
    assert [attempt["attempt"] for attempt in attempts] == list(range(1, 13))
    assert [attempt["next_attempt_in"] for attempt in attempts] == [
        30,
        60,
        120,
        240,
        480,
        900,
        900,
        900,
        900,
        900,
        900,
        None,
    ]
    assert [attempt["outcome"] for attempt in attempts] == ["retrying"] * 11 + ["failed"]
    if down == "answering 500":
        assert {(a["status"], a["error"]) for a in attempts} == {(500, "answered HTTP 500")}
    else:
        assert {a["status"] for a in attempts} == {None}
        assert all(a["error"].startswith("could not be reached") for a in attempts)


def test_a_down_endpoint_does_not_hold_up_another(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    webhook_endpoint.routes["/down"] = answer(503, b"")
    subscribe(webhook_endpoint.url("/down"), ["sent"])
    subscribe(webhook_endpoint.url(HOOK), ["sent"])

    runtime.message_events().publish([event(MessageEventType.SENT)])
    failed = webhook_calls.run_sender(time_passes=False)

    assert len(failed) == 1
    assert sorted(arrival.target for arrival in webhook_endpoint.arrivals) == ["/down", "/hook"]


def test_a_slow_endpoint_times_out(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "0.5")
    runtime.reset()
    webhook_endpoint.routes[HOOK] = stall
    created = subscribe(webhook_endpoint.url(HOOK), ["sent"])
    runtime.message_events().publish([event(MessageEventType.SENT)])

    started = time.monotonic()
    failed = webhook_calls.run_sender(time_passes=False)

    assert len(failed) == 1
    assert time.monotonic() - started < 5
    (logged,) = deliveries(created["id"]).body["resource"]
    assert (logged["status"], logged["error"]) == (None, "did not answer in time")
    assert 0.4 < logged["seconds"] < 2


def test_a_batchs_calls_are_made_side_by_side_so_stalled_endpoints_cost_one_timeout(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "1")
    runtime.reset()
    for stalled in ("/stalled-1", "/stalled-2", "/stalled-3"):
        webhook_endpoint.routes[stalled] = stall
        subscribe(webhook_endpoint.url(stalled), ["sent"])
    subscribe(webhook_endpoint.url(HOOK), ["sent"])
    runtime.message_events().publish([event(MessageEventType.SENT)])

    started = time.monotonic()
    failed = webhook_calls.run_sender(time_passes=False)

    # Made one after another, the three stalled calls would take three seconds.
    assert time.monotonic() - started < 2.5
    assert len(failed) == 3
    assert "/hook" in [arrival.target for arrival in webhook_endpoint.arrivals]


def test_an_unreadable_message_fails_alone(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    subscribe(webhook_endpoint.url(HOOK), ["sent"])
    runtime.message_events().publish([event(MessageEventType.SENT)])
    webhook_calls.sqs.send_message(QueueUrl=webhook_calls.url, MessageBody="{not a job")

    failed = webhook_calls.run_sender(time_passes=False)

    assert len(failed) == 1
    assert [arrival.target for arrival in webhook_endpoint.arrivals] == ["/hook"]


def test_a_call_that_could_not_end_before_the_function_times_out_is_given_back(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    subscribe(webhook_endpoint.url(HOOK), ["sent"])
    runtime.message_events().publish([event(MessageEventType.SENT)])

    given_back = webhook_calls.run_sender(
        time_passes=False, timeout_seconds=5
    )  # a call may take 10

    assert len(given_back) == 1
    assert webhook_endpoint.arrivals == []
    assert webhook_calls.run_sender() == set()  # the next invocation, with time enough, makes it
    assert len(webhook_endpoint.arrivals) == 1


def test_the_guard_refuses_a_call_once_loopback_is_no_longer_allowed(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = subscribe(webhook_endpoint.url(HOOK), ["sent"])
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "false")
    runtime.reset()

    runtime.message_events().publish([event(MessageEventType.SENT)])
    webhook_calls.run_sender(time_passes=False)

    assert webhook_endpoint.arrivals == []
    (logged,) = deliveries(created["id"]).body["resource"]
    # Its port is one only loopback may use; no longer allowed, the guard refuses it.
    assert logged["error"].startswith("The webhook URL uses port")
    assert logged["status"] is None


def test_a_redirect_is_not_followed(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    webhook_endpoint.routes[HOOK] = redirect(webhook_endpoint.url("/elsewhere"), 307)
    created = subscribe(webhook_endpoint.url(HOOK), ["sent"])

    tested = call_api("POST", f"{PATH}/{created['id']}/test")

    assert [arrival.target for arrival in webhook_endpoint.arrivals] == ["/hook"]
    assert (tested.body["status"], tested.body["outcome"]) == (307, "failed")


# --- the test call and the log -------------------------------------------------------------------


def test_the_test_call_is_a_signed_ping_answered_and_logged(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    create_service({"host": "smtp.example.com", "port": 587})
    created = subscribe(webhook_endpoint.url(HOOK), ["sent"], service="email")

    tested = call_api("POST", f"{PATH}/{created['id']}/test", {"data": {"note": "hi"}})

    assert tested.status == 200, tested.body
    assert (tested.body["outcome"], tested.body["status"], tested.body["type"]) == (
        "delivered",
        200,
        "ping",
    )
    (arrival,) = webhook_endpoint.arrivals
    assert verify(created["secret"], arrival.headers, arrival.body)
    payload = json.loads(arrival.body)
    assert (payload["type"], payload["message_id"], payload["service"]) == ("ping", None, "email")
    assert payload["data"] == {"note": "hi", "webhook_id": created["id"]}
    assert deliveries(created["id"]).body["resource"] == [tested.body]


def test_the_test_call_reports_a_failure(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    with ClosedPort() as closed:
        created = subscribe(f"http://127.0.0.1:{closed.port}/", ["sent"])
        tested = call_api("POST", f"{PATH}/{created['id']}/test")

    assert tested.status == 200
    assert tested.body["outcome"] == "failed"
    assert tested.body["error"].startswith("could not be reached")


def test_the_delivery_log_pages_newest_first(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    created = subscribe(webhook_endpoint.url(HOOK), ["sent"])
    for _ in range(3):
        call_api("POST", f"{PATH}/{created['id']}/test")

    first = deliveries(created["id"], "limit=2")
    second = deliveries(created["id"], f"limit=2&cursor={first.body['meta']['next_cursor']}")
    bad = deliveries(created["id"], "cursor=nonsense")

    times = [a["at"] for a in first.body["resource"] + second.body["resource"]]
    assert len(times) == 3
    assert times == sorted(times, reverse=True)
    assert second.body["meta"]["next_cursor"] is None
    assert (bad.status, bad.reason) == (400, "invalid_cursor")


def test_neither_the_secret_nor_the_urls_query_is_in_a_log_line(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer, function_logs: Callable[[], str]
) -> None:
    webhook_endpoint.routes[HOOK] = answer(500, b"")
    created = subscribe(webhook_endpoint.url("/hook?token=s3cr3t-of-the-endpoint"), ["sent"])
    runtime.message_events().publish([event(MessageEventType.SENT)])
    webhook_calls.run_sender()
    call_api("POST", f"{PATH}/{created['id']}/test")

    logged = function_logs()
    assert '"message":"webhook call"' in logged
    assert created["secret"] not in logged
    assert "s3cr3t-of-the-endpoint" not in logged


# --- TLS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_an_https_endpoint_must_show_a_trusted_certificate(
    webhook_calls: WebhookCalls,
    authorities: Authorities,
    monkeypatch: pytest.MonkeyPatch,
    trusted: bool,
) -> None:
    monkeypatch.setenv("ATTACHMENT_FETCH_CA_FILE", str(authorities.trusted.bundle))
    monkeypatch.setenv("OUTBOUND_ALLOW_HTTP", "false")
    runtime.reset()
    authority = authorities.trusted if trusted else authorities.untrusted
    with WebServer(authority=authority) as server:
        server.routes[HOOK] = answer(200, b"")
        created = subscribe(server.url(HOOK), ["sent"])

        tested = call_api("POST", f"{PATH}/{created['id']}/test")

    if trusted:
        assert (tested.body["outcome"], tested.body["status"]) == ("delivered", 200)
        assert verify(created["secret"], server.arrivals[0].headers, server.arrivals[0].body)
    else:
        assert tested.body["outcome"] == "failed"
        assert tested.body["error"].startswith("failed TLS")
        assert server.arrivals == []
