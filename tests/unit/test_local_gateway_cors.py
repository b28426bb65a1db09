"""API Gateway's own answers and CORS, as the template deploys them and the local gateway plays
them: with one listed origin they name it (a page can read its 401 or 404); with several, or
none, they name none (a gateway response cannot pick one by the request's `Origin`, and echoing
`Origin` would allow every page)."""

from __future__ import annotations

import pytest

from local_stack.apigateway import DEFAULT_GATEWAY_RESPONSES, gateway_response
from local_stack.config import LocalConfig
from local_stack.functions import template_api, template_conditions
from local_stack.template_tables import load_template

# The template's intrinsic functions, evaluated as CloudFormation does.
from tests.unit.test_template_ses_policy import Deployment

APP = "https://app.example.com"


@pytest.mark.parametrize(
    "origins", ["", APP, "*", f"{APP},http://localhost:8080", f"{APP},", ",", "a,b,c"]
)
def test_the_local_gateway_decides_the_templates_condition_as_cloudformation_does(
    origins: str,
) -> None:
    deployed = Deployment(CorsAllowedOrigins=origins)

    assert template_conditions({"CorsAllowedOrigins": origins}) == {
        "HasOneCorsOrigin": deployed.conditions["HasOneCorsOrigin"]
    }


def _response_types() -> list[str]:
    return list(load_template()["Resources"]["EmailApi"]["Properties"]["GatewayResponses"])


def _headers(origins: str | None) -> dict[str, dict[str, str]]:
    """Each gateway response type's headers, as deployed with CorsAllowedOrigins=`origins`."""
    api = template_api(None if origins is None else {"CorsAllowedOrigins": origins})
    return {
        response_type: response["ResponseParameters"]["Headers"]
        for response_type, response in api.gateway_responses.items()
    }


def test_with_one_origin_every_gateway_answer_names_it() -> None:
    assert _headers(APP) == {
        response_type: {"Access-Control-Allow-Origin": f"'{APP}'"}
        for response_type in _response_types()
    }


@pytest.mark.parametrize("origins", [None, "", f"{APP},http://localhost:8080"])
def test_with_several_or_none_no_gateway_answer_names_an_origin(origins: str | None) -> None:
    assert _headers(origins) == {response_type: {} for response_type in _response_types()}


@pytest.mark.parametrize("response_type", sorted(DEFAULT_GATEWAY_RESPONSES))
def test_the_local_gateway_answers_with_the_deployed_headers(response_type: str) -> None:
    """The types the local gateway answers itself (a refused key, an unknown path)."""
    named = gateway_response(
        template_api({"CorsAllowedOrigins": APP}).gateway_responses, response_type
    )
    unnamed = gateway_response(template_api().gateway_responses, response_type)

    assert named["headers"] == {
        "Content-Type": "application/json",
        "Access-Control-Allow-Origin": APP,
    }
    assert unnamed["headers"] == {"Content-Type": "application/json"}


def test_the_local_stack_reads_the_functions_own_variable() -> None:
    """The API function reads CORS_ALLOWED_ORIGINS itself (its containers inherit the stack's
    environment); the gateway plays the template with the same value."""
    config = LocalConfig.from_env({"CORS_ALLOWED_ORIGINS": f" {APP} "})

    assert config.cors_allowed_origins == APP
    assert LocalConfig.from_env({}).cors_allowed_origins == ""
