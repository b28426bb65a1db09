"""`/api/v2/system/role`: what each API key may do (admin keys only)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from core import runtime
from core.access.audit import audit
from core.access.model import Role
from core.access.repository import delete_unused_role
from core.validation import parse_records
from handlers.http import caller, json_body, json_object
from handlers.responses import json_response

router = Router()


@router.get("/api/v2/system/role")
def list_roles() -> dict[str, Any]:
    return {"resource": [role.public() for role in runtime.role_repository().list()]}


@router.post("/api/v2/system/role")
def create_roles() -> Response[str]:
    roles, batch = parse_records(Role, json_body(router))
    repository = runtime.role_repository()
    created = []
    for role in roles:
        created.append(repository.create(role).public())
        # At once: if a later record fails, the ones already created are still on the trail.
        audit(caller(router), "role.create", role.name)
    return json_response(201, {"resource": created} if batch else created[0])


@router.get("/api/v2/system/role/<name>")
def get_role(name: str) -> dict[str, Any]:
    return runtime.role_repository().get(name).public()


@router.patch("/api/v2/system/role/<name>")
def update_role(name: str) -> dict[str, Any]:
    patch = json_object(router)
    updated = runtime.role_repository().update(name, patch)
    audit(caller(router), "role.update", name, fields=sorted(patch))
    return updated.public()


@router.delete("/api/v2/system/role/<name>")
def delete_role(name: str) -> dict[str, Any]:
    delete_unused_role(runtime.role_repository(), runtime.api_key_repository(), name)
    audit(caller(router), "role.delete", name)
    return {"name": name}
