"""How the send route reads a request before core sees it: the key first, then the body, read
as JSON whatever its label, validated once into DreamFactory's 400s (never a 422)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from tests.support.api import call_api
from tests.support.smtp_servers import CaptureServer

Model = TypeVar("Model", bound=BaseModel)

pytestmark = pytest.mark.usefixtures("aws")

VALID = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello"}


def test_a_body_labelled_as_a_form_is_read_as_json(server: CaptureServer) -> None:
    # What `curl -d '{...}'` sends.
    response = call_api(
        "POST",
        "/api/v2/email",
        raw_body=json.dumps(VALID),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status == 200, response.body
    assert server.only_message.rcpt_tos == ["john@example.com"]


def test_a_json_list_is_no_body_even_holding_a_valid_one(server: CaptureServer) -> None:
    response = call_api("POST", "/api/v2/email", [VALID])

    assert (response.status, response.reason) == (400, "invalid_request"), response.body
    assert server.messages == []


@pytest.mark.parametrize("raw_body", ["{not json", ""], ids=["malformed", "missing"])
def test_an_unreadable_body_is_dreamfactorys_400(server: CaptureServer, raw_body: str) -> None:
    response = call_api("POST", "/api/v2/email", raw_body=raw_body)

    assert response.status == 400, response.body
    assert response.reason in ("invalid_json", "invalid_request")
    assert set(response.body["error"]) >= {"code", "message", "reason"}


def test_the_key_is_checked_before_the_body(server: CaptureServer) -> None:
    # Without the gateway's authorizer in front (sam local invoke), the function checks the key
    # before it reads a byte of the body.
    response = call_api(
        "POST", "/api/v2/email", raw_body="{not json", api_key=None, via_authorizer=False
    )

    assert (response.status, response.reason) == (401, "unauthorized")


def test_the_idempotency_key_header_is_read_in_any_case(server: CaptureServer) -> None:
    first = call_api("POST", "/api/v2/email", VALID, headers={"idempotency-key": "order-1"})
    again = call_api("POST", "/api/v2/email", VALID, headers={"IDEMPOTENCY-KEY": "order-1"})

    assert first.status == again.status == 200, (first.body, again.body)
    assert again.body["id"] == first.body["id"]
    assert len(server.messages) == 1


@pytest.mark.parametrize("query", ["async=TRUE", "async=1"])
def test_async_is_asked_as_before(send_queue: object, server: CaptureServer, query: str) -> None:
    response = call_api("POST", "/api/v2/email", VALID, query=query)

    assert response.status == 202, response.body
    assert response.body["status"] == "queued"


def test_async_false_sends_now(server: CaptureServer) -> None:
    response = call_api("POST", "/api/v2/email", VALID, query="async=no")

    assert response.status == 200, response.body


def test_the_body_is_validated_once(server: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import send_request, validation

    validations: list[type[BaseModel]] = []

    def counted(
        model: type[Model], body: Any, *, prefix: str = "", context: dict[str, Any] | None = None
    ) -> Model:
        validations.append(model)
        return validation.parse_model(model, body, prefix=prefix, context=context)

    # The name the send request's parser calls.
    monkeypatch.setattr("core.send_request.parse_model", counted)

    response = call_api("POST", "/api/v2/email", VALID)

    assert response.status == 200, response.body
    assert validations == [send_request.SendRequest]
