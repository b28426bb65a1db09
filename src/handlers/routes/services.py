"""`/api/v2/system/service`: DreamFactory's service administration (admin keys only)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from core import runtime
from core.access.audit import audit
from core.services.model import ServiceInput
from core.validation import parse_records
from handlers.http import caller, json_body, json_object
from handlers.responses import json_response

router = Router()


@router.get("/api/v2/system/service")
def list_services() -> dict[str, Any]:
    return {"resource": [service.public() for service in runtime.service_repository().list()]}


@router.post("/api/v2/system/service")
def create_services() -> Response[str]:
    inputs, batch = parse_records(ServiceInput, json_body(router))
    repository = runtime.service_repository()
    created = []
    for service in inputs:
        created.append(repository.create(service).public())
        # At once: if a later record fails, the ones already created are still on the trail.
        audit(caller(router), "service.create", service.name)
    return json_response(201, {"resource": created} if batch else created[0])


@router.get("/api/v2/system/service/<name>")
def get_service(name: str) -> dict[str, Any]:
    return runtime.service_repository().get(name).public()


@router.patch("/api/v2/system/service/<name>")
def update_service(name: str) -> dict[str, Any]:
    patch = json_object(router)
    updated = runtime.service_repository().update(name, patch)
    config_keys = sorted(patch.get("config") or {}) if isinstance(patch.get("config"), dict) else []
    audit(caller(router), "service.update", name, fields=sorted(patch), config_keys=config_keys)
    return updated.public()


@router.delete("/api/v2/system/service/<name>")
def delete_service(name: str) -> dict[str, Any]:
    runtime.service_repository().delete(name)
    audit(caller(router), "service.delete", name)
    return {"name": name}
