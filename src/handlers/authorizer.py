"""API Gateway REQUEST authorizer: API key -> role, before the API function runs.

Allowed callers reach the API function with `key_id` and `role` in the request context;
anyone else gets API Gateway's 401 (shaped as DreamFactory's envelope by the template).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
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

# A missing table name or queue URL fails the cold start, naming it, not the first request.
check_settings()
logger = Logger()

# The exact message API Gateway turns into a 401 (anything else is a 500).
UNAUTHORIZED = "Unauthorized"


@logger.inject_lambda_context
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(
    event: APIGatewayAuthorizerRequestEvent, context: LambdaContext
) -> dict[str, Any]:
    presented = presented_api_key(event.headers, event.query_string_parameters)
    try:
        principal = runtime.authenticator().authenticate(presented)
    except Unauthorized:
        logger.info("key refused")
        raise Exception(UNAUTHORIZED) from None  # API Gateway's own contract
    arn = event.parsed_arn
    response = APIGatewayAuthorizerResponse(
        principal_id=principal.key_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"key_id": principal.key_id, "role": principal.role.name},
    )
    # One decision covers every route, so it stays right if API Gateway caches it.
    response.allow_all_routes()
    return response.asdict()
