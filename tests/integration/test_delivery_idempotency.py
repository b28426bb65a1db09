"""Idempotency keys: a send happens at most once per key and credential, however often it is
asked for, over HTTP (now or queued) or by direct invocation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.apigateway import LocalLambdaContext
from tests.support.access import create_key, create_role
from tests.support.api import ADMIN_KEY, ApiResponse, call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import LOOPBACK, ScriptedServer

MESSAGE = {"to": "john@example.com", "subject": "Hi", "body_text": "Hi"}


@pytest.fixture
def server(send_queue: SendQueue) -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        create_service(
            {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@x.org"}
        )
        yield server


def _send(
    body: dict[str, Any] = MESSAGE, *, key: str, api_key: str = ADMIN_KEY, query: str = ""
) -> ApiResponse:
    return call_api(
        "POST",
        "/api/v2/email",
        body,
        api_key=api_key,
        headers={"Idempotency-Key": key},
        query=query,
    )


def test_a_repeat_gets_the_first_answer_and_sends_nothing(server: ScriptedServer) -> None:
    first = _send(key="order-1")
    again = _send(key="order-1")

    assert first.status == again.status == 200
    assert again.body == first.body
    assert len(server.transactions) == 1


def test_the_same_key_with_another_body_is_a_conflict(server: ScriptedServer) -> None:
    _send(key="order-1")

    answer = _send({**MESSAGE, "subject": "Something else"}, key="order-1")

    assert (answer.status, answer.reason) == (409, "idempotency_conflict")
    assert len(server.transactions) == 1


def test_keys_of_different_credentials_are_independent(server: ScriptedServer) -> None:
    create_role("app", services=["email"])
    one, other = create_key("app").token, create_key("app").token

    first = _send(key="order-1", api_key=one)
    second = _send(key="order-1", api_key=other)

    assert first.status == second.status == 200
    assert first.body["id"] != second.body["id"]
    assert len(server.transactions) == 2


def test_a_repeated_async_request_is_queued_once(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    first = _send(key="order-1", query="async=true")
    again = _send(key="order-1", query="async=true")

    assert first.status == again.status == 202
    assert again.body == first.body
    assert send_queue.waiting() == 1
    send_queue.drain()
    assert len(server.transactions) == 1


def test_direct_invocation_with_an_idempotency_key(server: ScriptedServer) -> None:
    from handlers import invoke  # imported late: the handler reads settings on first use

    event = {"service": "email", "message": MESSAGE, "idempotency_key": "order-1"}

    first = invoke.lambda_handler(event, LocalLambdaContext(timeout_seconds=10).typed())
    again = invoke.lambda_handler(event, LocalLambdaContext(timeout_seconds=10).typed())

    assert first["count"] == 1
    assert again == first
    assert len(server.transactions) == 1
