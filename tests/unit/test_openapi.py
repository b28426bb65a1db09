"""The API's OpenAPI document: committed and current, complete, served at /swagger without a key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from core.errors import InvalidRequest
from core.outcomes import Queued, Sent, Unconfirmed
from handlers import api, documentation
from handlers.answers import ErrorAnswer, QueuedAnswer, SentAnswer
from handlers.openapi import COMMITTED, REGENERATE, document
from handlers.responses import error_body, send_answer
from local_stack.apigateway import (
    LocalLambdaContext,
    match_route,
    rest_api_event,
    routes_without_authorizer,
)
from local_stack.functions import template_api
from local_stack.template_tables import load_template
from tests.support.api import ADMIN_KEY

DOCUMENT: dict[str, Any] = json.loads(document())
BODY_METHODS = ("post", "put", "patch")


def test_the_committed_document_is_current() -> None:
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""

    assert committed == document(), (
        f"{COMMITTED.name} differs from the API's routes: regenerate it with"
        f" `cd src && {REGENERATE}` and commit it."
    )


def _resolver_routes() -> list[Any]:
    return [*api.app._static_routes, *api.app._dynamic_routes]


def _schema(reference: dict[str, Any]) -> dict[str, Any]:
    name = reference["$ref"].rpartition("/")[2]
    schema: dict[str, Any] = DOCUMENT["components"]["schemas"][name]
    return schema


def _example_holders(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a request body may be: itself, or each of its `anyOf` (null aside)."""
    options = schema.get("anyOf", [schema])
    return [
        _schema(option) if "$ref" in option else option
        for option in options
        if option != {"type": "null"}
    ]


def test_every_route_is_documented_with_a_summary_tags_and_answers() -> None:
    for route in _resolver_routes():
        if (route.method, route.openapi_path) in documentation.PUBLIC_ROUTES:
            continue
        operation = DOCUMENT["paths"][route.openapi_path][route.method.lower()]

        assert operation["summary"], route.openapi_path
        assert operation["tags"], route.openapi_path
        successes = [status for status in operation["responses"] if status.startswith("2")]
        assert successes, (route.method, route.openapi_path)
        for status in successes:
            assert operation["responses"][status]["content"]["application/json"]["schema"]
        error = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorAnswer"}


def test_every_body_is_documented_with_an_example() -> None:
    for route in _resolver_routes():
        if not route.dependant.body_params:
            assert route.method.lower() not in BODY_METHODS, route.openapi_path
            continue
        operation = DOCUMENT["paths"][route.openapi_path][route.method.lower()]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]

        for holder in _example_holders(schema):
            assert holder.get("examples"), (route.method, route.openapi_path, holder.get("title"))


def test_every_answer_model_has_an_example() -> None:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                schema = answer["content"]["application/json"]["schema"]
                holders = _example_holders(_schema(schema) if "$ref" in schema else schema)
                listed = [h for h in holders if "resource" in h.get("properties", {})]
                if listed:  # DreamFactory's {"resource": [...]}: the items carry the example
                    holders = [_schema(h["properties"]["resource"]["items"]) for h in listed]
                for holder in holders:
                    assert holder.get("examples"), (method, path, status)


def test_the_key_may_come_in_any_of_dreamfactorys_three_places() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]

    assert {(s["in"], s["name"]) for s in schemes.values()} == {
        ("header", "X-DreamFactory-API-Key"),
        ("header", "X-API-Key"),
        ("query", "api_key"),
    }
    # Alternatives: each requirement names one scheme, and any one suffices.
    assert DOCUMENT["security"] == [{name: []} for name in schemes]


def test_validation_errors_are_documented_as_the_400_envelope_never_422() -> None:
    # A 422 is only ever the send's `all_recipients_suppressed`, in the error envelope; never
    # Powertools' own validation answer.
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            if (answer := operation["responses"].get("422")) is not None:
                assert "suppression list" in answer["description"]
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorAnswer"}


# --- served at /swagger, without a key -----------------------------------------------------------


def _get(path: str, query: str = "", api_key: str | None = None) -> dict[str, Any]:
    """The API function's answer to a GET, as API Gateway hands it the request."""
    headers = {"X-DreamFactory-API-Key": api_key} if api_key else {}
    route = match_route(template_api().routes, "GET", path)
    event = rest_api_event("GET", path, headers=headers, query=query, route=route)
    answer: dict[str, Any] = api.lambda_handler(event, LocalLambdaContext().typed())
    return answer


def _content_type(answer: dict[str, Any]) -> str:
    return str(answer["multiValueHeaders"]["Content-Type"][0])


@pytest.mark.usefixtures("aws")
def test_swagger_ui_is_served_without_a_key_and_loads_its_assets_from_here() -> None:
    answer = _get("/swagger")

    assert answer["statusCode"] == 200
    assert _content_type(answer).startswith("text/html")
    for asset in documentation.ASSETS:
        assert f"'swagger/{asset}'" in answer["body"]
    assert "://" not in answer["body"].split("<script>")[0]  # no CDN


@pytest.mark.usefixtures("aws")
def test_the_served_document_is_the_committed_one() -> None:
    answer = _get("/swagger", query="format=json")

    assert answer["statusCode"] == 200
    served = json.loads(answer["body"])
    # Only the server differs: the stage the request came through.
    assert {**served, "servers": DOCUMENT["servers"]} == DOCUMENT


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(("asset", "content_type"), documentation.ASSETS.items())
def test_swagger_ui_assets_are_served_without_a_key(asset: str, content_type: str) -> None:
    answer = _get(f"/swagger/{asset}")

    assert answer["statusCode"] == 200
    assert _content_type(answer) == content_type
    assert len(answer["body"]) > 100_000
    assert "max-age" in answer["multiValueHeaders"]["Cache-Control"][0]


@pytest.mark.usefixtures("aws")
def test_an_unknown_asset_is_a_404() -> None:
    answer = _get("/swagger/passwd")

    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["reason"] == "route_not_found"


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    "path", ["/api/v2/system/service", "/api/v2/system/role", "/api/v2/email/messages/x"]
)
def test_every_other_route_still_needs_a_key(path: str) -> None:
    refused = _get(path)
    allowed = _get(path, api_key=ADMIN_KEY)

    assert refused["statusCode"] == 401
    assert json.loads(refused["body"])["error"]["reason"] == "unauthorized"
    assert allowed["statusCode"] != 401


def test_api_gateway_asks_no_authorizer_for_the_documentation_and_preflights_only() -> None:
    # Its routes, and any other method on their paths (answered 405); and CORS preflights
    # (OPTIONS), which carry no key: the function answers them (handlers.cors).
    open_routes = routes_without_authorizer(load_template())

    assert {route for route in open_routes if route[0] != "OPTIONS"} == (
        documentation.PUBLIC_ROUTES | {("ANY", path) for _, path in documentation.PUBLIC_ROUTES}
    )


# --- the documented answers are the ones given ---------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "model"),
    [
        pytest.param(
            Sent(id="1", message_id="<1@x>", accepted=["a@example.com"]), 200, SentAnswer, id="sent"
        ),
        pytest.param(
            Sent(id="1", message_id="<1@x>", accepted=[], refused={"b@example.com": "550 no"}),
            200,
            SentAnswer,
            id="sent-refused",
        ),
        pytest.param(
            Queued(id="1", message_id="<1@x>", status="queued"), 202, QueuedAnswer, id="queued"
        ),
        pytest.param(
            Queued(id="1", message_id="<1@x>", status="scheduled", send_at="2026-12-24T09:00:00Z"),
            202,
            QueuedAnswer,
            id="scheduled",
        ),
        pytest.param(
            Unconfirmed(message="It may have gone.", reason="outcome_unknown"),
            502,
            ErrorAnswer,
            id="unconfirmed",
        ),
    ],
)
def test_send_answers_are_shaped_as_documented(
    outcome: Any, status: int, model: type[BaseModel]
) -> None:
    answered_status, body = send_answer(outcome)

    assert answered_status == status
    assert model.model_validate(body).model_dump(exclude_none=True) == body
    assert str(status) in DOCUMENT["paths"]["/api/v2/{service}"]["post"]["responses"]


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequest("Invalid 'to'.", reason="invalid_address", context={"field": "to"}),
        InvalidRequest("Request body is not valid JSON.", reason="invalid_json"),
    ],
)
def test_errors_are_shaped_as_documented(error: InvalidRequest) -> None:
    body = error_body(error)

    assert ErrorAnswer.model_validate(body).model_dump(exclude_none=True) == body
