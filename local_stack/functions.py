"""The template's Lambda functions: handler, timeout, memory and concurrency as declared, and its
REST API as the local gateway plays it: routes, authorizer and API Gateway's own answers.

`template.yaml` says which handler each function runs, so the local stack serves exactly the
functions a deployment has, under the names `sam local start-lambda` gives them (logical ids).
Each runs in containers of its own (`local_stack.containers`); `LocalFunction.invoke` is the
handler run in the calling process, which is what one container does with one event.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from local_stack.apigateway import (
    LOCAL_ACCOUNT,
    LocalLambdaContext,
    Route,
    deployed_gateway_responses,
)
from local_stack.environment import REGION
from local_stack.template_tables import TEMPLATE, load_template

# A handler takes an event and a context; ours is a LocalLambdaContext, which has the
# attributes of Powertools' LambdaContext without being one, hence `Any`.
Handler = Callable[[Any, Any], Any]

# Containers per function where the template sets no limit (ReservedConcurrentExecutions, or
# an SQS event source's MaximumConcurrency): enough to run a few requests side by side without
# a process per request. LOCAL_CONCURRENCY changes it.
DEFAULT_CONCURRENCY = 4
CONCURRENCY_SETTING = "LOCAL_CONCURRENCY"


@dataclass(frozen=True)
class LocalFunction:
    name: str
    handler: str  # "module.function", relative to CodeUri (src/)
    timeout_seconds: float
    memory_mb: int
    # The most containers, so invocations, it runs at once.
    concurrency: int = DEFAULT_CONCURRENCY
    # CodeUri: the directory the handler's module is imported from.
    code_dir: Path = TEMPLATE.parent / "src"

    def invoke(self, event: Any) -> Any:
        """Run the handler on `event` here, with a fresh context, as one Lambda invocation."""
        return self.load()(event, self.context())

    def context(
        self, *, request_id: str | None = None, deadline: float | None = None
    ) -> LocalLambdaContext:
        """The context of one invocation ending at `deadline` (`time.monotonic()`; default:
        the function's timeout from now)."""
        context = LocalLambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{LOCAL_ACCOUNT}:function:{self.name}",
            log_group_name=f"/aws/lambda/{self.name}",
            deadline=deadline if deadline is not None else time.monotonic() + self.timeout_seconds,
        )
        if request_id is not None:
            context.aws_request_id = request_id
        return context

    def load(self) -> Handler:
        """The handler, imported on first use, like a cold start: after the environment is set."""
        return self._function

    @cached_property
    def _function(self) -> Handler:
        module, _, attribute = self.handler.rpartition(".")
        function: Handler = getattr(importlib.import_module(module), attribute)
        return function


def template_functions(environ: Mapping[str, str] = os.environ) -> dict[str, LocalFunction]:
    """Every `AWS::Serverless::Function` of the template, by logical id. A function's
    concurrency is its ReservedConcurrentExecutions, else the MaximumConcurrency of its SQS
    event sources, else LOCAL_CONCURRENCY (default 4)."""
    template = load_template()
    defaults = template.get("Globals", {}).get("Function", {})
    parameters = template.get("Parameters") or {}
    fallback = default_concurrency(environ)
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
            concurrency=_concurrency(properties, parameters) or fallback,
            code_dir=TEMPLATE.parent / str(properties.get("CodeUri", ".")),
        )
    return functions


def default_concurrency(environ: Mapping[str, str] = os.environ) -> int:
    """LOCAL_CONCURRENCY, or 4: containers per function where the template sets no limit."""
    raw = environ.get(CONCURRENCY_SETTING, "").strip()
    if not raw:
        return DEFAULT_CONCURRENCY
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(
            f"{CONCURRENCY_SETTING} must be a whole number of containers, 1 or more, not {raw!r}."
        )
    return int(raw)


def template_value(value: Any, parameters: Mapping[str, Any]) -> Any:
    """`value`, or the default of the parameter it names (the loader keeps `!Ref X` as "X")."""
    if isinstance(value, str) and value in parameters:
        return parameters[value].get("Default")
    return value


def _concurrency(properties: Mapping[str, Any], parameters: Mapping[str, Any]) -> int | None:
    reserved = template_value(properties.get("ReservedConcurrentExecutions"), parameters)
    if reserved is not None:
        return int(reserved)
    # A function only its queues invoke scales with them: each source's poller runs at most
    # MaximumConcurrency invocations at once.
    limits = [
        template_value(
            (event["Properties"].get("ScalingConfig") or {}).get("MaximumConcurrency"), parameters
        )
        for event in (properties.get("Events") or {}).values()
        if event.get("Type") == "SQS"
    ]
    given = [int(limit) for limit in limits if limit is not None]
    return sum(given) if given else None


@dataclass(frozen=True)
class LocalApi:
    """The template's REST API: the function behind its routes, and what runs before it."""

    function: str  # logical id of the function whose Api events are the routes
    routes: tuple[Route, ...]
    # Logical id of the function the API's DefaultAuthorizer runs; None: no authorizer.
    authorizer: str | None
    # The template's GatewayResponses: type (UNAUTHORIZED, ...) -> StatusCode, templates.
    gateway_responses: dict[str, dict[str, Any]]


def template_api(parameters: Mapping[str, str] | None = None) -> LocalApi:
    """The template's one `AWS::Serverless::Api`, its routes and its Lambda authorizer, as
    deployed with `parameters` (the others keep their defaults): they shape its own answers."""
    template = load_template()
    values = {
        name: str(parameter.get("Default", ""))
        for name, parameter in (template.get("Parameters") or {}).items()
    }
    values.update(parameters or {})
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
        gateway_responses=deployed_gateway_responses(
            properties.get("GatewayResponses") or {}, values, template_conditions(values)
        ),
    )


def template_conditions(parameters: Mapping[str, str]) -> dict[str, bool]:
    """The template's conditions the API's own answers depend on, as CloudFormation decides
    them for `parameters`. The loader keeps no tags (`!Not`, `!Equals`), so each is restated
    here; `tests/unit/test_local_gateway_cors.py` checks each against CloudFormation's reading."""
    origins = parameters.get("CorsAllowedOrigins", "")
    # HasOneCorsOrigin: not empty, and no comma (joining its split on "," changes nothing).
    return {"HasOneCorsOrigin": origins != "" and "," not in origins}


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
