"""Roles and API keys as stored, and as the admin API takes and shows them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from core.addresses import EmailAddress, parse_mailbox
from core.errors import InvalidRequest
from core.templates.model import TEMPLATE_NAME, valid_template_name
from core.validation import NUMBER_ONLY, JsonBool, RecordId

ROLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# The bootstrap admin key acts with this built-in role; no stored role may take its name.
BOOTSTRAP_ROLE = "bootstrap-admin"
# A role a key names: only a name a stored role can have reaches the table (an empty one is a
# key DynamoDB refuses).
RoleName = Annotated[str, Field(pattern=ROLE_NAME.pattern)]


# What the document shows of a sender rule: an address, `*@domain`, or `*`.
SenderRule = EmailAddress | Annotated[str, Field(pattern=r"^\*@[^@\s]+\.[^@\s]+$")] | Literal["*"]


def _sender_rule(value: Any) -> Any:
    """An exact address, or `*@domain` for any address at that domain."""
    if not isinstance(value, str):
        return value
    if value == "*":
        return value
    if value.startswith("*@"):
        domain = parse_mailbox(f"x{value[1:]}", None, "senders").email.partition("@")[2]
        return f"*@{domain}"
    return parse_mailbox(value, None, "senders").email


def _template_rule(value: Any) -> Any:
    """A stored template's name, or "*" for any template."""
    if not isinstance(value, str) or value == "*":
        return value
    try:
        return valid_template_name(value)
    except InvalidRequest as error:
        raise InvalidRequest(
            error.message, reason=error.reason, context={"field": "templates"}
        ) from error


class RateLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_second: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None
    per_minute: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None
    per_day: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None

    def windows(self) -> list[tuple[str, int, int]]:
        """(name, length in seconds, limit) for each limit set."""
        windows = [
            ("second", 1, self.per_second),
            ("minute", 60, self.per_minute),
            ("day", 86_400, self.per_day),
        ]
        return [(name, seconds, limit) for name, seconds, limit in windows if limit is not None]


class Role(BaseModel):
    """What a key may do: which services, which senders, how many recipients, how often."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "billing",
                    "description": "The billing app: invoices from billing@example.com",
                    "services": ["email"],
                    "senders": ["billing@example.com"],
                    "max_recipients": 10,
                    "rate_limits": {"per_minute": 60, "per_day": 5000},
                    "templates": ["invoice", "payment_reminder"],
                }
            ]
        },
    )

    # DreamFactory's numeric id, given by the repository (core.numeric_ids); found again in
    # /api/v2/system/role/{id_or_name} as well as the name. In a create's body it is kept only
    # with `?keep_ids=true`, and otherwise ignored, as DreamFactory ignores it.
    id: RecordId | None = None
    # Checked by `_valid_name` (its own reason); the document shows the same rule.
    name: Annotated[
        str,
        Field(json_schema_extra={"pattern": ROLE_NAME.pattern, "not": {"const": BOOTSTRAP_ROLE}}),
    ]
    description: str = ""
    admin: JsonBool = False
    # Service names, or "*" for every service.
    services: list[str] = Field(default_factory=list)
    # Exact addresses and `*@domain` patterns; empty means: the service's default sender only.
    senders: list[
        Annotated[str, BeforeValidator(_sender_rule, json_schema_input_type=SenderRule)]
    ] = Field(default_factory=list)
    max_recipients: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    templates: (
        list[
            Annotated[
                str,
                Field(json_schema_extra={"pattern": f"^(?:\\*|{TEMPLATE_NAME.pattern[1:-1]})$"}),
                BeforeValidator(_template_rule),
            ]
        ]
        | None
    ) = Field(
        default=None,
        description="Stored templates (names in `/api/v2/system/email_template`) this role's"
        ' keys must send through, or `"*"` for any template: a send that names no template, or'
        " another one, is refused. Null (the default): no restriction.",
    )
    created_at: str = ""
    updated_at: str = ""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not ROLE_NAME.fullmatch(name) or name == BOOTSTRAP_ROLE:
            raise InvalidRequest(
                f"Invalid role name '{name}': use 1-64 lower-case letters, digits, '-' or '_'"
                f" (and not '{BOOTSTRAP_ROLE}').",
                reason="invalid_role_name",
                context={"field": "name"},
            )
        return name

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class RoleInput(Role):
    """`POST /api/v2/system/role` body: a role, whose name is not all digits (a stored role
    named so before ids existed is still read: only a new one is refused)."""

    name: Annotated[
        str,
        Field(
            json_schema_extra={
                "pattern": ROLE_NAME.pattern,
                "not": {"anyOf": [{"const": BOOTSTRAP_ROLE}, {"pattern": "^[0-9]+$"}]},
            }
        ),
    ]

    @field_validator("name")
    @classmethod
    def _not_an_id(cls, name: str) -> str:
        if name.isdigit():
            raise InvalidRequest(
                f"Invalid role name '{name}': it must not be all digits, which name an id in"
                " /api/v2/system/role/{id_or_name}.",
                reason="invalid_role_name",
                context={"field": "name"},
            )
        return name


def bootstrap_role() -> Role:
    """The built-in role of the bootstrap admin key: everything, unlimited."""
    return Role.model_construct(
        name=BOOTSTRAP_ROLE,
        description="The bootstrap admin key",
        admin=True,
        services=["*"],
        senders=["*"],
        max_recipients=None,
        rate_limits=RateLimits(),
    )


class ApiKey(BaseModel):
    """A stored API key: only hashes of its secret, never the secret itself."""

    model_config = ConfigDict(extra="forbid")

    id: str
    label: str = ""
    role: RoleName
    enabled: JsonBool = True
    secret_hash: str
    # After a rotation with an overlap window, the old secret works until then.
    previous_secret_hash: str | None = None
    previous_valid_until: str | None = None
    created_at: str = ""
    rotated_at: str | None = None
    last_used_at: str | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"secret_hash", "previous_secret_hash"})


class ApiKeyInput(BaseModel):
    """`POST /api/v2/system/api_key` body."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"label": "billing app (production)", "role": "billing"}]},
    )

    label: str = ""
    role: RoleName


class ApiKeyPatch(BaseModel):
    """`PATCH /api/v2/system/api_key/{id}` body: only these may change."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"label": "billing app", "enabled": False}]}
    )

    label: str | None = None
    role: RoleName | None = None
    enabled: JsonBool | None = None


class Rotation(BaseModel):
    """`POST /api/v2/system/api_key/{id}/rotate` body."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 3600}]}
    )

    # How long the old secret keeps working, so clients can switch without downtime.
    overlap_seconds: Annotated[int, Field(ge=0, le=7 * 86_400), NUMBER_ONLY] = 0
