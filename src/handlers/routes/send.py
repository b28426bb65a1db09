"""`POST /api/v2/{service}`: DreamFactory's send call, now or queued (`?async=true`,
`Prefer: respond-async` or `send_at`), at most once per `Idempotency-Key`."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query

from core import runtime
from core.access.authentication import without_api_key
from core.preview import Preview
from core.send_request import SendRequest
from handlers.answers import QueuedAnswer, SentAnswer, documented, errors
from handlers.http import caller
from handlers.request_bodies import SendBody
from handlers.responses import json_response, quota_headers, send_answer

router = Router()

# A template's id in the query string: digits naming a number from 1 (empty: none).
TEMPLATE_ID = r"^(0*[1-9][0-9]*)?$"
# DreamFactory's apps send their session (often empty) with each call; there are no sessions
# here, only API keys, so they are accepted and ignored rather than refused.
SESSION_IGNORED = "DreamFactory's session parameter: accepted and ignored (an API key is needed)."


@router.post(
    "/api/v2/<service>",
    summary="Send an email",
    description='DreamFactory\'s send call: the same body, the same `{"count": N}` answer. '
    "At least one recipient and one body are required, unless a stored template (`template` "
    "or `template_id`, in the body or the query string) brings them. `{placeholder}`s in the "
    "subject and bodies take their values from the service's `parameters`, the template and "
    "its `defaults`, every top-level string of the request, and `template_data` (which wins).",
    tags=["send"],
    responses={
        200: documented("Sent: the SMTP server accepted `count` recipients.", SentAnswer),
        202: documented("Queued for the worker, or scheduled for `send_at`.", QueuedAnswer),
        **errors(400, 401, 403, 404, 409, 413, 422, 429, 502, 503, 504),
    },
)
def send_email(
    service: str,
    request: Annotated[SendBody, Body(description="DreamFactory's email body.")],
    asynchronous: Annotated[
        str | None,
        Query(alias="async", description="`true` (or `1`): queue it and answer 202 at once."),
    ] = None,
    prefer: Annotated[
        str | None, Header(alias="Prefer", description="`respond-async` does as `?async=true`.")
    ] = None,
    preview: Annotated[
        str | None,
        Query(description="`true`: answer with what would be sent, as `/preview` does."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="A repeat with the same key and body gets the first answer again; "
            "nothing is sent twice.",
        ),
    ] = None,
    template: Annotated[
        str | None,
        Query(description="A stored template's name to start from (as `template` in the body)."),
    ] = None,
    template_id: Annotated[
        str | None,
        Query(
            pattern=TEMPLATE_ID,
            description="A stored template's id to start from (as `template_id` in the body).",
        ),
    ] = None,
    session_id: Annotated[str | None, Query(description=SESSION_IGNORED)] = None,
    session_token: Annotated[str | None, Query(description=SESSION_IGNORED)] = None,
) -> Response[str]:
    request = request.with_template_named(template, template_id)
    if _flag(preview):
        return _preview(service, request)
    # What an idempotency key is held to: the body (a JSON object, parsed once by the
    # validation before), and the template, which the query string may name.
    body = without_api_key(router.current_event.json_body)
    if request.names_template:
        body = {**body, "template": request.template, "template_id": request.template_id}
    # The send's message events (accepted, then sent) go to their consumers in one publish.
    with runtime.message_records().held():
        outcome = runtime.dispatcher().dispatch(
            caller(router),
            service,
            request,
            body,
            asynchronous=_wants_async(asynchronous, prefer),
            idempotency_key=idempotency_key,
            lambda_context=router.lambda_context,
        )
    status, body = send_answer(outcome)
    return json_response(status, body, quota_headers(outcome.quota))


@router.post(
    "/api/v2/<service>/preview",
    summary="Preview an email",
    description="Every check a send gets, then what it would send: the headers, the envelope "
    "(Bcc recipients included), the text and HTML parts, each attachment's name, type and "
    "size, and the size on the wire. Nothing is sent and no record kept; the work counts "
    "against the role's rate limits as a send does (the provider's limits are not used).",
    tags=["send"],
    responses={
        200: documented("What the send would hand to the SMTP server.", Preview),
        **errors(400, 401, 403, 404, 413, 422, 429),
    },
)
def preview_email(
    service: str,
    request: Annotated[SendBody, Body(description="The body a send would take.")],
    template: Annotated[str | None, Query(description="As for a send.")] = None,
    template_id: Annotated[
        str | None, Query(pattern=TEMPLATE_ID, description="As for a send.")
    ] = None,
) -> Response[str]:
    return _preview(service, request.with_template_named(template, template_id))


def _preview(service: str, request: SendRequest) -> Response[str]:
    previewed = runtime.mailer().preview(caller(router), service, request)
    return json_response(
        200, previewed.preview.model_dump(mode="json"), quota_headers(previewed.quota)
    )


def _wants_async(flag: str | None, prefer: str | None) -> bool:
    return _flag(flag) or "respond-async" in (prefer or "").lower()


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")
