"""The mailbox simulator through `make dev`'s stack, as "Trying failures locally" (in
docs/local-stack.md) has a developer try it: a service with `encryption: tls` and a username
pointing at the stack's capture server (STARTTLS verified against the stack's own CA, AUTH with
any password), then sends to the simulator's addresses and each message's status as the API
shows it. A `type: ses` service's mail to bounce@ takes SES's path: accepted, then bounced and
suppressed by the event the simulator publishes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_stack.mail_capture import read_captured
from tests.support.api import ApiResponse
from tests.support.stack_process import RunningStack

# The worker retries a deferred message after a second locally; events follow within moments.
BUDGET_SECONDS = 30.0
JSON = {"Content-Type": "application/json"}


@dataclass
class Simulating:
    stack: RunningStack
    tag: str
    services: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, body: Any = None, query: str = "") -> ApiResponse:
        return self.stack.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={**JSON, "X-DreamFactory-API-Key": self.stack.admin_key},
            query=query,
        )

    def address(self, mailbox: str) -> str:
        """`mailbox`@simulator.example.com with this run's label: its suppression is this run's."""
        return f"{mailbox}+{self.tag}@simulator.example.com"

    def create(self, name: str, definition: dict[str, Any]) -> str:
        service = f"{name}-{self.tag}"
        created = self.api("POST", "/api/v2/system/service", {"name": service, **definition})
        assert created.status == 201, created.body
        self.services.append(service)
        return service

    def send(self, service: str, mailbox: str, query: str = "") -> ApiResponse:
        body = {"to": [self.address(mailbox)], "subject": "Simulated", "body_text": "Hello."}
        return self.api("POST", f"/api/v2/{service}", body, query=query)

    def record(self, service: str, record_id: str) -> dict[str, Any]:
        answer = self.api("GET", f"/api/v2/{service}/messages/{record_id}")
        assert answer.status == 200, answer.body
        shown: dict[str, Any] = answer.body
        return shown

    def until(
        self, service: str, record_id: str, done: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        """The record as polled until `done` says so: every distinct view of it, in order."""
        deadline = time.monotonic() + BUDGET_SECONDS
        seen: list[dict[str, Any]] = []
        while True:
            record = self.record(service, record_id)
            if not seen or record != seen[-1]:
                seen.append(record)
            if done(record):
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting; the record went {seen}\n{self.stack.log()}")
            time.sleep(0.2)

    def only_record(self, service: str) -> dict[str, Any]:
        """The one message `service` has sent (a send the API answered with an error)."""
        listed = self.api("GET", f"/api/v2/{service}/messages")
        assert listed.status == 200, listed.body
        (record,) = listed.body["resource"]
        shown: dict[str, Any] = record
        return shown

    def suppression(self, address: str) -> dict[str, Any]:
        """The suppression list's entry for `address`, once there: the events function moves
        the recipient on first, and lists the address a moment later."""
        deadline = time.monotonic() + BUDGET_SECONDS
        while True:
            listed = self.api("GET", "/api/v2/system/suppression", query="service=*")
            assert listed.status == 200, listed.body
            entries = [entry for entry in listed.body["resource"] if entry["email"] == address]
            if entries:
                entry: dict[str, Any] = entries[0]
                return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"{address} never suppressed: {listed.body}")
            time.sleep(0.2)


@pytest.fixture
def simulating(stack: RunningStack) -> Iterator[Simulating]:
    run = Simulating(stack, uuid.uuid4().hex[:8])
    yield run
    for mailbox in ("bounce", "complaint"):
        run.api("DELETE", f"/api/v2/system/suppression/{run.address(mailbox)}")
    for service in run.services:
        run.api("DELETE", f"/api/v2/system/service/{service}")


@pytest.fixture
def tls_service(simulating: Simulating) -> str:
    """STARTTLS required, a username and any password: as a real relay is configured."""
    return simulating.create(
        "relay",
        {
            "config": {
                "host": "127.0.0.1",
                "port": simulating.stack.smtp_port,
                "encryption": "tls",
                "username": "developer",
                "password": "any password will do",
                "from_email": "noreply@example.com",
            }
        },
    )


def recipient_state(record: dict[str, Any], address: str) -> str | None:
    status = record.get("recipients_status") or {}
    state = status.get(address, {}).get("state")
    return None if state is None else str(state)


def test_a_tls_service_with_a_username_sends_to_success(
    simulating: Simulating, tls_service: str
) -> None:
    sent = simulating.send(tls_service, "success")

    assert sent.status == 200, sent.body
    assert sent.body["count"] == 1
    record = simulating.record(tls_service, sent.body["id"])
    assert record["status"] == "sent"
    assert record["provider_message_id"], record  # the id the capture server answered with
    address = simulating.address("success")
    seen = simulating.until(
        tls_service, sent.body["id"], lambda r: recipient_state(r, address) == "delivered"
    )
    assert seen[-1]["status"] == "sent"
    message, envelope = simulating.stack.captured(sent.body["message_id"])
    assert envelope.rcpt_tos == [address]
    assert message["Subject"] == "Simulated"


def test_an_ssl_service_sends_over_the_implicit_tls_port(simulating: Simulating) -> None:
    service = simulating.create(
        "smtps",
        {
            "config": {
                "host": "localhost",
                "port": simulating.stack.smtps_port,
                "encryption": "ssl",
                "username": "developer",
                "password": "whatever",
                "from_email": "noreply@example.com",
            }
        },
    )

    sent = simulating.send(service, "success")

    assert sent.status == 200, sent.body
    assert simulating.record(service, sent.body["id"])["status"] == "sent"


def test_bounce_fails_the_message_at_once(simulating: Simulating, tls_service: str) -> None:
    bounced = simulating.send(tls_service, "bounce")

    assert (bounced.status, bounced.body["error"]["reason"]) == (502, "smtp_rejected")
    assert bounced.body["error"]["context"]["stage"] == "rcpt"
    record = simulating.only_record(tls_service)
    assert record["status"] == "failed", record
    assert "550 5.1.1" in record["reply"], record


def test_defer_is_deferred_then_sent_by_the_worker(
    simulating: Simulating, tls_service: str
) -> None:
    queued = simulating.send(tls_service, "defer", query="async=true")
    assert queued.status == 202, queued.body

    seen = simulating.until(tls_service, queued.body["id"], lambda r: r["status"] == "sent")

    statuses = [record["status"] for record in seen]
    assert "deferred" in statuses, statuses
    deferred = next(record for record in seen if record["status"] == "deferred")
    assert "451 4.7.1" in json.dumps(deferred), deferred
    assert seen[-1]["attempts"] >= 2, seen[-1]


def test_drop_leaves_the_outcome_unknown(simulating: Simulating, tls_service: str) -> None:
    dropped = simulating.send(tls_service, "drop")

    assert (dropped.status, dropped.body["error"]["reason"]) == (502, "smtp_outcome_unknown")
    assert simulating.only_record(tls_service)["status"] == "unknown"
    # It did arrive: that is why nobody may send it again.
    (captured,) = [
        mail
        for mail in read_captured(simulating.stack.mail_dir)
        if mail.rcpt_tos == [simulating.address("drop")]
    ]
    assert captured.message_id


def test_complaint_is_delivered_then_complained_and_suppressed(
    simulating: Simulating, tls_service: str
) -> None:
    sent = simulating.send(tls_service, "complaint")
    assert sent.status == 200, sent.body
    address = simulating.address("complaint")

    simulating.until(
        tls_service, sent.body["id"], lambda r: recipient_state(r, address) == "complained"
    )

    entry = simulating.suppression(address)
    assert (entry["reason"], entry["source"]["message_id"]) == ("complaint", sent.body["id"])


def test_an_ses_service_s_bounce_comes_as_ses_s_event_and_suppresses(
    simulating: Simulating,
) -> None:
    service = simulating.create(
        "ses",
        {"type": "ses", "config": {"region": "us-east-1", "from_email": "noreply@example.com"}},
    )
    sent = simulating.send(service, "bounce")
    assert sent.status == 200, sent.body
    address = simulating.address("bounce")

    seen = simulating.until(
        service, sent.body["id"], lambda r: recipient_state(r, address) == "bounced"
    )

    assert seen[-1]["status"] == "sent"  # SES took it; the bounce came after
    entry = simulating.suppression(address)
    assert (entry["reason"], entry["source"]["message_id"]) == ("bounce", sent.body["id"])
    again = simulating.send(service, "bounce")
    assert (again.status, again.body["error"]["reason"]) == (422, "all_recipients_suppressed")
