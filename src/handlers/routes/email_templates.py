"""`/api/v2/system/email_template`: DreamFactory's stored email templates (admin keys only).

A template is addressed by its id or its name: a path segment of digits only is an id (names
are never all digits), anything else a name.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import AfterValidator

from core import runtime
from core.access.audit import audit
from core.record_query.fields import RecordFields
from core.templates.input import NewTemplate
from core.templates.model import EmailTemplate
from handlers.answers import (
    DeletedTemplate,
    EmailTemplateList,
    ErrorAnswer,
    documented,
    errors,
    listed,
)
from handlers.batch import (
    BatchQuery,
    as_given,
    create_each,
    delete_each,
    update_each,
)
from handlers.http import caller
from handlers.record_lists import ListQuery, RecordQueryParameters, list_answer, record_answer
from handlers.request_bodies import (
    Batch,
    EmailTemplateChangesBody,
    EmailTemplatePatchBody,
    EmailTemplatesBody,
    PicksBody,
)

router = Router()
TAGS = ["email templates"]
# A REST API hands the function its path still percent-encoded (`User%20Invite%20Default`):
# the name is what it encodes.
IdOrName = Annotated[
    str,
    Path(description="The template's id (digits only) or its name.", examples=["1"]),
    AfterValidator(unquote),
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
    "Each gets the next id, or with `keep_ids=true` the `id` it brings; names are unique.",
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
    keep_ids: Annotated[
        bool,
        Query(
            description="Keep each record's `id` (as `mailer import` does, so that clients "
            "sending DreamFactory's `template_id` reach the same template): 409 "
            "`template_id_taken` when another template has it. Without it, an `id` is ignored."
        ),
    ] = False,
) -> Response[str]:
    create = partial(create_template, keep_ids=keep_ids)
    return create_each(caller(router), templates, create, "email_template.create")


def create_template(template: NewTemplate, *, keep_ids: bool) -> EmailTemplate:
    keep_id = template.id if keep_ids else None
    return runtime.template_repository().create(template, keep_id=keep_id)


@router.get(
    "/api/v2/system/email_template/<id_or_name>",
    summary="Get an email template",
    tags=TAGS,
    responses={200: documented("The template.", EmailTemplate), **errors(400, 401, 403, 404)},
)
def get_template(id_or_name: IdOrName, parameters: RecordQueryParameters) -> dict[str, Any]:
    template = runtime.template_repository().get(id_or_name)
    return record_answer(router, parameters, template, FIELDS)


@router.route(
    "/api/v2/system/email_template/<id_or_name>",
    method=["PATCH", "PUT"],
    summary="Change an email template",
    description="The fields given replace the stored ones; `null` clears one. A new `name` "
    "renames it (its id stays). `PUT` is the same update, as in DreamFactory (whose admin "
    "interface saves a template with it).",
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


@router.route(
    "/api/v2/system/email_template",
    method=["PATCH", "PUT"],
    summary="Change email templates",
    description='DreamFactory\'s batch update: `{"resource": [...]}` (or a bare list), each '
    "record picked by its `id` (else its `name`) and changed as its own PATCH would; or one "
    "record applied to each of `ids`. Stops at the first record that fails (unless "
    "`continue=true`): that failure is the answer, its `context.resource` each record's outcome.",
    tags=TAGS,
    responses={
        200: documented("The templates as changed.", EmailTemplateList),
        **errors(400, 401, 403, 404, 409),
        **TOO_LARGE,
    },
)
def update_templates(
    changes: Annotated[EmailTemplateChangesBody, Body(description="The changes.")],
    batch: BatchQuery,
) -> Response[str]:
    return update_each(changes, batch, update_template, as_given)


@router.delete(
    "/api/v2/system/email_template",
    summary="Delete email templates",
    description="DreamFactory's batch delete: the templates `ids` names, or those of a "
    '`{"resource": [{"id": ...}]}` body; with neither, a 400 (never all of them). Stops at '
    "the first that fails (unless `continue=true`).",
    tags=TAGS,
    responses={
        200: documented("Deleted.", Batch[DeletedTemplate]),
        **errors(400, 401, 403, 404),
    },
)
def delete_templates(
    batch: BatchQuery,
    picks: Annotated[PicksBody | None, Body(description="The templates, by id or name.")] = None,
) -> Response[str]:
    return delete_each(picks, batch, delete_template)
