"""template.yaml against the code it deploys: handlers, settings, API routes and IAM scope."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from handlers.api import app
from local_stack.template_tables import TEMPLATE, load_template

REPO = TEMPLATE.parent
API_HANDLER = "handlers.api.lambda_handler"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Services whose data a wildcard resource would open to every function in the account.
SCOPED_SERVICES = ("dynamodb:", "secretsmanager:")


def _functions() -> dict[str, dict[str, Any]]:
    """Logical id -> properties of each function, with `Globals.Function` folded in as SAM does."""
    template = load_template()
    defaults = template.get("Globals", {}).get("Function", {})
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource["Properties"]}
        properties["Environment"] = {
            "Variables": {
                **defaults.get("Environment", {}).get("Variables", {}),
                **resource["Properties"].get("Environment", {}).get("Variables", {}),
            }
        }
        functions[logical_id] = properties
    return functions


FUNCTIONS = _functions()


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template, including inside `!If` branches."""
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            yield node
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(("logical_id", "function"), FUNCTIONS.items(), ids=list(FUNCTIONS))
def test_handler_is_a_callable_in_the_code_sam_builds(
    logical_id: str, function: dict[str, Any]
) -> None:
    code_uri = (REPO / function["CodeUri"]).resolve()
    module_name, _, attribute = function["Handler"].rpartition(".")

    module = importlib.import_module(module_name)

    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(code_uri), logical_id
    assert callable(getattr(module, attribute, None)), function["Handler"]


def test_environment_variables_are_ones_the_settings_read() -> None:
    aliases = {field.validation_alias for field in Settings.model_fields.values()}
    required = {
        field.validation_alias for field in Settings.model_fields.values() if field.is_required()
    }

    for logical_id, function in FUNCTIONS.items():
        names = set(function["Environment"]["Variables"])
        unknown = {name for name in names - aliases if not name.startswith("POWERTOOLS_")}
        assert not unknown, f"{logical_id} sets variables no setting reads: {sorted(unknown)}"
        assert required <= names, f"{logical_id} misses required settings"


def test_api_function_knows_the_admin_key_secret() -> None:
    # Without it every request is a 401.
    (api_function,) = (f for f in FUNCTIONS.values() if f["Handler"] == API_HANDLER)

    assert api_function["Environment"]["Variables"]["ADMIN_KEY_SECRET_ID"] == "AdminApiKeySecret"


def test_api_routes_are_exactly_the_resolvers_routes() -> None:
    template_routes = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for function in FUNCTIONS.values()
        if function["Handler"] == API_HANDLER
        for event in function.get("Events", {}).values()
        if event["Type"] == "Api"
    }
    resolver_routes = {
        (method.upper(), path)
        for path, item in (app.get_openapi_schema().paths or {}).items()
        for method in HTTP_METHODS
        if getattr(item, method) is not None
    }

    assert template_routes == resolver_routes


def test_only_the_api_function_has_api_events() -> None:
    for function in FUNCTIONS.values():
        if function["Handler"] != API_HANDLER:
            assert not function.get("Events"), function["Handler"]


def test_function_policies_are_inline_statements() -> None:
    # Policy templates and managed policies grant what this file cannot see; keep grants here.
    for logical_id, function in FUNCTIONS.items():
        for policy in function.get("Policies", []):
            assert isinstance(policy, dict), f"{logical_id}: {policy}"
            assert set(policy) <= {"Version", "Statement"}, f"{logical_id}: {sorted(policy)}"


def test_no_data_service_statement_has_a_wildcard_resource() -> None:
    statements = list(_statements(load_template()["Resources"]))
    scoped = [
        statement
        for statement in statements
        if any(str(action).startswith(SCOPED_SERVICES) for action in _as_list(statement["Action"]))
    ]

    assert scoped, "no DynamoDB or Secrets Manager grants found: is the walker blind?"
    for statement in scoped:
        assert "Resource" in statement, statement
        assert "*" not in _as_list(statement["Resource"]), statement
        assert not any(str(action).endswith(":*") for action in _as_list(statement["Action"]))
