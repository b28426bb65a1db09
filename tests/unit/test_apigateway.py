"""The local stack's API Gateway steps: route matching, the authorizer's event and verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from local_stack.apigateway import (
    LOCAL_API_ID,
    LOCAL_STAGE,
    UNAUTHORIZED,
    MatchedRoute,
    authorizer_event,
    gateway_response,
    match_route,
    method_arn,
    policy_allows,
    rest_api_event,
    through_authorizer,
    with_authorizer_context,
    without_authorizer_context,
)

ROUTES = [
    ("POST", "/api/v2/{service}"),
    ("GET", "/api/v2/system/service"),
    ("GET", "/api/v2/system/api_key/{key_id}"),
    ("POST", "/api/v2/system/api_key/{key_id}/rotate"),
]
RESPONSES = {
    "UNAUTHORIZED": {
        "StatusCode": "401",
        "ResponseTemplates": {"application/json": '{"error": {"code": 401}}'},
    }
}


def _event(method: str = "POST", path: str = "/api/v2/email", **options: Any) -> dict[str, Any]:
    return rest_api_event(method, path, route=match_route(ROUTES, method, path), **options)


def _allow(arn: str, **context: Any) -> dict[str, Any]:
    """What handlers.authorizer answers: every route of the API allowed."""
    parsed = APIGatewayAuthorizerRequestEvent({"methodArn": arn}).parsed_arn
    response = APIGatewayAuthorizerResponse(
        principal_id="key-1",
        region=parsed.region,
        aws_account_id=parsed.aws_account_id,
        api_id=parsed.api_id,
        stage=parsed.stage,
        context=context,
    )
    response.allow_all_routes()
    return response.asdict()


# --- routes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(
            "POST",
            "/api/v2/email",
            MatchedRoute("/api/v2/{service}", {"service": "email"}),
            id="send",
        ),
        pytest.param(
            "GET",
            "/api/v2/system/service",
            MatchedRoute("/api/v2/system/service", {}),
            id="literal",
        ),
        pytest.param(
            "post",
            "/api/v2/system/api_key/ab12/rotate",
            MatchedRoute("/api/v2/system/api_key/{key_id}/rotate", {"key_id": "ab12"}),
            id="nested",
        ),
        pytest.param("GET", "/api/v2/email", None, id="wrong-method"),
        pytest.param("POST", "/api/v2/system/service", None, id="literal-beats-parameter"),
        pytest.param("POST", "/api/v2/", None, id="empty-parameter"),
        pytest.param("GET", "/nowhere", None, id="unknown"),
    ],
)
def test_route_matching_as_api_gateway_does(
    method: str, path: str, expected: MatchedRoute | None
) -> None:
    assert match_route(ROUTES, method, path) == expected


def test_proxy_event_names_the_route() -> None:
    event = _event("GET", "/api/v2/system/api_key/ab12")

    assert event["resource"] == "/api/v2/system/api_key/{key_id}"
    assert event["requestContext"]["resourcePath"] == event["resource"]
    assert event["pathParameters"] == {"key_id": "ab12"}


# --- the authorizer's event -------------------------------------------------------------------


def test_authorizer_event_reads_as_powertools_request_event() -> None:
    event = _event(headers={"X-API-Key": "k1"}, query="api_key=k2", body='{"to": "x"}')

    request = APIGatewayAuthorizerRequestEvent(authorizer_event(event))

    assert request.get_type == "REQUEST"
    arn = request.parsed_arn
    assert (arn.api_id, arn.stage, arn.http_method, arn.resource) == (
        LOCAL_API_ID,
        LOCAL_STAGE,
        "POST",
        "api/v2/email",
    )
    assert request.method_arn == method_arn("POST", "/api/v2/email")
    assert (request.resource, request.path, request.http_method) == (
        "/api/v2/{service}",
        "/api/v2/email",
        "POST",
    )
    assert request.headers["x-api-key"] == "k1"
    assert request.query_string_parameters == {"api_key": "k2"}
    assert request.path_parameters == {"service": "email"}
    assert "body" not in request.raw_event


def test_authorizer_event_without_headers_or_query() -> None:
    request = APIGatewayAuthorizerRequestEvent(authorizer_event(_event()))

    assert dict(request.headers) == {}
    assert request.query_string_parameters == {}


# --- the authorizer's verdict -----------------------------------------------------------------


def test_allowed_event_carries_principal_and_context_as_strings() -> None:
    event = _event()
    answer = _allow(method_arn("POST", "/api/v2/email"), key_id="k", admin=True, limit=5)

    enriched = APIGatewayProxyEvent(with_authorizer_context(event, answer))

    assert enriched.request_context.authorizer.get_context() == {
        "principalId": "key-1",
        "key_id": "k",
        "admin": "true",
        "limit": "5",
    }
    assert enriched.request_context.authorizer.principal_id == "key-1"
    assert "authorizer" not in event["requestContext"]  # the original is left alone


def test_a_caller_s_authorizer_context_is_dropped_and_the_rest_kept() -> None:
    answer = _allow(method_arn("POST", "/api/v2/email"), key_id="bootstrap", role="bootstrap-admin")
    forged = with_authorizer_context(_event(body="{}"), answer)

    stripped = without_authorizer_context(forged)

    assert APIGatewayProxyEvent(stripped).request_context.authorizer.get_context() == {}
    assert {k: v for k, v in stripped.items() if k != "requestContext"} == {
        k: v for k, v in forged.items() if k != "requestContext"
    }
    assert stripped["requestContext"] == {
        k: v for k, v in forged["requestContext"].items() if k != "authorizer"
    }
    assert "authorizer" in forged["requestContext"]  # the original is left alone


@pytest.mark.parametrize("payload", [{"service": "email"}, {"requestContext": None}, [1], "x"])
def test_a_payload_without_authorizer_context_passes_unchanged(payload: Any) -> None:
    assert without_authorizer_context(payload) == payload


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"policyDocument": {}}, id="no-principal"),
        pytest.param({"principalId": "p", "context": {"nested": {"a": 1}}}, id="nested-context"),
    ],
)
def test_answers_api_gateway_would_refuse(answer: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"(?i)authorizer"):
        with_authorizer_context(_event(), answer)


def test_policy_of_all_routes_covers_every_method_of_the_stage() -> None:
    answer = _allow(method_arn("GET", "/x"))

    assert policy_allows(answer, method_arn("POST", "/api/v2/system/api_key/ab12/rotate"))
    assert not policy_allows(answer, method_arn("POST", "/api/v2/email", stage="prod"))


def test_policy_deny_wins_and_silence_denies() -> None:
    arn = method_arn("POST", "/api/v2/email")
    parsed = APIGatewayAuthorizerRequestEvent({"methodArn": arn}).parsed_arn
    response = APIGatewayAuthorizerResponse(
        "p", parsed.region, parsed.aws_account_id, parsed.api_id, parsed.stage
    )
    response.allow_all_routes()
    response.deny_route("POST", "/api/v2/*")

    assert not policy_allows(response.asdict(), arn)
    assert policy_allows(response.asdict(), method_arn("GET", "/api/v2/system/service"))
    assert not policy_allows({"principalId": "p"}, arn)


# --- API Gateway's own answers ----------------------------------------------------------------


def test_gateway_response_as_the_template_shapes_it_else_the_default() -> None:
    shaped = gateway_response(RESPONSES, "UNAUTHORIZED")
    default = gateway_response(RESPONSES, "ACCESS_DENIED")

    assert (shaped["statusCode"], json.loads(shaped["body"])) == (401, {"error": {"code": 401}})
    assert shaped["headers"]["Content-Type"] == "application/json"
    assert default["statusCode"] == 403
    assert json.loads(default["body"]) == {
        "message": "User is not authorized to access this resource"
    }


class _Integration:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": "{}"}


def test_refused_key_is_answered_by_the_gateway() -> None:
    integration = _Integration()

    def refuse(_event: dict[str, Any]) -> Any:
        raise Exception(UNAUTHORIZED)  # API Gateway's contract

    answer = through_authorizer(_event(), refuse, integration, RESPONSES)

    assert answer == gateway_response(RESPONSES, "UNAUTHORIZED")
    assert integration.events == []


@pytest.mark.parametrize(
    ("authorize", "response_type"),
    [
        pytest.param(lambda _e: 1 / 0, "AUTHORIZER_FAILURE", id="raises"),
        pytest.param(lambda _e: "yes", "AUTHORIZER_CONFIGURATION_ERROR", id="not-a-policy"),
        pytest.param(lambda _e: {"principalId": "p"}, "ACCESS_DENIED", id="no-allow"),
    ],
)
def test_other_authorizer_outcomes(authorize: Any, response_type: str) -> None:
    integration = _Integration()

    answer = through_authorizer(_event(), authorize, integration, RESPONSES)

    assert answer == gateway_response(RESPONSES, response_type)
    assert integration.events == []


def test_allowed_request_reaches_the_integration_with_the_context() -> None:
    integration = _Integration()
    seen: list[dict[str, Any]] = []

    def allow(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return _allow(request["methodArn"], role="billing")

    answer = through_authorizer(_event(body="{}"), allow, integration, RESPONSES)

    assert answer == {"statusCode": 200, "body": "{}"}
    (event,) = integration.events
    assert event["body"] == "{}"
    assert event["requestContext"]["authorizer"] == {"principalId": "key-1", "role": "billing"}
    assert seen[0]["type"] == "REQUEST"
