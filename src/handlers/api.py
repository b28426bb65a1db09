"""API Gateway entry point: DreamFactory's `/api/v2` routes, one exception map.

Each route reads its input, calls one core function and returns its result; the domain
lives in `core`. Every error becomes DreamFactory's envelope in `_api_error` below.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.errors import EmailApiError, InvalidRequest, NotFound
from core.send_request import parse_send_request
from core.services.model import parse_service_inputs

logger = Logger()
app = APIGatewayRestResolver()

API_KEY_HEADERS = ("X-DreamFactory-API-Key", "X-API-Key")


def require_admin_key(
    app: APIGatewayRestResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    """Until roles arrive, the bootstrap admin key guards every route."""
    event = app.current_event
    # Powertools' headers mapping is case-insensitive, as HTTP header names are.
    presented = next(
        (key for name in API_KEY_HEADERS if (key := event.headers.get(name))), None
    ) or (event.query_string_parameters or {}).get("api_key")
    runtime.admin_key().verify(presented)
    return next_middleware(app)


app.use(middlewares=[require_admin_key])


# --- sending --------------------------------------------------------------------------------


@app.post("/api/v2/<service>")
def send_email(service: str) -> dict[str, Any]:
    request = parse_send_request(_json_body())
    deadline = runtime.send_deadline(_remaining_millis())
    return runtime.mailer().send(service, request, deadline).as_response()


# --- services (DreamFactory's system API) ------------------------------------------------------


@app.get("/api/v2/system/service")
def list_services() -> dict[str, Any]:
    return {"resource": [service.public() for service in runtime.service_repository().list()]}


@app.post("/api/v2/system/service")
def create_services() -> Response[str]:
    inputs, batch = parse_service_inputs(_json_body())
    repository = runtime.service_repository()
    created = [repository.create(service).public() for service in inputs]
    for service in created:
        logger.info("service created", extra={"email_service": service["name"]})
    return _json(201, {"resource": created} if batch else created[0])


@app.get("/api/v2/system/service/<name>")
def get_service(name: str) -> dict[str, Any]:
    return runtime.service_repository().get(name).public()


@app.patch("/api/v2/system/service/<name>")
def update_service(name: str) -> dict[str, Any]:
    patch = _json_body()
    if not isinstance(patch, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    updated = runtime.service_repository().update(name, patch)
    logger.info("service updated", extra={"email_service": name, "fields": sorted(patch)})
    return updated.public()


@app.delete("/api/v2/system/service/<name>")
def delete_service(name: str) -> dict[str, Any]:
    runtime.service_repository().delete(name)
    logger.info("service deleted", extra={"email_service": name})
    return {"name": name}


# --- errors -----------------------------------------------------------------------------------


@app.exception_handler(EmailApiError)
def _api_error(error: EmailApiError) -> Response[str]:
    logger.info("request failed", extra={"status": error.status, "reason": error.reason})
    return _json(error.status, error.envelope())


@app.exception_handler(Exception)
def _unexpected_error(error: Exception) -> Response[str]:
    logger.exception("unexpected error")
    return _json(500, EmailApiError("Internal error.").envelope())


@app.not_found
def _no_route(_error: Exception) -> Response[str]:
    return _json(404, NotFound("No such resource.", reason="route_not_found").envelope())


# --- plumbing ---------------------------------------------------------------------------------


def _json_body() -> Any:
    try:
        return app.current_event.json_body
    except (json.JSONDecodeError, TypeError) as error:
        raise InvalidRequest("Request body is not valid JSON.", reason="invalid_json") from error


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def _remaining_millis() -> int | None:
    context = app.lambda_context
    return context.get_remaining_time_in_millis() if context is not None else None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
