"""The template's Lambda functions, run in this process: handler, timeout and memory as declared.

`template.yaml` says which handler each function runs, so the local stack serves exactly the
functions a deployment has, under the names `sam local start-lambda` gives them (logical ids).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from local_stack.apigateway import LocalLambdaContext
from local_stack.environment import REGION
from local_stack.template_tables import load_template

# A handler takes an event and a context; ours is a LocalLambdaContext, which has the
# attributes of Powertools' LambdaContext without being one, hence `Any`.
Handler = Callable[[Any, Any], Any]

LOCAL_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class LocalFunction:
    name: str
    handler: str  # "module.function", relative to CodeUri (src/)
    timeout_seconds: float
    memory_mb: int
    serves_api: bool

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
        events = (properties.get("Events") or {}).values()
        functions[logical_id] = LocalFunction(
            name=logical_id,
            handler=properties["Handler"],
            timeout_seconds=float(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
            serves_api=any(event.get("Type") == "Api" for event in events),
        )
    return functions
