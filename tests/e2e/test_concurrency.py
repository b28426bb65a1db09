"""The local stack under concurrent use, as API Gateway and Lambda take it: many clients at once,
and one slow SMTP server holding up only the sends that go to it.

The slow server holds each message in DATA until the test opens its gate, so every assertion
is about order (what finished while it was still held), never about how long anything took.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from local_stack.mail_capture import read_captured
from tests.support.events import EVENTS_API_KEY
from tests.support.network import free_port
from tests.support.stack_process import RunningStack

HEADERS = {"X-DreamFactory-API-Key": EVENTS_API_KEY, "Content-Type": "application/json"}
PARALLEL_CLIENTS = 50
FAST_SENDS = 3
# A bound on waits that only a broken stack reaches; nothing asserts on it.
PATIENCE_SECONDS = 60.0
# The slow server gives up holding a message before the API's SMTP timeout (10 s) would.
HOLD_LIMIT_SECONDS = 9.0


@dataclass
class Answer:
    status: int
    body: Any
    finished: float  # time.monotonic() when the answer was in


def post(stack: RunningStack, path: str, body: dict[str, Any], query: str = "") -> Answer:
    """One POST on a connection of its own; a reset or refused connection raises."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.api_port, timeout=PATIENCE_SECONDS)
    try:
        connection.request("POST", path + (f"?{query}" if query else ""), json.dumps(body), HEADERS)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    return Answer(response.status, json.loads(content) if content else None, time.monotonic())


def message(subject: str) -> dict[str, Any]:
    return {"to": [{"email": "john.doe@example.com"}], "subject": subject, "body_text": subject}


# --- a slow SMTP server -----------------------------------------------------------------------


@dataclass
class Gate:
    """aiosmtpd handler: each message waits in DATA until `opened` (or the hold limit)."""

    opened: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    finished: list[float] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.entered.set()
        held_until = time.monotonic() + HOLD_LIMIT_SECONDS
        while not self.opened.is_set() and time.monotonic() < held_until:
            await asyncio.sleep(0.02)
        self.finished.append(time.monotonic())
        return "250 OK"


@dataclass
class SlowService:
    name: str
    gate: Gate


@pytest.fixture
def slow_service(stack: RunningStack) -> Iterator[SlowService]:
    """A service whose SMTP server holds every message until the test opens the gate."""
    gate = Gate()
    controller = Controller(gate, hostname="127.0.0.1", port=free_port())
    controller.start()
    name = f"slow-{uuid.uuid4().hex[:8]}"
    definition = {
        "name": name,
        "config": {
            "host": "127.0.0.1",
            "port": controller.port,
            "encryption": "none",
            "from_email": "noreply@example.com",
        },
    }
    created = post(stack, "/api/v2/system/service", definition)
    assert created.status == 201, created.body
    try:
        yield SlowService(name, gate)
    finally:
        gate.opened.set()
        stack.request("DELETE", f"/api/v2/system/service/{name}", headers=HEADERS)
        controller.stop()


def warm_up(stack: RunningStack, containers: int) -> None:
    """Requests side by side, so that as many containers of the authorizer and the API
    function are warm: the ordering below is then not up to cold starts."""
    with ThreadPoolExecutor(containers) as pool:
        answers = list(
            pool.map(
                lambda _: stack.request("GET", "/api/v2/system/service", headers=HEADERS),
                range(containers),
            )
        )
    assert all(answer.status == 200 for answer in answers), answers


def wait_until_sent(stack: RunningStack, service: str, record_id: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        record = stack.request(
            "GET", f"/api/v2/{service}/messages/{record_id}", headers=HEADERS
        ).body
        if record["status"] == "sent":
            return
        time.sleep(0.1)
    raise AssertionError(f"{record_id} not sent: {record}\n{stack.log()[-4000:]}")


# --- the tests --------------------------------------------------------------------------------


def test_fifty_clients_at_once_are_all_answered_and_each_message_is_delivered_once(
    stack: RunningStack,
) -> None:
    run = uuid.uuid4().hex[:8]
    start = threading.Barrier(PARALLEL_CLIENTS)

    def client(number: int) -> Answer:
        start.wait()
        return post(stack, "/api/v2/email", message(f"burst {run} #{number}"))

    with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
        futures = [pool.submit(client, number) for number in range(PARALLEL_CLIENTS)]
        outcomes = [future.exception() or future.result() for future in futures]

    failures = [outcome for outcome in outcomes if not isinstance(outcome, Answer)]
    assert failures == [], f"connections failed: {failures}"
    answers = [outcome for outcome in outcomes if isinstance(outcome, Answer)]
    assert [answer.status for answer in answers] == [200] * PARALLEL_CLIENTS, answers
    sent = Counter(answer.body["message_id"] for answer in answers)
    delivered = Counter(
        mail.message_id for mail in read_captured(stack.mail_dir) if mail.message_id in sent
    )
    assert delivered == sent  # all fifty, each once
    assert set(sent.values()) == {1}


def test_a_slow_smtp_server_does_not_hold_up_sends_to_another_service(
    stack: RunningStack, slow_service: SlowService
) -> None:
    warm_up(stack, FAST_SENDS + 1)
    with ThreadPoolExecutor(FAST_SENDS + 1) as pool:
        slow = pool.submit(post, stack, f"/api/v2/{slow_service.name}", message("slow"))
        assert slow_service.gate.entered.wait(PATIENCE_SECONDS), stack.log()[-4000:]

        fast = [
            pool.submit(post, stack, "/api/v2/email", message(f"fast {n}"))
            for n in range(FAST_SENDS)
        ]
        wait(fast, timeout=PATIENCE_SECONDS)
        slow_service.gate.opened.set()
        fast_answers = [future.result() for future in fast]
        slow_answer = slow.result()

    assert [answer.status for answer in fast_answers] == [200] * FAST_SENDS, fast_answers
    assert slow_answer.status == 200, slow_answer.body
    # Each fast send was answered while the slow one was still held in DATA.
    assert max(answer.finished for answer in fast_answers) < slow_service.gate.finished[0]


def test_queued_mail_for_a_slow_server_holds_up_neither_acceptance_nor_other_deliveries(
    stack: RunningStack, slow_service: SlowService
) -> None:
    slow = post(stack, f"/api/v2/{slow_service.name}", message("slow queued"), "async=true")
    assert slow.status == 202, slow.body
    # The worker has it in hand: one of its containers waits on the slow server.
    assert slow_service.gate.entered.wait(PATIENCE_SECONDS), stack.log()[-4000:]

    accepted = [
        post(stack, "/api/v2/email", message(f"queued {n}"), "async=true")
        for n in range(FAST_SENDS)
    ]
    for answer in accepted:
        assert answer.status == 202, answer.body
        wait_until_sent(stack, "email", answer.body["id"])
    delivered_meanwhile = time.monotonic()
    slow_service.gate.opened.set()
    wait_until_sent(stack, slow_service.name, slow.body["id"])

    # Accepted, and delivered by another worker container, while the slow one was held.
    assert max(answer.finished for answer in accepted) < slow_service.gate.finished[0]
    assert delivered_meanwhile < slow_service.gate.finished[0]
