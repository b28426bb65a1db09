"""API Gateway entry point: DreamFactory's `/api/v2` routes, who may call them, one error map.

The routes live in `handlers/routes/`, one module per resource; the domain lives in `core`.
A POST naming another verb (DreamFactory's X-HTTP-Method) becomes that verb first. Each
request is authenticated, then validated against its route's signature, then routed.
Every error becomes DreamFactory's envelope in `_api_error` below. The API describes itself
at `/swagger` (`handlers.documentation`); that and `/api/v2/health` need no key, nor does a CORS
preflight from a listed origin (`handlers.cors`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.access import policy
from core.access.authentication import Principal, presented_api_key
from core.errors import EmailApiError, NotFound
from core.settings import check_settings, get_settings
from core.validation import invalid_request_from
from handlers import cors, documentation
from handlers.http import read_json
from handlers.methods import MethodNotAllowed, allowed_methods
from handlers.observed import entry_point, logger
from handlers.request_validation import ValidateRequest
from handlers.responses import error_response
from handlers.routes import (
    api_keys,
    batch_send,
    email_templates,
    health,
    messages,
    roles,
    send,
    service_tests,
    services,
    stats,
    suppression,
    webhooks,
)
from handlers.verb_override import refuse_bad_override, with_verb_override

# A missing table name or queue URL fails the cold start, naming it, not the first request.
check_settings()
# Validation is the middleware below, after authentication (see handlers.request_validation).
CORS = cors.cors_config(get_settings().cors_allowed_origins)
app = APIGatewayRestResolver(json_body_deserializer=read_json, cors=CORS)

ADMIN_PATHS = "/api/v2/system/"


def authenticate(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route needs a principal, but the documentation's; `/api/v2/system/*` needs an
    admin one. A listed origin's preflight needs none: it carries no key."""
    if documentation.is_public_path(app.current_event.path):
        return next_middleware(app)
    if cors.is_allowed_preflight(app.current_event, CORS):
        return next_middleware(app)
    principal = _principal(app)
    app.append_context(principal=principal)
    if app.current_event.path.startswith(ADMIN_PATHS):
        policy.require_admin(principal)
    return next_middleware(app)


def _principal(app: APIGatewayRestResolver) -> Principal:
    event = app.current_event
    # Behind API Gateway the authorizer has already checked the key and named its role.
    vouched = event.request_context.authorizer.get_context()
    if vouched.get("key_id") and vouched.get("role"):
        return runtime.authenticator().principal_for(vouched["key_id"], vouched["role"])
    # Invoked without it (sam local invoke, a test), or let through by it with no key in the
    # headers or query (its event has no body): check the key here, a POST's body's too. Only
    # a POST's: the authorizer lets no other verb on without a key, so a DELETE (sent as one,
    # or tunnelled through a POST) is authenticated here exactly as behind it.
    body = _json_body(app) if event.http_method.upper() == "POST" else None
    presented = presented_api_key(event.headers, event.query_string_parameters, body)
    return runtime.authenticator().authenticate(presented)


def _json_body(app: APIGatewayRestResolver) -> Any:
    """The parsed body, or None when there is none or it is no JSON (the route says so)."""
    if not app.current_event.body:
        return None
    try:
        return app.current_event.json_body
    except (EmailApiError, ValueError):  # ValueError: malformed JSON, or text not UTF-8
        return None


app.use(middlewares=[authenticate, refuse_bad_override, ValidateRequest()])
for routes in (
    health,
    send,
    batch_send,
    messages,
    services,
    service_tests,
    email_templates,
    roles,
    api_keys,
    suppression,
    stats,
    webhooks,
):
    app.include_router(routes.router)
documentation.describe(app)


@app.exception_handler(EmailApiError)
def _api_error(error: EmailApiError) -> Response[str]:
    return _refuse(error)


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response[str]:
    # DreamFactory's 400 with the field named, never the framework's 422.
    return _refuse(invalid_request_from(error.errors()))


def _refuse(error: EmailApiError) -> Response[str]:
    logger.info("request failed", extra={"status": error.status, "reason": error.reason})
    return error_response(error)


@app.exception_handler(Exception)
def _unexpected_error(error: Exception) -> Response[str]:
    logger.exception("unexpected error")
    return error_response(EmailApiError("Internal error."))


@app.not_found
def _no_route(_error: Exception) -> Response[str]:
    event = app.current_event
    allowed = allowed_methods(app, event.path)
    if not allowed:
        return error_response(NotFound("No such resource.", reason="route_not_found"))
    return error_response(MethodNotAllowed(event.http_method.upper(), allowed))


@entry_point(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A POST naming another verb (X-HTTP-Method...) is that verb from here on: routed,
    # authenticated and checked as it (handlers.verb_override).
    return app.resolve(with_verb_override(event), context)
