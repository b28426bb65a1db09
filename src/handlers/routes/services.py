"""`/api/v2/system/service`: DreamFactory's service administration (admin keys only)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from core import runtime
from core.access.audit import audit
from core.record_query.fields import RecordFields
from handlers.answers import Deleted, ServiceList, ServiceView, documented, errors, listed
from handlers.batch_create import create_each
from handlers.http import caller
from handlers.record_lists import ListQuery, RecordQueryParameters, list_answer, record_answer
from handlers.request_bodies import ServicePatchBody, ServicesBody

router = Router()
TAGS = ["services"]
IdOrName = Annotated[str, Path(description="The service's name.", examples=["email"])]
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
    "The password goes to Secrets Manager and is never shown again.",
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
) -> Response[str]:
    return create_each(
        caller(router), services, runtime.service_repository().create, "service.create"
    )


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


@router.patch(
    "/api/v2/system/service/<id_or_name>",
    summary="Change a service",
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
    responses={200: documented("Deleted, with its password.", Deleted), **errors(401, 403, 404)},
)
def delete_service(id_or_name: IdOrName) -> dict[str, Any]:
    name = runtime.service_repository().get(id_or_name).name
    runtime.service_repository().delete(name)
    audit(caller(router), "service.delete", name)
    return {"name": name}
