"""`mailer import`'s file: the services and email templates of DreamFactory's JSON, as records and
the request bodies that create them.

Accepted files, as DreamFactory's admin API answers or an operator assembles them:

- one record, or a list of records;
- `{"resource": [...]}`, the answer of `GET /api/v2/system/service` or `.../email_template`;
- a mixed export: `service` / `services` and `email_template` / `email_templates`, each one of
  the forms above.

A record under a mixed export's key is of that kind; any other is a service if it has `type`
or `config` (DreamFactory always shows both), else an email template. Reading the file and
turning records into request bodies touch neither network nor terminal;
`mailer_cli.import_run` makes the requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mailer_cli.errors import UsageError
from mailer_cli.template_fields import RECIPIENT_FIELDS, TEXT_FIELDS

SERVICE_TYPES = ("smtp_email", "smtp")

# DreamFactory's bookkeeping (its `guarded` columns, and this API's own timestamps, for a file
# taken from another stack's GET): the API that creates the record sets them itself. The `id`
# is not among them: it is kept (see `mailer_cli.import_run`).
_RECORD_METADATA = (
    "created_date",
    "last_modified_date",
    "created_by_id",
    "last_modified_by_id",
    "created_at",
    "updated_at",
)
_SERVICE_METADATA = (*_RECORD_METADATA, "mutable", "deletable", "service_doc_by_service_id")
_CONFIG_METADATA = ("service_id",)  # DreamFactory's row key, in every config it shows

_SERVICE_KEYS = ("service", "services")
_TEMPLATE_KEYS = ("email_template", "email_templates")
_TEMPLATE_FIELDS = frozenset({*TEXT_FIELDS, *RECIPIENT_FIELDS, "defaults", "attachment"})


class Kind(StrEnum):
    SERVICE = "service"
    TEMPLATE = "email template"

    @property
    def path(self) -> tuple[str, ...]:
        return ("system", "service") if self is Kind.SERVICE else ("system", "email_template")


@dataclass(frozen=True)
class Record:
    """One record of the file, of a known kind; `where` says where it is, for messages."""

    kind: Kind | None  # None: neither a service nor a template could be told
    fields: Any
    where: str

    @property
    def name(self) -> str | None:
        name = self.fields.get("name") if isinstance(self.fields, dict) else None
        return name if isinstance(name, str) and name else None

    @property
    def dreamfactory_id(self) -> int | None:
        """Its id in DreamFactory: a positive whole number, or None."""
        found = self.fields.get("id") if isinstance(self.fields, dict) else None
        is_id = isinstance(found, int) and not isinstance(found, bool) and found > 0
        return found if is_id else None

    def label(self) -> str:
        kind = self.kind.value if self.kind else "record"
        return f"{kind} '{self.name}'" if self.name else f"{kind} at {self.where}"


# --- the file ---------------------------------------------------------------------------------


def read_export(path: Path) -> list[Record]:
    """The records of a DreamFactory export, services first; a `UsageError` for a file that
    is not one."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read {str(path)!r}: {error.strerror}") from error
    except ValueError as error:
        raise UsageError(f"{str(path)!r} is not JSON: {error}") from error
    return records_of(content)


def records_of(content: Any) -> list[Record]:
    """The records in an export's decoded JSON (see the module's docstring for the forms)."""
    if isinstance(content, dict) and any(key in content for key in _SERVICE_KEYS + _TEMPLATE_KEYS):
        unknown = sorted(set(content) - set(_SERVICE_KEYS) - set(_TEMPLATE_KEYS))
        if unknown:
            raise UsageError(
                f"the export has {', '.join(map(repr, unknown))}: only services"
                f" ({' or '.join(_SERVICE_KEYS)}) and email templates"
                f" ({' or '.join(_TEMPLATE_KEYS)}) can be imported"
            )
        return [
            record
            for keys, kind in ((_SERVICE_KEYS, Kind.SERVICE), (_TEMPLATE_KEYS, Kind.TEMPLATE))
            for key in keys
            if key in content
            for record in _listed(content[key], key, kind)
        ]
    return _listed(content, "", None)


def _listed(content: Any, where: str, kind: Kind | None) -> list[Record]:
    prefix = f"{where}." if where else ""
    if isinstance(content, dict) and "resource" in content:
        content, prefix = content["resource"], f"{prefix}resource."
        if not isinstance(content, list):
            raise UsageError(f"'{prefix.rstrip('.')}' must be a list of records")
    if isinstance(content, dict):
        return [Record(kind or _kind_of(content), content, where or "the top level")]
    if not isinstance(content, list):
        raise UsageError(
            "not a DreamFactory export: expected a record, a list of records, "
            '{"resource": [...]}, or "services" and "email_templates"'
        )
    return [
        Record(kind or _kind_of(record), record, f"{prefix}{index}")
        for index, record in enumerate(content)
    ]


def _kind_of(record: Any) -> Kind | None:
    if not isinstance(record, dict):
        return None
    if "type" in record or "config" in record:
        return Kind.SERVICE
    if _TEMPLATE_FIELDS & set(record):
        return Kind.TEMPLATE
    return None


# --- records -> request bodies ------------------------------------------------------------------


def is_password_unset(value: Any) -> bool:
    """DreamFactory exports no password: `null`, or its mask of asterisks."""
    return value is None or (isinstance(value, str) and value.strip("*") == "")


def service_body(fields: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/v2/system/service` for an exported service: DreamFactory's bookkeeping and
    the password it never exports left out."""
    body = {key: value for key, value in fields.items() if key not in _SERVICE_METADATA}
    config = body.get("config")
    if isinstance(config, dict):
        config = {key: value for key, value in config.items() if key not in _CONFIG_METADATA}
        if is_password_unset(config.get("password")):
            config.pop("password", None)
        body["config"] = config
    return body


def template_body(fields: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/v2/system/email_template` for an exported template."""
    return {key: value for key, value in fields.items() if key not in _RECORD_METADATA}


def unsupported_type(fields: dict[str, Any]) -> str | None:
    """Why a service of another type than SMTP is not imported; None for one that is."""
    kind = fields.get("type")
    if kind is None or kind in SERVICE_TYPES:
        return None
    return f"type {kind!r} cannot be imported, only {' and '.join(SERVICE_TYPES)} (SMTP)"


def password_reminder(record: Record, body: dict[str, Any]) -> list[str]:
    """The note a service with a username needs: DreamFactory exported no password."""
    config = body.get("config")
    if not isinstance(config, dict) or "password" in config or not config.get("username"):
        return []
    return [
        f"{record.label()}: DreamFactory exports no password; set it with"
        f" `mailer services set-password {body.get('name') or record.name} --password-stdin`"
    ]
