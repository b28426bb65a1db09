"""`/api/v2/system/role`: what each API key may do (admin keys only)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from core import runtime
from core.access.audit import audit
from core.access.model import Role
from core.access.repository import delete_unused_role
from core.record_query.fields import RecordFields
from handlers.answers import Deleted, RoleList, documented, errors, listed
from handlers.batch_create import create_each
from handlers.http import caller
from handlers.record_lists import ListQuery, RecordQueryParameters, list_answer, record_answer
from handlers.request_bodies import RolePatchBody, RolesBody

router = Router()
TAGS = ["roles"]
IdOrName = Annotated[str, Path(description="The role's name.", examples=["mailer"])]
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
    description='One role, or several as `{"resource": [...]}` (answered in that form).',
    tags=TAGS,
    responses={
        201: documented('Created (a batch answers `{"resource": [...]}`).', Role | RoleList),
        **errors(400, 401, 403, 409),
    },
)
def create_roles(
    roles: Annotated[RolesBody, Body(description="A role, or a `resource` batch.")],
) -> Response[str]:
    return create_each(caller(router), roles, runtime.role_repository().create, "role.create")


@router.get(
    "/api/v2/system/role/<id_or_name>",
    summary="Get a role",
    tags=TAGS,
    responses={200: documented("The role.", Role), **errors(400, 401, 403, 404)},
)
def get_role(id_or_name: IdOrName, parameters: RecordQueryParameters) -> dict[str, Any]:
    role = runtime.role_repository().get(id_or_name)
    return record_answer(router, parameters, role, FIELDS, empty_relations=EMPTY_RELATIONS)


@router.patch(
    "/api/v2/system/role/<id_or_name>",
    summary="Change a role",
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
    responses={200: documented("Deleted.", Deleted), **errors(401, 403, 404, 409)},
)
def delete_role(id_or_name: IdOrName) -> dict[str, Any]:
    name = runtime.role_repository().get(id_or_name).name
    delete_unused_role(runtime.role_repository(), runtime.api_key_repository(), name)
    audit(caller(router), "role.delete", name)
    return {"name": name}
