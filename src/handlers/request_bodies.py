"""What each route takes as its body: documented as a model, checked by the project's parser.

Powertools validates a route's body against the type its parameter declares. Each type here
hands that validation to the parser core already uses (so the send body gets the same cheap
checks first, the same messages and the same `reason`s from any entry point, and is validated
once), while the OpenAPI document shows the model, its fields and its example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, create_model
from pydantic.config import JsonDict

from core.access.authentication import without_api_key
from core.access.model import ApiKeyInput, ApiKeyPatch, Role, RoleInput, Rotation
from core.batch.envelope import MAX_BATCH_ITEMS, BatchEnvelope, parse_batch
from core.errors import InvalidRequest
from core.send_request import SendRequest, parse_send_request
from core.services.config_input import SmtpConfigInput
from core.services.model import ServiceBase, ServiceInput
from core.suppression.model import SuppressionInput
from core.templates.input import NewTemplate, TemplateInput
from core.templates.model import EXAMPLE as TEMPLATE_EXAMPLE
from core.validation import parse_model
from core.webhooks.model import PingInput, WebhookInput
from handlers.batch_failure import failed_batch
from handlers.documentation import DocumentOnly

Model = TypeVar("Model", bound=BaseModel)
Item = TypeVar("Item")


def checked_as(documented: Any, parse: Callable[[Any], Any]) -> PlainValidator:
    """Validation by `parse`; the document shows `documented`."""
    return PlainValidator(parse, json_schema_input_type=documented)


def _model(model: type[Model]) -> Callable[[Any], Model]:
    return lambda body: parse_model(model, body)


def _json_object(body: Any) -> dict[str, Any]:
    # The repositories check the fields of a PATCH themselves, against what is stored.
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


# --- send ----------------------------------------------------------------------------------


def _send_body(body: Any) -> SendRequest:
    # Recipients and bodies may still come from a template the query string names: the
    # route checks the request is complete once it knows (`with_template_named`).
    # The body's `api_key` is the caller's key (checked already), not a placeholder value.
    return parse_send_request(without_api_key(body), complete=False)


SendBody = Annotated[SendRequest, checked_as(SendRequest, _send_body)]


# --- a batch of sends (not DreamFactory's) --------------------------------------------------------


class BatchRecipient(DocumentOnly):
    """One recipient of the shared message: its copy is addressed to them alone."""

    model_config = ConfigDict(extra="forbid")

    email: str
    name: str | None = None
    template_data: dict[str, Any] | None = Field(
        default=None, description="Values for this copy, over the message's `template_data`."
    )


_BATCH_EXAMPLE: JsonDict = {
    "message": {
        "subject": "Your order {order_id}",
        "body_text": "Hello {first_name}, your order {order_id} has shipped.",
        "from_email": "shop@example.com",
    },
    "recipients": [
        {
            "email": "john@example.com",
            "name": "John Doe",
            "template_data": {"first_name": "John", "order_id": "A-1001"},
        },
        {
            "email": "jane@example.com",
            "template_data": {"first_name": "Jane", "order_id": "A-1002"},
        },
    ],
}


class BatchMessages(DocumentOnly):
    """Each send body as it is, each with its own answer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "messages": [
                        {"to": "john@example.com", "subject": "Hi John", "body_text": "Hello"},
                        {"to": "jane@example.com", "subject": "Hi Jane", "body_text": "Hello"},
                    ]
                }
            ]
        },
    )

    # Each item is judged on its own: one that is no valid send body is its own result's 400,
    # not the batch's (so the document lets any item through, and shows what a good one is).
    messages: list[SendRequest | Any] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class SharedMessage(SendRequest):
    """The message every recipient of a batch gets a copy of: a send body with a body or a
    template (each copy adds only its recipient), and no `to`, `cc` or `bcc` of its own."""

    model_config = ConfigDict(
        defer_build=True,
        json_schema_extra={
            "anyOf": [
                {"required": [field]}
                for field in ("template", "template_id", "body_text", "body_html")
            ],
            "examples": [_BATCH_EXAMPLE["message"]],
        },
    )


class BatchRecipients(DocumentOnly):
    """One message, one copy per recipient; the message itself names no `to`, `cc` or `bcc`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_BATCH_EXAMPLE]})

    message: SharedMessage
    # As `messages`' items: a bad recipient entry is its own copy's 400.
    recipients: list[BatchRecipient | Any] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


BatchBody = Annotated[BatchEnvelope, checked_as(BatchMessages | BatchRecipients, parse_batch)]


# --- DreamFactory's create: one record, or a batch --------------------------------------------


class Batch(DocumentOnly, Generic[Model]):
    """DreamFactory's batch form: `{"resource": [record, ...]}`."""

    resource: list[Model] = Field(min_length=1)


@dataclass(frozen=True)
class Records(Generic[Item]):
    """The records a create names, and whether they came as a batch (the answer's shape)."""

    items: list[Item]
    batch: bool


def _records(model: type[Model]) -> Callable[[Any], Records[Model]]:
    """Every record checked before any is written; a refused one answers as a failed batch
    (where nothing was written), as DreamFactory's admin interface reads it."""

    def parse(body: Any) -> Records[Model]:
        records = _batch(body)
        if records is None:
            return Records([parse_model(model, body)], batch=False)
        items = []
        for index, record in enumerate(records):
            try:
                items.append(parse_model(model, record, prefix=f"resource.{index}"))
            except InvalidRequest as error:
                raise failed_batch([*[None] * index, error]) from error
        return Records(items, batch=True)

    return parse


def _batch(body: Any) -> list[Any] | None:
    """A batch's records (`{"resource": [...]}`), or None for a body that is one record."""
    if not (isinstance(body, dict) and "resource" in body):
        return None
    records = body["resource"]
    if not isinstance(records, list) or not records:
        raise InvalidRequest("'resource' must be a non-empty list.")
    return records


def bare_list_as_batch(body: Any) -> Any:
    """DreamFactory's other batch form, a bare JSON list `[record, ...]`, as the `resource` one
    (df-core `ResourcesWrapper::unwrapResources` takes either)."""
    return {"resource": body} if isinstance(body, list) else body


def _batch_example(model: type[BaseModel]) -> Callable[[JsonDict], None]:
    """The batch's example, made of its record's: read from the record's schema when the
    document is made (at import, it would build that schema on every cold start)."""

    def add_example(schema: JsonDict) -> None:
        schema["examples"] = [{"resource": model.model_json_schema()["examples"]}]

    return add_example


class ServiceBatch(Batch[ServiceInput]):
    model_config = ConfigDict(json_schema_extra=_batch_example(ServiceInput))


class RoleBatch(Batch[RoleInput]):
    model_config = ConfigDict(json_schema_extra=_batch_example(RoleInput))


class EmailTemplateBatch(Batch[NewTemplate]):
    model_config = ConfigDict(json_schema_extra=_batch_example(NewTemplate))


ServicesBody = Annotated[
    Records[ServiceInput], checked_as(ServiceInput | ServiceBatch, _records(ServiceInput))
]
RolesBody = Annotated[Records[RoleInput], checked_as(RoleInput | RoleBatch, _records(RoleInput))]
EmailTemplatesBody = Annotated[
    Records[NewTemplate],
    checked_as(NewTemplate | EmailTemplateBatch, _records(NewTemplate)),
]


# --- PATCH bodies: only what is given changes ---------------------------------------------------
#
# Each is made from the model the repository validates the merged record with, so the document
# cannot promise a type, a null or a field that the PATCH then refuses.


def patch_of(
    name: str,
    model: type[BaseModel],
    *,
    doc: str,
    example: dict[str, Any],
    nullable: frozenset[str] = frozenset(),
    fixed: frozenset[str] = frozenset(),
    added: dict[str, Any] | None = None,
) -> type[BaseModel]:
    """`model`'s fields, none required, typed as `model` types them (`nullable` ones may also be
    null: the repository takes null as "reset") but the `fixed` ones (a PATCH may repeat them,
    never change them: no schema can say "as stored"), and `added` ones as (type, default); no
    other field (the repositories refuse unknown ones)."""
    fields: dict[str, Any] = {}
    for field, info in model.model_fields.items():
        if field in fixed:
            continue
        # The type with its constraints and validators (`metadata`), without its default.
        typed: Any = info.annotation
        if info.metadata:
            typed = Annotated[typed, *info.metadata]
        annotation = typed | None if field in nullable else typed
        described = Field(
            default=None, description=info.description, json_schema_extra=info.json_schema_extra
        )
        fields[field] = (annotation, described)
    fields.update(added or {})
    patch: type[BaseModel] = create_model(
        name,
        __base__=DocumentOnly,
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        __doc__=doc,
        **fields,
    )
    return patch


def _every_field(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields)


# A service's PATCH: a null takes the field's default, as in a create (`_nulls_as_unset`).
ServiceConfigPatch = patch_of(
    "ServiceConfigPatch",
    SmtpConfigInput,
    doc="Any keys of a service's `config`, as in a create; null resets one to its default.",
    example={"port": 465, "encryption": "ssl"},
    nullable=_every_field(SmtpConfigInput),
)
ServicePatch = patch_of(
    "ServicePatch",
    ServiceBase,
    doc="`PATCH /api/v2/system/service/{id_or_name}`: the fields given change, down to single"
    " keys of `config`; changing where mail goes (host, port, username, encryption) needs the"
    " password. `id`, `name` and `type` may be sent back as they are, never changed.",
    example={"label": "Mail (SES)", "config": {"port": 465}},
    nullable=_every_field(ServiceBase),
    fixed=frozenset({"name", "type"}),
    added={"config": (ServiceConfigPatch | None, None)},
)
RolePatch = patch_of(
    "RolePatch",
    Role,
    doc="`PATCH /api/v2/system/role/{id_or_name}`: the fields given replace the stored ones"
    " (lists as a whole); `id` and `name` may be sent back as they are, never changed.",
    example={"senders": ["*@example.com"], "rate_limits": {"per_minute": 60}},
    nullable=frozenset({"max_recipients", "templates"}),
    fixed=frozenset({"name"}),
)
EmailTemplatePatch = patch_of(
    "EmailTemplatePatch",
    TemplateInput,
    doc="`PATCH /api/v2/system/email_template/{id_or_name}`: the fields given replace the stored"
    " ones, `null` clears one; `id`, `created_date` and `last_modified_date` may be sent back"
    " as fetched, and are not changed (`id` only as it is).",
    example={
        "subject": TEMPLATE_EXAMPLE["subject"],
        "reply_to_email": None,
        "defaults": {"first_name": "there"},
    },
    nullable=_every_field(TemplateInput) - {"name"},
    added={
        "created_date": (str | None, None),
        "last_modified_date": (str | None, None),
    },
)


ServicePatchBody = Annotated[dict[str, Any], checked_as(ServicePatch, _json_object)]
RolePatchBody = Annotated[dict[str, Any], checked_as(RolePatch, _json_object)]
EmailTemplatePatchBody = Annotated[dict[str, Any], checked_as(EmailTemplatePatch, _json_object)]


# --- DreamFactory's batch update and delete on a collection --------------------------------------
#
# `PATCH`/`PUT /api/v2/system/<resource>` takes `{"resource": [record, ...]}` (or a bare list), each
# record picked by its `id`, else its `name`, and changed as that record's own PATCH changes it;
# with `?ids=` it takes one record, applied to each. `DELETE` takes the same batch of records
# (only their `id` or `name` is read), or `?ids=`. Each record is checked when its turn comes, by
# the repository, as one PATCH is.


def _json_records(body: Any) -> Records[dict[str, Any]]:
    records = _batch(bare_list_as_batch(body))
    if records is None:
        return Records([_json_object(body)], batch=False)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidRequest(f"Invalid 'resource.{index}': a record is a JSON object.")
    return Records(records, batch=True)


def change_of(name: str, patch: type[BaseModel], *, by_name: bool, example: JsonDict) -> Any:
    """A batch's record, as documented: `patch`'s fields and what picks the record (`id`, or
    `name` when `by_name` and the PATCH itself has no `name` to change)."""
    picked: dict[str, Any] = {
        "id": (int | str | None, Field(None, description="The record to change, by its id."))
    }
    if by_name:
        picked["name"] = (str | None, Field(None, description="Else the record, by its name."))
    change: type[BaseModel] = create_model(
        name,
        __base__=patch,
        __cls_kwargs__={"json_schema_extra": {"examples": [example]}},
        __doc__=f"A record of a batch: {patch.__doc__}",
        **picked,
    )
    return change


def batch_of(name: str, record: Any) -> Any:
    """DreamFactory's batch of `record`s, as documented: `{"resource": [...]}` or a bare list."""
    batch: type[BaseModel] = create_model(
        name,
        __base__=Batch[record],
        __cls_kwargs__={"json_schema_extra": _batch_example(record)},
        __doc__='DreamFactory\'s batch: `{"resource": [...]}`.',
    )
    # The bare list's example: the record's own, in a list (read when the document is made).
    bare = Annotated[
        list[record],
        Field(json_schema_extra=lambda schema: schema.update(examples=[_record_examples(record)])),
    ]
    return batch | bare


def _record_examples(model: type[BaseModel]) -> Any:
    return model.model_json_schema()["examples"]


EmailTemplateChange = change_of(
    "EmailTemplateChange",
    EmailTemplatePatch,
    by_name=False,
    example={"id": 4, "subject": TEMPLATE_EXAMPLE["subject"]},
)
ServiceChange = change_of(
    "ServiceChange", ServicePatch, by_name=True, example={"name": "email", "label": "Mail"}
)
RoleChange = change_of(
    "RoleChange", RolePatch, by_name=True, example={"name": "mailer", "senders": ["*@example.com"]}
)
ApiKeyChange = change_of(
    "ApiKeyChange", ApiKeyPatch, by_name=False, example={"id": "3f9a2b7c1d4e5f60", "enabled": False}
)


class RecordPick(DocumentOnly):
    """A record of a batch delete: its `id`, else its `name` (other fields are not read)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 4}, {"name": "welcome"}]})

    id: int | str | None = None
    name: str | None = None


Changes = Records[dict[str, Any]]
EmailTemplateChangesBody = Annotated[
    Changes,
    checked_as(
        batch_of("EmailTemplateChanges", EmailTemplateChange) | EmailTemplatePatch, _json_records
    ),
]
ServiceChangesBody = Annotated[
    Changes, checked_as(batch_of("ServiceChanges", ServiceChange) | ServicePatch, _json_records)
]
RoleChangesBody = Annotated[
    Changes, checked_as(batch_of("RoleChanges", RoleChange) | RolePatch, _json_records)
]
ApiKeyChangesBody = Annotated[
    Changes, checked_as(batch_of("ApiKeyChanges", ApiKeyChange) | ApiKeyPatch, _json_records)
]
PicksBody = Annotated[Changes, checked_as(batch_of("RecordPicks", RecordPick), _json_records)]


# --- API keys ----------------------------------------------------------------------------------

ApiKeyBody = Annotated[ApiKeyInput, checked_as(ApiKeyInput, _model(ApiKeyInput))]
ApiKeyPatchBody = Annotated[ApiKeyPatch, checked_as(ApiKeyPatch, _model(ApiKeyPatch))]
RotationBody = Annotated[Rotation, checked_as(Rotation, _model(Rotation))]
SuppressionBody = Annotated[
    SuppressionInput, checked_as(SuppressionInput, _model(SuppressionInput))
]
WebhookBody = Annotated[WebhookInput, checked_as(WebhookInput, _model(WebhookInput))]
PingBody = Annotated[PingInput, checked_as(PingInput, _model(PingInput))]
