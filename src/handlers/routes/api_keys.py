"""`/api/v2/system/api_key`: keys are shown in full once, when created or rotated."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from core import runtime
from core.access.audit import audit
from core.access.model import ApiKeyInput, ApiKeyPatch, Rotation
from core.validation import parse_model
from handlers.http import caller, json_body, json_object
from handlers.responses import json_response

router = Router()


@router.get("/api/v2/system/api_key")
def list_keys() -> dict[str, Any]:
    return {"resource": [key.public() for key in runtime.api_key_repository().list()]}


@router.post("/api/v2/system/api_key")
def create_key() -> Response[str]:
    key, token = runtime.api_key_repository().create(parse_model(ApiKeyInput, json_body(router)))
    audit(caller(router), "api_key.create", key.id, role=key.role)
    return json_response(201, {**key.public(), "key": token})


@router.get("/api/v2/system/api_key/<key_id>")
def get_key(key_id: str) -> dict[str, Any]:
    return runtime.api_key_repository().get(key_id).public()


@router.patch("/api/v2/system/api_key/<key_id>")
def update_key(key_id: str) -> dict[str, Any]:
    patch = parse_model(ApiKeyPatch, json_object(router))
    updated = runtime.api_key_repository().update(key_id, patch)
    audit(caller(router), "api_key.update", key_id, **patch.model_dump(exclude_none=True))
    return updated.public()


@router.post("/api/v2/system/api_key/<key_id>/rotate")
def rotate_key(key_id: str) -> dict[str, Any]:
    body = json_body(router) if router.current_event.body else {}
    rotation = parse_model(Rotation, body)
    key, token = runtime.api_key_repository().rotate(key_id, rotation)
    audit(caller(router), "api_key.rotate", key_id, overlap_seconds=rotation.overlap_seconds)
    return {**key.public(), "key": token}


@router.delete("/api/v2/system/api_key/<key_id>")
def delete_key(key_id: str) -> dict[str, Any]:
    runtime.api_key_repository().delete(key_id)
    audit(caller(router), "api_key.delete", key_id)
    return {"id": key_id}
