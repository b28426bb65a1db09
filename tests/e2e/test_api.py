"""The rest of what a client of the local stack sees: the admin API, Lambda's Invoke API, errors."""

from __future__ import annotations

import json

import pytest

from tests.support.events import load_event, send_body
from tests.support.stack_process import RunningStack


def test_service_round_trip_never_shows_the_password(stack: RunningStack) -> None:
    event = load_event("service-create.json")
    definition = json.loads(event["body"])
    name = definition["name"]
    path = f"/api/v2/system/service/{name}"
    headers = event["headers"]

    created = stack.send_event(event)
    fetched = stack.request("GET", path, headers=headers)
    deleted = stack.request("DELETE", path, headers=headers)
    gone = stack.request("GET", path, headers=headers)

    assert created.status == 201, created.body
    assert fetched.status == 200, fetched.body
    for answer in (created, fetched):
        shown = json.dumps(answer.body)
        assert definition["config"]["password"] not in shown
        assert "password" not in answer.body["config"]
        assert "secret_id" not in answer.body
    expected_config = {k: v for k, v in definition["config"].items() if k != "password"}
    assert {k: fetched.body["config"][k] for k in expected_config} == expected_config
    assert fetched.body["label"] == definition["label"]
    assert deleted.status == 200
    assert deleted.body == {"id": created.body["id"], "name": name}
    assert gone.status == 404
    assert gone.reason == "service_not_found"


def test_direct_invocation_through_lambda_invoke_api(stack: RunningStack) -> None:
    event = load_event("invoke-send.json")
    client = stack.lambda_client()  # on the invoke port, as `sam local start-lambda` serves it

    answer = client.invoke(FunctionName="InvokeFunction", Payload=json.dumps(event).encode())

    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    result = json.loads(answer["Payload"].read())
    assert result["count"] == 1
    message, envelope = stack.captured(result["message_id"])
    assert message["Subject"] == event["message"]["subject"]
    assert envelope.rcpt_tos == [event["message"]["to"][0]["email"]]


def test_missing_api_key_is_401_and_sends_nothing(stack: RunningStack) -> None:
    before = sorted(stack.mail_dir.glob("*.eml"))

    answer = stack.send_event(load_event("send-basic.json"), without_api_key=True)

    assert answer.status == 401
    assert answer.reason == "unauthorized"
    assert answer.headers["Content-Type"] == "application/json"
    assert sorted(stack.mail_dir.glob("*.eml")) == before


def test_bad_address_is_400_and_sends_nothing(stack: RunningStack) -> None:
    event = load_event("send-basic.json")
    body = {**send_body("send-basic.json"), "to": [{"email": "not-an-address", "name": "X"}]}
    before = sorted(stack.mail_dir.glob("*.eml"))

    answer = stack.send_event({**event, "body": json.dumps(body)})

    assert answer.status == 400
    assert answer.reason == "invalid_address"
    assert answer.body["error"]["message"] == "Invalid email - 'not-an-address'."
    assert sorted(stack.mail_dir.glob("*.eml")) == before


def test_api_key_in_query_string_as_dreamfactory_allows(stack: RunningStack) -> None:
    body = send_body("send-basic.json")

    answer = stack.request(
        "POST",
        "/api/v2/email",
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
        query=f"api_key={stack.admin_key}",
    )

    assert answer.status == 200, answer.body
    message, _ = stack.captured(answer.body["message_id"])
    assert message["Subject"] == body["subject"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "TRACE", "QUERY"])
def test_a_method_the_path_does_not_have_is_a_405_over_http(
    stack: RunningStack, method: str
) -> None:
    """Through the local gateway, as schemathesis calls it: TRACE and QUERY were http.server's
    501 (a 5xx for the client's mistake), the others API Gateway's 404."""
    answer = stack.request(
        method, "/api/v2/system/stats", headers={"X-DreamFactory-API-Key": stack.admin_key}
    )

    assert answer.status == 405
    assert answer.headers["Allow"] == "GET"


def test_gateway_runs_the_authorizer_first(stack: RunningStack) -> None:
    def refusals() -> int:
        lines = (json.loads(line) for line in stack.log().splitlines() if line.startswith("{"))
        return sum(
            1
            for line in lines
            if line.get("message") == "key refused"
            and line.get("function_name") == "AuthorizerFunction"
        )

    before = refusals()
    refused = stack.request("GET", "/api/v2/system/service", headers={"X-API-Key": "wrong"})
    unknown = stack.request("GET", "/api/v2/email/unknown", headers={"X-API-Key": "wrong"})

    # The template's UNAUTHORIZED gateway response: the API function's own 401, word for word.
    assert refused.status == 401
    assert refused.body == {
        "error": {
            "code": 401,
            "status_code": 401,
            "message": "Missing or invalid API key.",
            "reason": "unauthorized",
        }
    }
    assert refusals() == before + 1
    # No such route: API Gateway answers by itself, before any key check.
    assert (unknown.status, unknown.reason) == (404, "route_not_found")
    assert refusals() == before + 1
