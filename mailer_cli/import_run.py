"""`mailer import`'s requests: each record of a DreamFactory export created through the API, and
what became of it (an `Outcome`: a line, or a JSON object with `--json`).

DreamFactory's ids are kept: clients send `"template_id": 4`, and must reach the template
that was 4 there. Each record is created with `?keep_ids=true` and its `id`; an id another
template already holds is refused (409 `template_id_taken`) and reported, never renumbered.
A service named like one that exists here (`email`, which `make dev` creates) is refused
unless it is renamed on the way in (`--rename-service email=df_email`) or replaces the one
here (`--replace`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any

from mailer_cli.client import ApiClient, resource_path
from mailer_cli.errors import ApiError, UsageError
from mailer_cli.importing import (
    Kind,
    Record,
    password_reminder,
    service_body,
    template_body,
    unsupported_type,
)


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


# --- options ------------------------------------------------------------------------------------


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


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRun:
    """A command's answer that is not JSON to print: outcomes, made as they are read."""

    outcomes: Iterator[Outcome]
    as_json: bool = False
    records: int = 0  # how many outcomes will come (for the progress line)


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
        skipped = unsupported_type(record.fields)
        if skipped:
            return Outcome(record, Action.SKIPPED, skipped)
        name = options.renames.get(record.name, record.name)
        body = {**service_body(record.fields), "name": name}
        notes = password_reminder(record, body) + _rename_notes(record, name)
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
