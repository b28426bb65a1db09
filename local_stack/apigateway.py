"""What API Gateway and the Lambda runtime hand a function, rebuilt for local calls.

API Gateway does more than pass a request on: it picks the route (or answers by itself when
none matches), runs the Lambda authorizer, and hands the integration the authorizer's verdict.
The functions here do each step as it does, on plain events, so the local gateway and the tests
share them.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote

from local_stack.environment import REGION

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

LOCAL_ACCOUNT = "123456789012"
LOCAL_API_ID = "local"
LOCAL_STAGE = "local"

# What an authorizer raises for API Gateway to answer 401 (any other error is a 500).
UNAUTHORIZED = "Unauthorized"

# (HTTP method, resource path as the template declares it: `/api/v2/system/role/{name}`)
Route = tuple[str, str]
# A Lambda proxy integration's answer: statusCode, headers, body (and isBase64Encoded).
ProxyAnswer = dict[str, Any]

# API Gateway's own answers when the template does not reshape them.
DEFAULT_GATEWAY_RESPONSES: dict[str, tuple[int, dict[str, Any]]] = {
    "MISSING_AUTHENTICATION_TOKEN": (403, {"message": "Missing Authentication Token"}),
    "UNAUTHORIZED": (401, {"message": "Unauthorized"}),
    "ACCESS_DENIED": (403, {"message": "User is not authorized to access this resource"}),
    "AUTHORIZER_FAILURE": (500, {"message": None}),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, {"message": None}),
}


@dataclass(frozen=True)
class MatchedRoute:
    """The route a request landed on, and its path parameters' values."""

    resource: str
    path_parameters: dict[str, str]


def match_route(routes: Iterable[Route], method: str, path: str) -> MatchedRoute | None:
    """The route API Gateway picks for `method path`: literal segments win over `{name}`
    ones. None where it answers MISSING_AUTHENTICATION_TOKEN without calling anything.

    `path` as the request line has it (percent-encoded), which a REST API passes on as the
    event's `path`; the path parameters are given decoded (`User%20Invite%20Default` is
    `User Invite Default`), as its `pathParameters` are."""
    segments = path.strip("/").split("/")
    best: tuple[tuple[bool, ...], MatchedRoute] | None = None
    for route_method, resource in routes:
        if route_method.upper() not in (method.upper(), "ANY"):
            continue
        parts = resource.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        parameters: dict[str, str] = {}
        literal: list[bool] = []
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}") and segment:
                parameters[part[1:-1]] = unquote(segment)
                literal.append(False)
            elif part == segment:
                literal.append(True)
            else:
                break
        else:
            rank = tuple(literal)
            if best is None or rank > best[0]:
                best = (rank, MatchedRoute(resource, parameters))
    return best[1] if best else None


def route_taken(routes: Iterable[Route], method: str, resource: str) -> Route:
    """Which of `resource`'s routes a `method` request took: the method's own if it has one,
    else its `ANY` route (API Gateway's order)."""
    own = (method.upper(), resource)
    return own if own in set(routes) else ("ANY", resource)


def routes_without_authorizer(template: Mapping[str, Any]) -> frozenset[Route]:
    """The API routes whose event says `Auth: {Authorizer: NONE}`: API Gateway calls their
    integration without asking the API's authorizer (here: the API's own documentation)."""
    return frozenset(
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::Serverless::Function"
        for event in (resource["Properties"].get("Events") or {}).values()
        if event.get("Type") == "Api"
        and (event["Properties"].get("Auth") or {}).get("Authorizer") == "NONE"
    )


def rest_api_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: str = "",
    body: str | None = None,
    route: MatchedRoute | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the deployed API would deliver it for `route`
    (without one, the path stands in for the resource)."""
    query_pairs = parse_qsl(query, keep_blank_values=True)
    header_map = dict(headers or {})
    resource = route.resource if route else path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": header_map or None,
        "multiValueHeaders": {name: [value] for name, value in header_map.items()} or None,
        "queryStringParameters": dict(query_pairs) or None,
        "multiValueQueryStringParameters": _multi(query_pairs) or None,
        "pathParameters": (route.path_parameters or None) if route else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method.upper(),
            # The local gateway's URLs carry no stage, as behind a custom domain: a stage here
            # would send Swagger UI's "Try it out" to /local/..., which nothing answers.
            "path": path,
            "stage": LOCAL_STAGE,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def method_arn(method: str, path: str, *, stage: str = LOCAL_STAGE) -> str:
    """The ARN of one call of the API, as API Gateway hands it to authorizers."""
    return (
        f"arn:aws:execute-api:{REGION}:{LOCAL_ACCOUNT}:{LOCAL_API_ID}/{stage}/"
        f"{method.upper()}{path}"
    )


def authorizer_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The REQUEST authorizer event API Gateway builds from a proxy event: the same request,
    without its body, and with the method ARN the authorizer's policy must cover."""
    context = dict(event.get("requestContext") or {})
    return {
        "type": "REQUEST",
        "methodArn": method_arn(
            event["httpMethod"], event["path"], stage=context.get("stage", LOCAL_STAGE)
        ),
        "resource": event["resource"],
        "path": event["path"],
        "httpMethod": event["httpMethod"],
        "headers": dict(event.get("headers") or {}),
        "multiValueHeaders": dict(event.get("multiValueHeaders") or {}),
        "queryStringParameters": dict(event.get("queryStringParameters") or {}),
        "multiValueQueryStringParameters": dict(event.get("multiValueQueryStringParameters") or {}),
        "pathParameters": dict(event.get("pathParameters") or {}),
        "stageVariables": dict(event.get("stageVariables") or {}),
        "requestContext": {**context, "accountId": LOCAL_ACCOUNT, "apiId": LOCAL_API_ID},
    }


def policy_allows(answer: Mapping[str, Any], arn: str) -> bool:
    """Whether the authorizer's policy lets `arn` be invoked: a matching Deny wins, then any
    matching Allow; nothing matching is a Deny."""
    effects = {
        statement.get("Effect")
        for statement in _as_list((answer.get("policyDocument") or {}).get("Statement"))
        if _covers(statement, arn)
    }
    return "Allow" in effects and "Deny" not in effects


def with_authorizer_context(event: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """`event` as the integration gets it once the authorizer allowed it: the answer's
    `principalId` and `context` in `requestContext.authorizer`, values as strings, as API
    Gateway passes them. `ValueError` for an answer API Gateway would refuse (its 500)."""
    principal = answer.get("principalId")
    if not isinstance(principal, str) or not principal:
        raise ValueError("The authorizer's answer has no principalId.")
    authorizer: dict[str, Any] = {"principalId": principal}
    for name, value in (answer.get("context") or {}).items():
        if isinstance(value, bool):
            authorizer[name] = str(value).lower()
        elif isinstance(value, str | int | float):
            authorizer[name] = str(value)
        else:
            raise ValueError(f"Authorizer context '{name}' is not a string, number or boolean.")
    context = {**(event.get("requestContext") or {}), "authorizer": authorizer}
    return {**event, "requestContext": context}


def without_authorizer_context(event: Any) -> Any:
    """`event` without `requestContext.authorizer`: what a caller other than API Gateway
    claims the authorizer said, which the API function must not take on trust."""
    if not isinstance(event, Mapping):
        return event
    context = event.get("requestContext")
    if not isinstance(context, Mapping) or "authorizer" not in context:
        return event
    kept = {name: value for name, value in context.items() if name != "authorizer"}
    return {**event, "requestContext": kept}


def deployed_gateway_responses(
    responses: Mapping[str, Mapping[str, Any]],
    parameters: Mapping[str, str],
    conditions: Mapping[str, bool],
) -> dict[str, dict[str, Any]]:
    """The template's `GatewayResponses` as CloudFormation deploys them with `parameters`: each
    header's `!If` decided by `conditions`, `!Ref AWS::NoValue` dropped, `${Name}` filled in.
    (The loader keeps `!If [condition, then, else]` as that list, `!Ref X` as `X`.)"""
    deployed: dict[str, dict[str, Any]] = {}
    for response_type, response in responses.items():
        deployed[response_type] = dict(response)
        given = (response.get("ResponseParameters") or {}).get("Headers")
        if given is None:
            continue
        headers = {
            name: value
            for name, value in (
                (name, _deployed_value(value, parameters, conditions))
                for name, value in given.items()
            )
            if value is not None
        }
        deployed[response_type]["ResponseParameters"] = {"Headers": headers}
    return deployed


def _deployed_value(
    value: Any, parameters: Mapping[str, str], conditions: Mapping[str, bool]
) -> str | None:
    if isinstance(value, list):
        condition, chosen, otherwise = value
        return _deployed_value(
            chosen if conditions[condition] else otherwise, parameters, conditions
        )
    if value == "AWS::NoValue":
        return None
    return re.sub(r"\$\{(\w+)\}", lambda name: parameters[name[1]], str(value))


def gateway_response(responses: Mapping[str, Mapping[str, Any]], response_type: str) -> ProxyAnswer:
    """API Gateway's own answer of `response_type`, as the template's `GatewayResponses`
    shape it (their templates are taken as literal JSON), else as API Gateway's default."""
    status, default_body = DEFAULT_GATEWAY_RESPONSES[response_type]
    body = json.dumps(default_body)
    headers = {"Content-Type": "application/json"}
    shaped = responses.get(response_type)
    if shaped is not None:
        status = int(shaped.get("StatusCode", status))
        body = (shaped.get("ResponseTemplates") or {}).get("application/json", body)
        for name, value in ((shaped.get("ResponseParameters") or {}).get("Headers") or {}).items():
            headers[name] = str(value).strip("'")
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def through_authorizer(
    event: dict[str, Any],
    authorize: Callable[[dict[str, Any]], Any],
    integrate: Callable[[dict[str, Any]], ProxyAnswer],
    responses: Mapping[str, Mapping[str, Any]],
) -> ProxyAnswer:
    """What API Gateway does for a route with a Lambda REQUEST authorizer: ask it about the
    request, then call the integration with its context, or answer by itself instead."""
    request = authorizer_event(event)
    try:
        answer = authorize(request)
    except Exception as error:
        refused = str(error) == UNAUTHORIZED
        return gateway_response(responses, "UNAUTHORIZED" if refused else "AUTHORIZER_FAILURE")
    if not isinstance(answer, Mapping):
        return gateway_response(responses, "AUTHORIZER_CONFIGURATION_ERROR")
    try:
        allowed = with_authorizer_context(event, answer)
    except ValueError:
        return gateway_response(responses, "AUTHORIZER_CONFIGURATION_ERROR")
    if not policy_allows(answer, request["methodArn"]):
        return gateway_response(responses, "ACCESS_DENIED")
    return integrate(allowed)


def _covers(statement: Mapping[str, Any], arn: str) -> bool:
    actions = _as_list(statement.get("Action"))
    if not any(action in ("execute-api:Invoke", "execute-api:*", "*") for action in actions):
        return False
    return any(
        _arn_pattern(resource).fullmatch(arn) for resource in _as_list(statement.get("Resource"))
    )


def _arn_pattern(resource: str) -> re.Pattern[str]:
    # In execute-api policies `*` matches any run of characters, `/` included.
    return re.compile(".*".join(re.escape(part) for part in str(resource).split("*")))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object the handlers use."""

    function_name: str = "local-email-api"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local-email-api"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local-email-api"
    log_stream_name: str = "local"
    # When the invocation must be over, by `time.monotonic()` (system-wide, so a container
    # process reads the deadline the stack set); default: `timeout_seconds` from creation.
    deadline: float | None = None
    _started: float = field(default_factory=time.monotonic)

    def typed(self) -> LambdaContext:
        """This context where a handler's signature names Powertools' `LambdaContext`: it has
        every attribute the handlers read, and that class has no constructor to fill them."""
        return cast("LambdaContext", self)

    def get_remaining_time_in_millis(self) -> int:
        deadline = self._started + self.timeout_seconds if self.deadline is None else self.deadline
        return max(0, int((deadline - time.monotonic()) * 1000))
