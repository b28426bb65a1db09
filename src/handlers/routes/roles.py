"""`/api/v2/system/role`: what each API key may do (admin keys only)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from core import runtime
from core.access.audit import audit
from core.access.model import Role
from core.access.repository import delete_unused_role
from core.record_query.fields import RecordFields
from handlers.answers import DeletedRecord, RoleList, documented, errors, listed
from handlers.batch import (
    BatchQuery,
    as_given,
    create_each,
    delete_each,
    update_each,
)
from handlers.http import caller
from handlers.record_lists import ListQuery, RecordQueryParameters, list_answer, record_answer
from handlers.request_bodies import Batch, PicksBody, RoleChangesBody, RolePatchBody, RolesBody

router = Router()
TAGS = ["roles"]
IdOrName = Annotated[
    str, Path(description="The role's numeric id (all digits), or its name.", examples=["mailer"])
]
KeepIds = Annotated[
    bool,
    Query(
        description="Keep each record's `id` (an import from DreamFactory): 409 "
        "`role_id_taken` when another role has it. Without it, an `id` is ignored."
    ),
]
FIELDS = RecordFields.of(Role)
# DreamFactory's admin interface lists roles with their lookup keys; there are none here.
EMPTY_RELATIONS = frozenset({"lookup_by_role_id"})


@router.get(
    "/api/v2/system/role",
    summary="List roles",
    tags=TAGS,
    responses={200: listed("The roles selected", RoleList), **errors(400, 401, 403, 404)},
)
def list_roles(parameters: ListQuery) -> dict[str, Any] | int:
    roles = runtime.role_repository().list()
    return list_answer(router, parameters, roles, FIELDS, empty_relations=EMPTY_RELATIONS)


@router.post(
    "/api/v2/system/role",
    summary="Create roles",
    description='One role, or several as `{"resource": [...]}` (answered in that form). Each '
    "gets the next numeric `id`, or keeps its own with `keep_ids=true`.",
    tags=TAGS,
    responses={
        201: documented('Created (a batch answers `{"resource": [...]}`).', Role | RoleList),
        **errors(400, 401, 403, 409),
    },
)
def create_roles(
    roles: Annotated[RolesBody, Body(description="A role, or a `resource` batch.")],
    keep_ids: KeepIds = False,
) -> Response[str]:
    create = partial(runtime.role_repository().create, keep_id=keep_ids)
    return create_each(caller(router), roles, create, "role.create")


@router.get(
    "/api/v2/system/role/<id_or_name>",
    summary="Get a role",
    tags=TAGS,
    responses={200: documented("The role.", Role), **errors(400, 401, 403, 404)},
)
def get_role(id_or_name: IdOrName, parameters: RecordQueryParameters) -> dict[str, Any]:
    role = runtime.role_repository().get(id_or_name)
    return record_answer(router, parameters, role, FIELDS, empty_relations=EMPTY_RELATIONS)


@router.route(
    "/api/v2/system/role/<id_or_name>",
    method=["PATCH", "PUT"],
    summary="Change a role",
    description="`PUT` is the same update, as in DreamFactory.",
    tags=TAGS,
    responses={200: documented("The role as changed.", Role), **errors(400, 401, 403, 404)},
)
def update_role(
    id_or_name: IdOrName,
    patch: Annotated[RolePatchBody, Body(description="The fields to replace.")],
) -> dict[str, Any]:
    updated = runtime.role_repository().update(id_or_name, patch)
    audit(caller(router), "role.update", updated.name, fields=sorted(patch))
    return updated.public()


@router.delete(
    "/api/v2/system/role/<id_or_name>",
    summary="Delete a role",
    description="Only a role no API key has.",
    tags=TAGS,
    responses={200: documented("Deleted.", DeletedRecord), **errors(401, 403, 404, 409)},
)
def delete_role(id_or_name: IdOrName) -> dict[str, Any]:
    deleted = delete_unused_role(
        runtime.role_repository(), runtime.api_key_repository(), id_or_name
    )
    audit(caller(router), "role.delete", deleted.name)
    return {"id": deleted.id, "name": deleted.name}


@router.route(
    "/api/v2/system/role",
    method=["PATCH", "PUT"],
    summary="Change roles",
    description='DreamFactory\'s batch update: `{"resource": [...]}` (or a bare list), each '
    "record picked by its `id` (else its `name`) and changed as its own PATCH would; or one "
    "record applied to each of `ids`. Stops at the first record that fails (unless "
    "`continue=true`): that failure is the answer, its `context.resource` each record's outcome.",
    tags=TAGS,
    responses={
        200: documented("The roles as changed.", RoleList),
        **errors(400, 401, 403, 404),
    },
)
def update_roles(
    changes: Annotated[RoleChangesBody, Body(description="The changes.")],
    batch: BatchQuery,
) -> Response[str]:
    return update_each(changes, batch, update_role, as_given)


@router.delete(
    "/api/v2/system/role",
    summary="Delete roles",
    description="DreamFactory's batch delete: the roles `ids` names, or those of a "
    '`{"resource": [{"id": ...}]}` body (or `name`); with neither, a 400 (never all of them).'
    " Stops at the first that fails (unless `continue=true`). A role an API key has is a 409,"
    " as one DELETE.",
    tags=TAGS,
    responses={
        200: documented("Deleted.", Batch[DeletedRecord]),
        **errors(400, 401, 403, 404, 409),
    },
)
def delete_roles(
    batch: BatchQuery,
    picks: Annotated[PicksBody | None, Body(description="The roles, by id or name.")] = None,
) -> Response[str]:
    return delete_each(picks, batch, delete_role)
