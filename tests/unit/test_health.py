"""`GET /api/v2/health`: answered to anyone, with the status and the version alone."""

from __future__ import annotations

import json

import pytest

from handlers.documentation import VERSION
from local_stack.apigateway import LocalLambdaContext
from tests.support.api import call_api
from tests.support.events import load_event


@pytest.mark.parametrize("via_authorizer", [True, False], ids=["behind-the-authorizer", "bare"])
def test_the_health_check_needs_no_key_and_says_nothing_else(via_authorizer: bool) -> None:
    answer = call_api("GET", "/api/v2/health", api_key=None, via_authorizer=via_authorizer)

    assert answer.status == 200
    assert answer.body == {"status": "ok", "version": VERSION}


def test_the_health_event_is_answered_by_the_api_function() -> None:
    from handlers import api

    reply = api.lambda_handler(load_event("health.json"), LocalLambdaContext().typed())

    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == {"status": "ok", "version": VERSION}


def test_another_method_on_the_health_path_is_a_405_not_a_401() -> None:
    answer = call_api("DELETE", "/api/v2/health", api_key=None)

    assert answer.status == 405
