"""API Gateway REQUEST authorizer: API key -> role, before the API function runs.

Allowed callers reach the API function with `key_id` and `role` in the request context;
anyone else gets API Gateway's 401 (shaped as DreamFactory's envelope by the template).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.access.authentication import presented_api_key
from core.errors import Unauthorized
from core.settings import check_settings
from handlers.observed import entry_point, logger

# A missing table name or queue URL fails the cold start, naming it, not the first request.
check_settings()

# The exact message API Gateway turns into a 401 (anything else is a 500).
UNAUTHORIZED = "Unauthorized"


@entry_point()
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(
    event: APIGatewayAuthorizerRequestEvent, context: LambdaContext
) -> dict[str, Any]:
    presented = presented_api_key(event.headers, event.query_string_parameters)
    if presented is None and event.http_method == "POST":
        # DreamFactory also reads `api_key` from a JSON body, which this event lacks: with no
        # key in the headers or query, a POST goes on unvouched, and the API function checks
        # the body's key itself (a 401 there, the same answer, when it has none).
        return _allowed(event, key_id="", role="")
    try:
        principal = runtime.authenticator().authenticate(presented)
    except Unauthorized:
        logger.info("key refused")
        raise Exception(UNAUTHORIZED) from None  # API Gateway's own contract
    return _allowed(event, key_id=principal.key_id, role=principal.role.name)


def _allowed(event: APIGatewayAuthorizerRequestEvent, *, key_id: str, role: str) -> dict[str, Any]:
    arn = event.parsed_arn
    response = APIGatewayAuthorizerResponse(
        principal_id=key_id or "unvouched",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"key_id": key_id, "role": role},
    )
    # One decision covers every route, so it stays right if API Gateway caches it.
    response.allow_all_routes()
    return response.asdict()
