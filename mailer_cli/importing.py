"""`mailer import`: services and email templates from DreamFactory's JSON, created through the API.

Accepted files, as DreamFactory's admin API answers or an operator assembles them:

- one record, or a list of records;
- `{"resource": [...]}`, the answer of `GET /api/v2/system/service` or `.../email_template`;
- a mixed export: `service` / `services` and `email_template` / `email_templates`, each one of
  the forms above.

A record under a mixed export's key is of that kind; any other is a service if it has `type`
or `config` (DreamFactory always shows both), else an email template. Reading the file and
turning records into request bodies touch neither network nor terminal; `import_records`
makes the requests and yields one `Outcome` a record, as it goes.

DreamFactory's ids are kept: clients send `"template_id": 4`, and must reach the template
that was 4 there. Each record is created with `?keep_ids=true` and its `id`; an id another
template already holds is refused (409 `template_id_taken`) and reported, never renumbered.
A service named like one that exists here (`email`, which `make dev` creates) is refused
unless it is renamed on the way in (`--rename-service email=df_email`) or replaces the one
here (`--replace`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from mailer_cli.client import ApiClient, resource_path
from mailer_cli.errors import ApiError, UsageError

SERVICE_TYPES = ("smtp_email", "smtp")

# DreamFactory's bookkeeping (its `guarded` columns, and this API's own timestamps, for a file
# taken from another stack's GET): the API that creates the record sets them itself. The `id`
# is not among them: it is kept (`keep_ids=true`).
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
_TEMPLATE_FIELDS = frozenset(
    {
        "description",
        "to",
        "cc",
        "bcc",
        "subject",
        "body_text",
        "body_html",
        "from_name",
        "from_email",
        "reply_to_name",
        "reply_to_email",
        "defaults",
        "attachment",
    }
)


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
        found = _id_of(self.fields)
        return found if found is not None and found > 0 else None

    def label(self) -> str:
        kind = self.kind.value if self.kind else "record"
        return f"{kind} '{self.name}'" if self.name else f"{kind} at {self.where}"


class Action(StrEnum):
    CREATED = "created"
    REPLACED = "replaced"
    WOULD_CREATE = "would create"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What became of one record: a line for standard output (or an object, for `--json`),
    and notes for standard error."""

    record: Record
    action: Action
    detail: str = ""
    notes: list[str] = field(default_factory=list)
    id_here: int | None = None  # the id it has here, when the API answered one
    name_here: str | None = None  # when renamed on the way in

    @property
    def failed(self) -> bool:
        return self.action is Action.FAILED

    def line(self) -> str:
        label = self.record.label()
        if self.name_here and self.name_here != self.record.name and self.record.kind:
            kind, name = self.record.kind.value, self.record.name
            label = f"{kind} '{self.name_here}' (DreamFactory's '{name}')"
        ids = self._ids()
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.action.value} {label}{f' [{ids}]' if ids else ''}{detail}"

    def _ids(self) -> str:
        dreamfactory_id = self.record.dreamfactory_id
        if dreamfactory_id is None:
            return f"id here {self.id_here}" if self.id_here is not None else ""
        if self.action not in (Action.CREATED, Action.REPLACED):
            return f"DreamFactory id {dreamfactory_id}"
        if self.id_here == dreamfactory_id:
            return f"DreamFactory id {dreamfactory_id}, kept"
        if self.id_here is None:  # an API that gives this kind no id
            return f"DreamFactory id {dreamfactory_id}, no id here"
        return f"DreamFactory id {dreamfactory_id}, id here {self.id_here}"

    def report(self) -> dict[str, Any]:
        """The machine-readable form of the line (`mailer import --json`)."""
        return {
            "action": self.action.value,
            "kind": self.record.kind.value if self.record.kind else None,
            "name": self.record.name,
            "name_here": self.name_here or self.record.name,
            "dreamfactory_id": self.record.dreamfactory_id,
            "id": self.id_here,
            "detail": self.detail,
            "where": self.record.where,
            "notes": self.notes,
        }


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


def check_renames(renames: dict[str, str], records: list[Record]) -> None:
    """A `UsageError` for a rename of a service the export does not have (a typo would
    otherwise bring the service in under its own name, or refuse it)."""
    services = {record.name for record in records if record.kind is Kind.SERVICE}
    unknown = sorted(set(renames) - services)
    if unknown:
        raise UsageError(
            f"--rename-service names no service of the export: {', '.join(map(repr, unknown))}"
        )


def parse_renames(pairs: list[str]) -> dict[str, str]:
    """`--rename-service OLD=NEW` options as a map; a `UsageError` for a malformed one."""
    renames: dict[str, str] = {}
    for pair in pairs:
        old, sign, new = pair.partition("=")
        if not sign or not old or not new or old in renames:
            raise UsageError(
                f"--rename-service takes OLD=NEW, each service once (e.g. email=df_email), not"
                f" {pair!r}"
            )
        renames[old] = new
    return renames


def _unsupported_type(fields: dict[str, Any]) -> str | None:
    kind = fields.get("type")
    if kind is None or kind in SERVICE_TYPES:
        return None
    return f"type {kind!r} cannot be imported, only {' and '.join(SERVICE_TYPES)} (SMTP)"


def _password_reminder(record: Record, body: dict[str, Any]) -> list[str]:
    config = body.get("config")
    if not isinstance(config, dict) or "password" in config or not config.get("username"):
        return []
    return [
        f"{record.label()}: DreamFactory exports no password; set it with"
        f" `mailer services set-password {body.get('name') or record.name} --password-stdin`"
    ]


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRun:
    """A command's answer that is not JSON to print: outcomes, made as they are read."""

    outcomes: Iterator[Outcome]
    as_json: bool = False


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    replace: bool = False
    # DreamFactory's service name -> the name it gets here.
    renames: dict[str, str] = field(default_factory=dict)


# Asked of every create: the API keeps each record's `id` (an API without ids for that kind
# ignores the parameter).
KEEP_IDS = "?keep_ids=true"


def import_records(
    client: ApiClient, records: list[Record], options: ImportOptions
) -> Iterator[Outcome]:
    """Create each record in turn (PATCH an existing one with `replace`); one `Outcome` each.

    An `ApiError` fails that record only; `Unreachable` ends the import (every later record
    would fail alike), after the outcomes of the records before it."""
    for record in records:
        yield _import(client, record, options)


def _import(client: ApiClient, record: Record, options: ImportOptions) -> Outcome:
    if record.kind is None or not isinstance(record.fields, dict):
        return Outcome(
            record,
            Action.FAILED,
            "neither a service (it has no 'type' or 'config') nor an email template",
        )
    if record.name is None:
        return Outcome(record, Action.FAILED, "it has no 'name'")
    name = record.name
    if record.kind is Kind.SERVICE:
        skipped = _unsupported_type(record.fields)
        if skipped:
            return Outcome(record, Action.SKIPPED, skipped)
        name = options.renames.get(record.name, record.name)
        body = {**service_body(record.fields), "name": name}
        notes = _password_reminder(record, body) + _rename_notes(record, name)
    else:
        body, notes = template_body(record.fields), []
    done = partial(Outcome, record, notes=notes, name_here=name)
    if options.dry_run:
        return done(Action.WOULD_CREATE, _summary(record.kind, body))
    try:
        created = _create(client, record.kind, body)
    except ApiError as error:
        if not (error.status == 409 and _reason(error) in _NAME_TAKEN and options.replace):
            return done(Action.FAILED, _refusal(record, name, error))
    else:
        return done(Action.CREATED, _summary(record.kind, body), id_here=_id_of(created))
    try:
        replaced = client.patch(
            resource_path(*record.kind.path, name), _patch_body(record.kind, body)
        )
    except ApiError as error:
        return done(Action.FAILED, f"exists, and replacing it failed: {error.summary()}")
    return done(Action.REPLACED, _summary(record.kind, body), id_here=_id_of(replaced))


def _create(client: ApiClient, kind: Kind, body: dict[str, Any]) -> Any:
    path = resource_path(*kind.path) + KEEP_IDS
    try:
        return client.post(path, body)
    except ApiError as error:
        # An API that gives services no id yet refuses one in the body: created without it.
        if not (kind is Kind.SERVICE and "id" in body and _refuses_field(error, "id")):
            raise
    return client.post(path, {key: value for key, value in body.items() if key != "id"})


# 409s that say the name is taken (what --replace is for), by kind.
_NAME_TAKEN = frozenset({"service_exists", "template_exists"})


def _refusal(record: Record, name: str, error: ApiError) -> str:
    reason = _reason(error)
    if reason == "service_exists":
        return (
            f"a service '{name}' exists here: bring this one in beside it with"
            f" --rename-service {record.name}=<new name>, or overwrite the one here with"
            " --replace"
        )
    if reason == "template_exists":
        return f"{error.summary()} (--replace changes the existing one)"
    if reason == "template_id_taken":
        return (
            f"{error.summary()} Clients sending its DreamFactory id would reach that one: move"
            " or delete it, then import again"
        )
    return error.summary()


def _rename_notes(record: Record, name: str) -> list[str]:
    if name == record.name:
        return []
    return [
        f"service '{record.name}' is '{name}' here: clients send to /api/v2/{name}, and roles"
        f" name '{name}' in their services"
    ]


def _reason(error: ApiError) -> str | None:
    envelope = error.body.get("error") if isinstance(error.body, dict) else None
    reason = envelope.get("reason") if isinstance(envelope, dict) else None
    return reason if isinstance(reason, str) else None


def _refuses_field(error: ApiError, field_name: str) -> bool:
    envelope = error.body.get("error") if isinstance(error.body, dict) else None
    context = envelope.get("context") if isinstance(envelope, dict) else None
    problems = context.get("errors") if isinstance(context, dict) else None
    return error.status == 400 and any(
        isinstance(problem, dict) and problem.get("field") == field_name
        for problem in problems or []
    )


def _id_of(answer: Any) -> int | None:
    found = answer.get("id") if isinstance(answer, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def _patch_body(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    # A service's name and type are fixed: the stored ones stay. Its config is changed key
    # by key, so settings made here that DreamFactory does not have (from_email...) remain.
    # The id stays the one here: a PATCH cannot change it.
    if kind is Kind.SERVICE:
        return {key: value for key, value in body.items() if key not in ("name", "type", "id")}
    return {key: value for key, value in body.items() if key != "id"}


def _summary(kind: Kind, body: dict[str, Any]) -> str:
    if kind is Kind.TEMPLATE:
        return ""
    config = body.get("config")
    where = ""
    if isinstance(config, dict) and config.get("host"):
        where = f", {config['host']}:{config.get('port') or 587}"
    inactive = ", inactive" if body.get("is_active") is False else ""
    return f"{body.get('type') or 'smtp'}{where}{inactive}"
