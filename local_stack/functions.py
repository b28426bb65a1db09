"""The template's Lambda functions, run in this process: handler, timeout and memory as declared,
and its REST API as the local gateway plays it: routes, authorizer and API Gateway's own answers.

`template.yaml` says which handler each function runs, so the local stack serves exactly the
functions a deployment has, under the names `sam local start-lambda` gives them (logical ids).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from local_stack.apigateway import LOCAL_ACCOUNT, LocalLambdaContext, Route
from local_stack.environment import REGION
from local_stack.template_tables import load_template

# A handler takes an event and a context; ours is a LocalLambdaContext, which has the
# attributes of Powertools' LambdaContext without being one, hence `Any`.
Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class LocalFunction:
    name: str
    handler: str  # "module.function", relative to CodeUri (src/)
    timeout_seconds: float
    memory_mb: int

    def invoke(self, event: Any) -> Any:
        """Run the handler on `event` with a fresh context, as one Lambda invocation."""
        context = LocalLambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{LOCAL_ACCOUNT}:function:{self.name}",
            log_group_name=f"/aws/lambda/{self.name}",
        )
        return self._function(event, context)

    @cached_property
    def _function(self) -> Handler:
        # Imported on first use, like a cold start: after the environment is in place.
        module, _, attribute = self.handler.rpartition(".")
        function: Handler = getattr(importlib.import_module(module), attribute)
        return function


def template_functions() -> dict[str, LocalFunction]:
    """Every `AWS::Serverless::Function` of the template, by logical id."""
    template = load_template()
    defaults = template.get("Globals", {}).get("Function", {})
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource["Properties"]}
        functions[logical_id] = LocalFunction(
            name=logical_id,
            handler=properties["Handler"],
            timeout_seconds=float(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
        )
    return functions


@dataclass(frozen=True)
class LocalApi:
    """The template's REST API: the function behind its routes, and what runs before it."""

    function: str  # logical id of the function whose Api events are the routes
    routes: tuple[Route, ...]
    # Logical id of the function the API's DefaultAuthorizer runs; None: no authorizer.
    authorizer: str | None
    # The template's GatewayResponses: type (UNAUTHORIZED, ...) -> StatusCode, templates.
    gateway_responses: dict[str, dict[str, Any]]


def template_api() -> LocalApi:
    """The template's one `AWS::Serverless::Api`, its routes and its Lambda authorizer."""
    template = load_template()
    resources = template["Resources"]
    (api_id,) = [
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Api"
    ]
    properties = resources[api_id].get("Properties", {})
    routes: dict[str, list[Route]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") == "Api" and event["Properties"].get("RestApiId") == api_id:
                route = (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
                routes.setdefault(logical_id, []).append(route)
    if len(routes) != 1:
        raise ValueError(f"Expected exactly one function behind {api_id}, found {sorted(routes)}.")
    ((function, function_routes),) = routes.items()
    return LocalApi(
        function=function,
        routes=tuple(function_routes),
        authorizer=_default_authorizer(properties.get("Auth") or {}),
        gateway_responses=dict(properties.get("GatewayResponses") or {}),
    )


def _default_authorizer(auth: dict[str, Any]) -> str | None:
    """The function behind `DefaultAuthorizer` (`FunctionArn: !GetAtt <function>.Arn`)."""
    name = auth.get("DefaultAuthorizer")
    if not name or name == "AWS_IAM":
        return None
    function_arn = auth["Authorizers"][name]["FunctionArn"]
    # The loader keeps `!GetAtt X.Arn` as "X.Arn"; the long form is ["X", "Arn"].
    target = function_arn if isinstance(function_arn, str) else ".".join(function_arn)
    function, _, attribute = target.partition(".")
    if attribute != "Arn":
        raise ValueError(f"Authorizer {name}: expected `!GetAtt <function>.Arn`, not {target!r}.")
    return function
