"""`/api/v2/system/email_template`: DreamFactory's stored email templates (admin keys only).

A template is addressed by its id or its name: a path segment of digits only is an id (names
are never all digits), anything else a name.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from core import runtime
from core.access.audit import audit
from core.record_query.fields import RecordFields
from core.templates.model import EmailTemplate
from handlers.answers import (
    DeletedTemplate,
    EmailTemplateList,
    ErrorAnswer,
    documented,
    errors,
    listed,
)
from handlers.batch_create import create_each
from handlers.http import caller
from handlers.record_lists import ListQuery, RecordQueryParameters, list_answer, record_answer
from handlers.request_bodies import EmailTemplatePatchBody, EmailTemplatesBody

router = Router()
TAGS = ["email templates"]
IdOrName = Annotated[
    str, Path(description="The template's id (digits only) or its name.", examples=["1"])
]
TOO_LARGE = {413: documented("The template is over 256 KiB of JSON.", ErrorAnswer)}
FIELDS = RecordFields.of(EmailTemplate)


@router.get(
    "/api/v2/system/email_template",
    summary="List email templates",
    tags=TAGS,
    responses={
        200: listed("The templates selected, by id", EmailTemplateList),
        **errors(400, 401, 403, 404),
    },
)
def list_templates(parameters: ListQuery) -> dict[str, Any] | int:
    return list_answer(router, parameters, runtime.template_repository().list(), FIELDS)


@router.post(
    "/api/v2/system/email_template",
    summary="Create email templates",
    description='One template, or several as `{"resource": [...]}` (answered in that form). '
    "Each gets the next id; names are unique.",
    tags=TAGS,
    responses={
        201: documented(
            'Created (a batch answers `{"resource": [...]}`).',
            EmailTemplate | EmailTemplateList,
        ),
        **errors(400, 401, 403, 409),
        **TOO_LARGE,
    },
)
def create_templates(
    templates: Annotated[
        EmailTemplatesBody, Body(description="A template, or a `resource` batch.")
    ],
) -> Response[str]:
    return create_each(
        caller(router), templates, runtime.template_repository().create, "email_template.create"
    )


@router.get(
    "/api/v2/system/email_template/<id_or_name>",
    summary="Get an email template",
    tags=TAGS,
    responses={200: documented("The template.", EmailTemplate), **errors(400, 401, 403, 404)},
)
def get_template(id_or_name: IdOrName, parameters: RecordQueryParameters) -> dict[str, Any]:
    template = runtime.template_repository().get(id_or_name)
    return record_answer(router, parameters, template, FIELDS)


@router.patch(
    "/api/v2/system/email_template/<id_or_name>",
    summary="Change an email template",
    description="The fields given replace the stored ones; `null` clears one. A new `name` "
    "renames it (its id stays).",
    tags=TAGS,
    responses={
        200: documented("The template as changed.", EmailTemplate),
        **errors(400, 401, 403, 404, 409),
        **TOO_LARGE,
    },
)
def update_template(
    id_or_name: IdOrName,
    patch: Annotated[EmailTemplatePatchBody, Body(description="The fields to change.")],
) -> dict[str, Any]:
    updated = runtime.template_repository().update(id_or_name, patch)
    audit(
        caller(router),
        "email_template.update",
        updated.name,
        id=updated.id,
        fields=sorted(patch),
    )
    return updated.public()


@router.delete(
    "/api/v2/system/email_template/<id_or_name>",
    summary="Delete an email template",
    tags=TAGS,
    responses={200: documented("Deleted.", DeletedTemplate), **errors(401, 403, 404)},
)
def delete_template(id_or_name: IdOrName) -> dict[str, Any]:
    deleted = runtime.template_repository().delete(id_or_name)
    audit(caller(router), "email_template.delete", deleted.name, id=deleted.id)
    return {"id": deleted.id, "name": deleted.name}
