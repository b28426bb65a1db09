"""`/api/v2/system/service`: DreamFactory's service administration (admin keys only)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from core import runtime
from core.access.audit import audit
from core.record_query.fields import RecordFields
from handlers.answers import DeletedRecord, ServiceList, ServiceView, documented, errors, listed
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
    PicksBody,
    ServiceChangesBody,
    ServicePatchBody,
    ServicesBody,
)

router = Router()
TAGS = ["services"]
IdOrName = Annotated[
    str,
    Path(description="The service's numeric id (all digits), or its name.", examples=["email"]),
]
KeepIds = Annotated[
    bool,
    Query(
        description="Keep each record's `id` (an import from DreamFactory): 409 "
        "`service_id_taken` when another service has it. Without it, an `id` is ignored."
    ),
]
FIELDS = RecordFields.of(ServiceView)
# DreamFactory's admin interface asks for a service's API documents; none are kept here.
EMPTY_RELATIONS = frozenset({"service_doc_by_service_id"})


@router.get(
    "/api/v2/system/service",
    summary="List services",
    tags=TAGS,
    responses={
        200: listed("The services selected; never a password", ServiceList),
        **errors(400, 401, 403, 404),
    },
)
def list_services(parameters: ListQuery) -> dict[str, Any] | int:
    services = runtime.service_repository().list()
    return list_answer(router, parameters, services, FIELDS, empty_relations=EMPTY_RELATIONS)


@router.post(
    "/api/v2/system/service",
    summary="Create services",
    description='One service, or several as `{"resource": [...]}` (answered in that form). '
    "The password goes to Secrets Manager and is never shown again. Each gets the next "
    "numeric `id`, or keeps its own with `keep_ids=true`.",
    tags=TAGS,
    responses={
        201: documented(
            'Created (a batch answers `{"resource": [...]}`).', ServiceView | ServiceList
        ),
        **errors(400, 401, 403, 409),
    },
)
def create_services(
    services: Annotated[ServicesBody, Body(description="A service, or a `resource` batch.")],
    keep_ids: KeepIds = False,
) -> Response[str]:
    create = partial(runtime.service_repository().create, keep_id=keep_ids)
    return create_each(caller(router), services, create, "service.create")


@router.get(
    "/api/v2/system/service/<id_or_name>",
    summary="Get a service",
    tags=TAGS,
    responses={
        200: documented("The service; never its password.", ServiceView),
        **errors(400, 401, 403, 404),
    },
)
def get_service(id_or_name: IdOrName, parameters: RecordQueryParameters) -> dict[str, Any]:
    service = runtime.service_repository().get(id_or_name)
    return record_answer(router, parameters, service, FIELDS, empty_relations=EMPTY_RELATIONS)


@router.route(
    "/api/v2/system/service/<id_or_name>",
    method=["PATCH", "PUT"],
    summary="Change a service",
    description="`PUT` is the same update, as in DreamFactory.",
    tags=TAGS,
    responses={
        200: documented("The service as changed.", ServiceView),
        **errors(400, 401, 403, 404),
    },
)
def update_service(
    id_or_name: IdOrName,
    patch: Annotated[ServicePatchBody, Body(description="The fields to change.")],
) -> dict[str, Any]:
    updated = runtime.service_repository().update(id_or_name, patch)
    config_keys = sorted(patch.get("config") or {}) if isinstance(patch.get("config"), dict) else []
    audit(
        caller(router),
        "service.update",
        updated.name,
        fields=sorted(patch),
        config_keys=config_keys,
    )
    return updated.public()


@router.delete(
    "/api/v2/system/service/<id_or_name>",
    summary="Delete a service",
    tags=TAGS,
    responses={
        200: documented("Deleted, with its password.", DeletedRecord),
        **errors(401, 403, 404),
    },
)
def delete_service(id_or_name: IdOrName) -> dict[str, Any]:
    deleted = runtime.service_repository().delete(id_or_name)
    audit(caller(router), "service.delete", deleted.name)
    return {"id": deleted.id, "name": deleted.name}


@router.route(
    "/api/v2/system/service",
    method=["PATCH", "PUT"],
    summary="Change services",
    description='DreamFactory\'s batch update: `{"resource": [...]}` (or a bare list), each '
    "record picked by its `id` (else its `name`) and changed as its own PATCH would; or one "
    "record applied to each of `ids`. Stops at the first record that fails (unless "
    "`continue=true`): that failure is the answer, its `context.resource` each record's outcome.",
    tags=TAGS,
    responses={
        200: documented("The services as changed.", ServiceList),
        **errors(400, 401, 403, 404),
    },
)
def update_services(
    changes: Annotated[ServiceChangesBody, Body(description="The changes.")],
    batch: BatchQuery,
) -> Response[str]:
    return update_each(changes, batch, update_service, as_given)


@router.delete(
    "/api/v2/system/service",
    summary="Delete services",
    description="DreamFactory's batch delete: the services `ids` names, or those of a "
    '`{"resource": [{"id": ...}]}` body (or `name`); with neither, a 400 (never all of them).'
    " Stops at the first that fails (unless `continue=true`).",
    tags=TAGS,
    responses={
        200: documented("Deleted.", Batch[DeletedRecord]),
        **errors(400, 401, 403, 404),
    },
)
def delete_services(
    batch: BatchQuery,
    picks: Annotated[PicksBody | None, Body(description="The services, by id or name.")] = None,
) -> Response[str]:
    return delete_each(picks, batch, delete_service)
