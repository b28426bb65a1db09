"""After the send, as a user of `make dev` follows it: an admin subscribes a webhook to a server
of theirs on loopback (`mailer webhooks add`), sends through the API (queued and at once) with
a `type: ses` service (moto's SES gives each message the id SES's events name), replays SES's
permanent bounce for one of them (`mailer ses-events replay`), and then sees it everywhere: the
signed webhook calls, the recipient's state, the suppression list, the day's numbers, the next
send refused, and the webhook's delivery log."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from local_stack.environment import (
    LOCAL_ACCESS_KEY_ID,
    LOCAL_SECRET_ACCESS_KEY,
    queue_url,
)
from mailer_cli.main import main
from tests.support.api import ApiResponse
from tests.support.stack_process import RunningStack
from tests.support.web_servers import Arrival, WebServer, answer
from tests.support.webhook_signature import verify

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# The sender polls the webhook queue as Lambda's event source would; the rest is slack for a
# busy machine.
CALL_BUDGET_SECONDS = 20.0
JSON = {"Content-Type": "application/json"}


@dataclass
class Story:
    """One run's names: a service of its own, so nothing another test sends is counted."""

    stack: RunningStack
    service: str
    gone: str  # the address that will bounce
    kept: str  # one that never does
    webhooks: list[str] = field(default_factory=list)  # to unsubscribe when done

    def api(self, method: str, path: str, body: Any = None, query: str = "") -> ApiResponse:
        return self.stack.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={**JSON, "X-DreamFactory-API-Key": self.stack.admin_key},
            query=query,
        )

    def send(self, to: list[str], query: str = "") -> ApiResponse:
        body = {"to": to, "subject": "Your order", "body_text": "It shipped."}
        return self.api("POST", f"/api/v2/{self.service}", body, query=query)

    def mailer(self, *args: str) -> tuple[int, str, str]:
        """`mailer ARGS --url ... --api-key ... --json` against the stack: status, stdout (the
        API's JSON), stderr."""
        out, err = io.StringIO(), io.StringIO()
        status = main(
            [*args, "--url", self.stack.api_url, "--api-key", self.stack.admin_key, "--json"],
            stdout=out,
            stderr=err,
        )
        return status, out.getvalue(), err.getvalue()


@pytest.fixture
def story(stack: RunningStack) -> Iterator[Story]:
    tag = uuid.uuid4().hex[:8]
    story = Story(stack, f"ses-{tag}", f"gone-{tag}@example.com", f"kept-{tag}@example.com")
    created = story.api(
        "POST",
        "/api/v2/system/service",
        {
            "name": story.service,
            "type": "ses",
            "config": {"region": "us-east-1", "from_email": "noreply@example.com"},
        },
    )
    assert created.status == 201, created.body
    yield story
    for webhook_id in story.webhooks:
        story.api("DELETE", f"/api/v2/system/webhook/{webhook_id}")
    story.api("DELETE", f"/api/v2/system/suppression/{story.gone}")
    story.api("DELETE", f"/api/v2/system/service/{story.service}")


@pytest.fixture
def endpoint() -> Iterator[WebServer]:
    with WebServer() as server:
        server.routes["/hook"] = answer(200, b"thanks")
        yield server


def calls_until(
    endpoint: WebServer, wanted: set[tuple[str, str, str | None]], stack: RunningStack
) -> list[Arrival]:
    """Every call so far once those `wanted` ((type, message_id, recipient)) have all come;
    fails with what did come after the budget."""
    deadline = time.monotonic() + CALL_BUDGET_SECONDS
    while True:
        arrived = list(endpoint.arrivals)
        seen = {_key(json.loads(arrival.body)) for arrival in arrived}
        if wanted <= seen:
            return arrived
        if time.monotonic() > deadline:
            raise AssertionError(
                f"webhook calls still missing {wanted - seen}; came: {sorted(map(str, seen))}\n"
                f"{stack.log()[-4000:]}"
            )
        time.sleep(0.2)


def _key(payload: dict[str, Any]) -> tuple[str, str, str | None]:
    return payload["type"], payload["message_id"], payload.get("recipient")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mail(provider_message_id: str, recipient: str) -> dict[str, Any]:
    return {
        "timestamp": _now(),
        "source": "noreply@example.com",
        "messageId": provider_message_id,
        "destination": [recipient],
    }


def bounce_of(provider_message_id: str, recipient: str) -> dict[str, Any]:
    """SES's event for a permanent bounce of `recipient`, as its configuration set publishes it."""
    now = _now()
    return {
        "eventType": "Bounce",
        "mail": _mail(provider_message_id, recipient),
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": recipient, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
            ],
            "timestamp": now,
        },
    }


def test_webhooks_bounce_suppression_and_numbers_follow_a_send(
    story: Story, endpoint: WebServer, tmp_path: Path
) -> None:
    first_day = datetime.now(UTC).date().isoformat()
    # The admin subscribes an endpoint of theirs to every event of the service.
    status, out, err = story.mailer(
        "webhooks", "add", endpoint.url("/hook"), "--events", "*", "--service", story.service
    )
    assert status == 0, err
    webhook = json.loads(out)
    story.webhooks.append(webhook["id"])
    secret = webhook["secret"]

    # A queued send, then one at once.
    queued = story.send([story.gone], query="async=true")
    assert queued.status == 202, queued.body
    sent_now = story.send([story.kept])
    assert sent_now.status == 200, sent_now.body
    assert sent_now.body["count"] == 1
    q, s = queued.body["id"], sent_now.body["id"]
    calls_until(
        endpoint,
        {
            ("accepted", q, None),
            ("queued", q, None),
            ("sent", q, None),
            ("accepted", s, None),
            ("sent", s, None),
        },
        story.stack,
    )

    # SES bounces the queued message for good; the developer replays its event.
    record = story.api("GET", f"/api/v2/{story.service}/messages/{q}")
    assert record.body["status"] == "sent", record.body
    provider_id = record.body["provider_message_id"]
    assert provider_id
    events_file = tmp_path / "bounce.json"
    events_file.write_text(json.dumps(bounce_of(provider_id, story.gone)))
    status, out, err = story.mailer("ses-events", "replay", str(events_file))
    assert (status, out) == (0, f"{events_file}: applied\n"), err

    arrived = calls_until(endpoint, {("bounced", q, story.gone)}, story.stack)
    payloads = [json.loads(arrival.body) for arrival in arrived]
    assert all(verify(secret, a.headers, a.body) for a in arrived), [a.headers for a in arrived]
    assert not any(verify("whsec_someone-else", a.headers, a.body) for a in arrived)
    assert {payload["service"] for payload in payloads} == {story.service}
    (bounced,) = [payload for payload in payloads if payload["type"] == "bounced"]
    assert bounced["data"]["bounce_type"] == "Permanent"
    assert "550 5.1.1" in bounced["data"]["diagnostic"]
    sent_calls = [payload for payload in payloads if payload["type"] == "sent"]
    assert sorted(payload["message_id"] for payload in sent_calls) == sorted([q, s])

    # The recipient's state, and the list that keeps the address from being mailed again.
    record = story.api("GET", f"/api/v2/{story.service}/messages/{q}")
    state = record.body["recipients_status"][story.gone]
    assert (state["state"], state["bounce_type"]) == ("bounced", "Permanent"), record.body
    listed = story.api("GET", "/api/v2/system/suppression", query="service=*&reason=bounce")
    (entry,) = [e for e in listed.body["resource"] if e["email"] == story.gone]
    assert entry["source"]["message_id"] == q

    # The numbers of the day (of the days, should the test straddle midnight UTC).
    stats = story.api("GET", "/api/v2/system/stats", query=f"service={story.service}")
    assert stats.status == 200, stats.body
    today = datetime.now(UTC).date().isoformat()
    rows = stats.body["resource"]
    assert {row["date"] for row in rows} <= {first_day, today}, rows
    totals = {name: sum(row[name] for row in rows) for name in ("accepted", "sent", "bounced")}
    assert totals == {"accepted": 2, "sent": 2, "bounced": 1}

    # The next send to that address alone is refused; beside another, it is left out.
    refused = story.send([story.gone])
    assert (refused.status, refused.reason) == (422, "all_recipients_suppressed"), refused.body
    mixed = story.send([story.gone, story.kept])
    assert mixed.status == 200, mixed.body
    assert (mixed.body["count"], mixed.body["suppressed"]) == (1, [story.gone])
    m = mixed.body["id"]
    calls_until(
        endpoint,
        {("accepted", m, None), ("sent", m, None), ("suppressed", m, story.gone)},
        story.stack,
    )

    # The delivery log lists every call the endpoint answered (each logged once answered).
    logged = delivery_log_once_settled(story, webhook["id"], endpoint)
    assert {line["outcome"] for line in logged} == {"delivered"}
    assert {line["status"] for line in logged} == {200}
    assert len(logged) == len(endpoint.arrivals) == 9


def delivery_log_once_settled(
    story: Story, webhook_id: str, endpoint: WebServer
) -> list[dict[str, Any]]:
    """`mailer webhooks deliveries ID` once it names every call the endpoint received."""
    deadline = time.monotonic() + CALL_BUDGET_SECONDS
    while True:
        status, out, err = story.mailer("webhooks", "deliveries", webhook_id)
        assert status == 0, err
        logged: list[dict[str, Any]] = json.loads(out)["resource"]
        received = {arrival.headers["X-Webhook-Id"] for arrival in endpoint.arrivals}
        if {line["event_id"] for line in logged} == received or time.monotonic() > deadline:
            assert {line["event_id"] for line in logged} == received, logged
            return logged
        time.sleep(0.2)


def test_a_delivery_published_to_the_events_queue_takes_the_deployed_path_to_the_webhook(
    story: Story, endpoint: WebServer
) -> None:
    """SNS's envelope on `SesEventsQueue`, as the deployed topic leaves it: the stack's poller
    hands it to the events function, whose `delivered` reaches the endpoint."""
    created = story.api(
        "POST",
        "/api/v2/system/webhook",
        {"url": endpoint.url("/hook"), "events": ["delivered"], "service": story.service},
    )
    assert created.status == 201, created.body
    story.webhooks.append(created.body["id"])
    sent = story.send([story.kept])
    assert sent.status == 200, sent.body
    record = story.api("GET", f"/api/v2/{story.service}/messages/{sent.body['id']}")
    delivery = {
        "eventType": "Delivery",
        "mail": _mail(record.body["provider_message_id"], story.kept),
        "delivery": {"timestamp": _now(), "recipients": [story.kept], "smtpResponse": "250 OK"},
    }
    envelope = {"Type": "Notification", "MessageId": "1", "Message": json.dumps(delivery)}

    events_queue(story.stack).send_message(
        QueueUrl=queue_url(f"http://127.0.0.1:{story.stack.moto_port}", "SesEventsQueue"),
        MessageBody=json.dumps(envelope),
    )

    (arrival,) = calls_until(endpoint, {("delivered", sent.body["id"], story.kept)}, story.stack)
    assert verify(created.body["secret"], arrival.headers, arrival.body)
    record = story.api("GET", f"/api/v2/{story.service}/messages/{sent.body['id']}")
    assert record.body["recipients_status"][story.kept]["state"] == "delivered", record.body


def events_queue(stack: RunningStack) -> SQSClient:
    """boto3's SQS on the stack's moto, signed as local programs sign."""
    client: SQSClient = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
        region_name="us-east-1",
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    )
    return client
