"""DreamFactory's verb tunnelling: a POST that names another verb is taken as that verb.

df-core's `VerbOverrides` middleware (src/Http/Middleware/VerbOverrides.php, lines 27-43) reads,
for a POST, the `X-HTTP-Method` header, else `X-Method-Override`, else the `method` query
parameter; Symfony under it reads `X-HTTP-Method-Override` and `_method` first; and `MERGE` is
PATCH. Clients behind proxies that pass only GET and POST use it (DreamFactory's admin interface
deletes files with `X-Http-Method: DELETE`).

Here the event is rewritten before the resolver picks its route, so everything after it (the
route, authentication, the admin check, validation) sees the verb the request becomes and treats
it exactly as a request sent with that verb, on the same path. Only GET, PUT, PATCH, DELETE and
MERGE may be named: anything else leaves the POST as it is, and `refuse_bad_override` answers it
400 once its caller is known (a 401 comes first, as for any request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from core.errors import InvalidRequest

# Where a client may name the verb: headers (any case), then query parameters.
OVERRIDE_HEADERS = ("x-http-method-override", "x-http-method", "x-method-override")
OVERRIDE_PARAMETERS = ("_method", "method")
# The verb named -> the verb taken (DreamFactory's old MERGE is PATCH).
TUNNELLED_VERBS = {
    "GET": "GET",
    "PUT": "PUT",
    "PATCH": "PATCH",
    "DELETE": "DELETE",
    "MERGE": "PATCH",
}


def with_verb_override(event: dict[str, Any]) -> dict[str, Any]:
    """The API Gateway event as the verb its POST names (without the naming query parameter,
    which no route takes), or the event as it is."""
    named = _named_verbs(event)
    if len(named) != 1 or next(iter(named)) not in TUNNELLED_VERBS:
        return event  # none, or refused by `refuse_bad_override`
    verb = TUNNELLED_VERBS[next(iter(named))]
    return {
        **event,
        "httpMethod": verb,
        "requestContext": {**(event.get("requestContext") or {}), "httpMethod": verb},
        "queryStringParameters": _without_overrides(event.get("queryStringParameters")),
        "multiValueQueryStringParameters": _without_overrides(
            event.get("multiValueQueryStringParameters")
        ),
    }


def refuse_bad_override(
    app: APIGatewayRestResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    """400 for a POST still naming a verb: one that may not be tunnelled, or two that differ."""
    event = app.current_event
    named = _named_verbs(event.raw_event)
    if named:
        raise InvalidRequest(
            f"Cannot take this POST as {' or '.join(sorted(named))}: X-HTTP-Method,"
            " X-HTTP-Method-Override, X-Method-Override, ?method= and ?_method= may name one"
            f" of {', '.join(TUNNELLED_VERBS)}.",
            reason="invalid_method_override",
        )
    return next_middleware(app)


def _named_verbs(event: Mapping[str, Any]) -> set[str]:
    """The verbs a POST names (upper case; empty values name none, as in DreamFactory)."""
    if str(event.get("httpMethod", "")).upper() != "POST":
        return set()
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    named = [headers.get(name) for name in OVERRIDE_HEADERS]
    named += [query.get(name) for name in OVERRIDE_PARAMETERS]
    return {value.strip().upper() for value in named if isinstance(value, str) and value.strip()}


def _without_overrides(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    if parameters is None:
        return None
    kept = {name: value for name, value in parameters.items() if name not in OVERRIDE_PARAMETERS}
    return kept or None
