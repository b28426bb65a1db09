"""`/api/v2/system/api_key`: keys are shown in full once, when created or rotated."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from core import runtime
from core.access.audit import audit
from core.access.model import ApiKeyPatch, Rotation
from core.record_query.fields import RecordFields
from core.validation import parse_model
from handlers.answers import (
    ApiKeyList,
    ApiKeyView,
    DeletedKey,
    NewApiKey,
    documented,
    errors,
    listed,
)
from handlers.batch import (
    BatchQuery,
    delete_each,
    update_each,
)
from handlers.http import caller
from handlers.record_lists import ListQuery, RecordQueryParameters, list_answer, record_answer
from handlers.request_bodies import (
    ApiKeyBody,
    ApiKeyChangesBody,
    ApiKeyPatchBody,
    Batch,
    PicksBody,
    RotationBody,
)
from handlers.responses import json_response

router = Router()
TAGS = ["api keys"]
FIELDS = RecordFields.of(ApiKeyView)


@router.get(
    "/api/v2/system/api_key",
    summary="List API keys",
    description="Every key, the bootstrap admin key among them (id `bootstrap`, role"
    " `bootstrap-admin`); never a secret.",
    tags=TAGS,
    responses={
        200: listed("The keys selected; never a token", ApiKeyList),
        **errors(400, 401, 403, 404),
    },
)
def list_keys(parameters: ListQuery) -> dict[str, Any] | int:
    return list_answer(router, parameters, runtime.api_key_repository().list(), FIELDS)


@router.post(
    "/api/v2/system/api_key",
    summary="Create an API key",
    tags=TAGS,
    responses={
        201: documented("Created: its `key` is shown this once.", NewApiKey),
        **errors(400, 401, 403, 404),
    },
)
def create_key(key: Annotated[ApiKeyBody, Body(description="The key's role.")]) -> Response[str]:
    created, token = runtime.api_key_repository().create(key)
    audit(caller(router), "api_key.create", created.id, role=created.role)
    return json_response(201, {**created.public(), "key": token})


@router.get(
    "/api/v2/system/api_key/<key_id>",
    summary="Get an API key",
    tags=TAGS,
    responses={
        200: documented("The key; never its token.", ApiKeyView),
        **errors(400, 401, 403, 404),
    },
)
def get_key(key_id: str, parameters: RecordQueryParameters) -> dict[str, Any]:
    key = runtime.api_key_repository().get(key_id)
    return record_answer(router, parameters, key, FIELDS)


@router.route(
    "/api/v2/system/api_key/<key_id>",
    method=["PATCH", "PUT"],
    summary="Change an API key",
    description="Its label, its role, or whether it is enabled. `PUT` is the same update, as"
    " in DreamFactory. The bootstrap admin key's role cannot change; no change may leave the"
    " stack without an enabled admin key (409 `last_admin_key`).",
    tags=TAGS,
    responses={
        200: documented("The key as changed.", ApiKeyView),
        **errors(400, 401, 403, 404, 409),
    },
)
def update_key(
    key_id: str, patch: Annotated[ApiKeyPatchBody, Body(description="The fields to change.")]
) -> dict[str, Any]:
    updated = runtime.api_key_repository().update(key_id, patch)
    audit(caller(router), "api_key.update", key_id, **patch.model_dump(exclude_none=True))
    return updated.public()


@router.post(
    "/api/v2/system/api_key/<key_id>/rotate",
    summary="Rotate an API key",
    description="A new token for the same key; the old one keeps working `overlap_seconds`."
    " `bootstrap` rotates the bootstrap admin key: its new key is a secret without an id, also"
    " written to the stack's admin key secret.",
    tags=TAGS,
    responses={
        200: documented("Rotated: the new `key` is shown this once.", NewApiKey),
        **errors(400, 401, 403, 404),
    },
)
def rotate_key(
    key_id: str,
    body: Annotated[RotationBody | None, Body(description="Optional: no body, no overlap.")] = None,
) -> dict[str, Any]:
    rotation = body or Rotation()
    key, token = runtime.api_key_repository().rotate(key_id, rotation)
    audit(caller(router), "api_key.rotate", key_id, overlap_seconds=rotation.overlap_seconds)
    return {**key.public(), "key": token}


@router.delete(
    "/api/v2/system/api_key/<key_id>",
    summary="Delete an API key",
    description="Not the bootstrap admin key (409 `bootstrap_key_permanent`: disable it), nor"
    " the last enabled admin key (409 `last_admin_key`).",
    tags=TAGS,
    responses={
        200: documented("Deleted: the key works no more.", DeletedKey),
        **errors(401, 403, 404, 409),
    },
)
def delete_key(key_id: str) -> dict[str, Any]:
    runtime.api_key_repository().delete(key_id)
    audit(caller(router), "api_key.delete", key_id)
    return {"id": key_id}


@router.route(
    "/api/v2/system/api_key",
    method=["PATCH", "PUT"],
    summary="Change API keys",
    description='DreamFactory\'s batch update: `{"resource": [...]}` (or a bare list), each '
    "record picked by its `id` and changed as its own PATCH would; or one record applied to "
    "each of `ids`. Every change is checked before any is made; the batch stops at the first "
    "key that fails (unless `continue=true`): that failure is the answer, its "
    "`context.resource` each key's outcome.",
    tags=TAGS,
    responses={
        200: documented("The keys as changed.", ApiKeyList),
        **errors(400, 401, 403, 404, 409),
    },
)
def update_keys(
    changes: Annotated[ApiKeyChangesBody, Body(description="The changes.")],
    batch: BatchQuery,
) -> Response[str]:
    return update_each(changes, batch, update_key, _key_patch, by_name=False)


def _key_patch(change: dict[str, Any], place: str) -> ApiKeyPatch:
    return parse_model(ApiKeyPatch, change, prefix=place)


@router.delete(
    "/api/v2/system/api_key",
    summary="Delete API keys",
    description="DreamFactory's batch delete: the keys `ids` names, or those of a "
    '`{"resource": [{"id": ...}]}` body; with neither, a 400 (never all of them). Stops at '
    "the first that fails (unless `continue=true`).",
    tags=TAGS,
    responses={200: documented("Deleted.", Batch[DeletedKey]), **errors(400, 401, 403, 404, 409)},
)
def delete_keys(
    batch: BatchQuery,
    picks: Annotated[PicksBody | None, Body(description="The keys, by id.")] = None,
) -> Response[str]:
    return delete_each(picks, batch, delete_key, by_name=False)
