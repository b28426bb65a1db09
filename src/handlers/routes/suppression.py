"""`/api/v2/system/suppression`: the addresses sends leave out, for admins to see, add and
remove (permanent bounces and complaints add themselves)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from core import runtime
from core.access.audit import audit
from core.services.model import SERVICE_NAME
from core.suppression.model import ACCOUNT_WIDE, Reason, Source, Suppression, normalized
from handlers.answers import DeletedSuppression, SuppressionList, documented, errors
from handlers.http import caller
from handlers.request_bodies import SuppressionBody
from handlers.responses import json_response

router = Router()
TAGS = ["suppression"]
# A service's name, or `*`: never empty (an empty scope is no filter a user meant).
SCOPE_PATTERN = rf"^(\*|{SERVICE_NAME.pattern[1:-1]})$"
SERVICE_SCOPE = "A service's name: its own entries only; `*`: the account-wide ones."


@router.get(
    "/api/v2/system/suppression",
    summary="List suppressed addresses",
    description="A page at a time, `limit` entries at most (fewer with a `reason` filter, with "
    "more pages still to come while `meta.next_cursor` is not null).",
    tags=TAGS,
    responses={200: documented("One page of the list.", SuppressionList), **errors(400, 401, 403)},
)
def list_suppressions(
    limit: Annotated[int, Query(ge=1, le=100, description="Entries per page.")] = 100,
    cursor: Annotated[
        str | None, Query(description="The `meta.next_cursor` of the page before.")
    ] = None,
    service: Annotated[str | None, Query(pattern=SCOPE_PATTERN, description=SERVICE_SCOPE)] = None,
    reason: Annotated[Reason | None, Query(description="Only entries added for it.")] = None,
) -> dict[str, Any]:
    page = runtime.suppressions().page(service=service, reason=reason, limit=limit, cursor=cursor)
    return {
        "resource": [entry.model_dump(mode="json") for entry in page.entries],
        "meta": {"next_cursor": page.next_cursor},
    }


@router.post(
    "/api/v2/system/suppression",
    summary="Suppress an address",
    description="Sends leave it out from now on: through every service, or through `service` "
    "only. An entry already there takes the new reason.",
    tags=TAGS,
    responses={
        201: documented("Added.", Suppression),
        **errors(400, 401, 403, 404),
    },
)
def add_suppression(
    entry: Annotated[SuppressionBody, Body(description="The address and why.")],
) -> Response[str]:
    principal = caller(router)
    scope = ACCOUNT_WIDE
    if entry.service is not None:
        runtime.service_repository().by_name(entry.service)  # a typo would suppress nothing
        scope = entry.service
    added = runtime.suppressions().add(
        entry.email, entry.reason, scope, Source(key_id=principal.key_id)
    )
    audit(principal, "suppression.add", added.email, scope=scope, reason=added.reason.value)
    return json_response(201, added.model_dump(mode="json"))


@router.delete(
    "/api/v2/system/suppression/<email>",
    summary="Stop suppressing an address",
    tags=TAGS,
    responses={
        200: documented("Removed: sends reach it again.", DeletedSuppression),
        **errors(400, 401, 403, 404),
    },
)
def remove_suppression(
    email: str,
    service: Annotated[
        str | None,
        Query(pattern=SCOPE_PATTERN, description="The service scope to remove it from."),
    ] = None,
) -> dict[str, Any]:
    address = normalized(unquote(email))  # `@` may come percent-encoded
    scope = service or ACCOUNT_WIDE
    runtime.suppressions().remove(address, scope)
    audit(caller(router), "suppression.remove", address, scope=scope)
    return {"email": address, "scope": scope}
