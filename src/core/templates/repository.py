"""Stored email templates in DynamoDB: the only code that knows how they are kept.

One table, key `key` (a string), three kinds of item:

    name:<name>   the template itself, with its `id`
    id:<id>       {"name": <name>}: which template holds that id
    counter       {"last_id": N}: the last id handed out

Keyed by name, because names are what must be unique and what sends and roles name
(`template`, a role's `templates`): a lookup by name is one strongly consistent read, and the
conditional create that stores a template is its uniqueness check, with no race to lose. An
id is a pointer to a name, so a lookup by id is two strongly consistent reads; a GSI on `id`
would be one read, but only an eventually consistent one, which could miss a template just
created or find one just deleted. Ids come from an atomic counter (`ADD last_id 1`), as
DreamFactory's auto-increment does: increasing, never reused, with a gap where a create
failed. An id is claimed by creating its pointer conditionally, so no two templates ever
hold one id.

An import keeps DreamFactory's ids (`create(..., keep_id=N)`): the counter is first moved
up to N (never down: a conditional set), then the pointer is claimed as any id is. In that
order, every id drawn afterwards is above N; an id drawn before the counter moved that
happens to be N loses the claim to whichever create made it first, and a plain create then
draws another (a kept one answers 409, as for a template holding it).

Each change orders its writes so that a crash between two of them leaves nothing wrong to
see: the pointer is written before its template and removed after it, and a lookup by id
checks that the template it reaches still has that id. A rename writes the new name, moves
the pointer, then deletes the old name; `list` shows only templates their id points at, and a
rename that was cut short finishes when it is tried again.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr
from pydantic import ValidationError

from core.clock import now_iso
from core.errors import Conflict, InvalidRequest, NotFound
from core.storage import Item, ItemTable
from core.templates.input import TemplateInput
from core.templates.model import EmailTemplate
from core.validation import invalid_request_from

COUNTER = "counter"
# What a PATCH may change, and what it may repeat unchanged (a record sent back as fetched).
PATCHABLE = frozenset(TemplateInput.model_fields)
READ_ONLY = frozenset({"id", "created_date", "last_modified_date"})


class TemplateRepository:
    """CRUD for email templates, found by name or by id."""

    def __init__(self, table: ItemTable) -> None:
        self._table = table

    # --- reads ----------------------------------------------------------------------------

    def list(self) -> list[EmailTemplate]:
        """Every template, by id."""
        items = self._table.scan()
        owners = {item["key"]: item.get("name") for item in items if item["key"].startswith("id:")}
        templates = [_template(item) for item in items if item["key"].startswith("name:")]
        # A copy left by a rename cut short is not its id's template: not shown twice.
        shown = [t for t in templates if owners.get(_id_key(t.id)) == t.name]
        return sorted(shown, key=lambda template: template.id)

    def by_name(self, name: str) -> EmailTemplate:
        item = self._table.get(_name_key(name))
        if item is None:
            raise NotFound(f"Email Template '{name}' not found", reason="template_not_found")
        return _template(item)

    def by_id(self, template_id: int) -> EmailTemplate:
        pointer = self._table.get(_id_key(template_id))
        item = None if pointer is None else self._table.get(_name_key(str(pointer["name"])))
        if item is None or int(item["id"]) != template_id:
            raise NotFound(
                f"Email Template id '{template_id}' not found", reason="template_not_found"
            )
        return _template(item)

    def get(self, name_or_id: str | int) -> EmailTemplate:
        """By id when given one (an int, or a string of digits), else by name."""
        template_id = as_id(name_or_id)
        if template_id is not None:
            return self.by_id(template_id)
        return self.by_name(str(name_or_id))

    # --- writes ---------------------------------------------------------------------------

    def create(self, new: TemplateInput, *, keep_id: int | None = None) -> EmailTemplate:
        """Store a new template under the next id, or under `keep_id` (409 when another
        template holds it)."""
        if keep_id is None:
            template_id = self._claim_next_id(new.name)
        else:
            self._move_counter_past(keep_id)
            if not self._claim(keep_id, new.name):
                raise self._id_taken(keep_id, new.name)
            template_id = keep_id
        now = now_iso()
        template = EmailTemplate(
            id=template_id,
            created_date=now,
            last_modified_date=now,
            **new.model_dump(include=set(PATCHABLE)),
        )
        # The pointer was claimed first: a crash before the template is written leaves only a
        # pointer to nothing, which a lookup by id already treats as not found.
        if not self._table.create(_item(template)):
            self._table.delete(_id_key(template.id))
            raise _exists(template.name)
        return template

    def update(self, name_or_id: str | int, patch: dict[str, Any]) -> EmailTemplate:
        """Apply a PATCH: the fields given replace the stored ones; `null` clears one."""
        current = self.get(name_or_id)
        unknown = sorted(set(patch) - PATCHABLE - READ_ONLY)
        if unknown:
            raise InvalidRequest(
                f"Unknown field(s) of an email template: {', '.join(unknown)}.",
                context={"fields": unknown},
            )
        if patch.get("id", current.id) != current.id:
            raise InvalidRequest("A template's id cannot be changed.", context={"field": "id"})
        for field in ("created_date", "last_modified_date"):
            if not isinstance(patch.get(field), str | None):
                raise InvalidRequest(
                    f"'{field}' is a template's date as fetched (text), never changed.",
                    context={"field": field},
                )
        changes = {field: value for field, value in patch.items() if field in PATCHABLE}
        if "defaults" in changes and changes["defaults"] is None:
            changes["defaults"] = {}
        try:
            merged = TemplateInput.model_validate(
                {**current.model_dump(include=set(PATCHABLE)), **changes}
            )
        except ValidationError as error:
            raise invalid_request_from(error) from error
        updated = EmailTemplate(
            id=current.id,
            created_date=current.created_date,
            last_modified_date=now_iso(),
            **merged.model_dump(),
        )
        if updated.name != current.name:
            self._rename(current, updated)
            return updated
        # Only while it is still this template: never brings back one deleted meanwhile.
        item = _item(updated)
        del item["key"]
        if (
            self._table.update(_name_key(current.name), set=item, only_if=Attr("id").eq(current.id))
            is None
        ):
            raise NotFound(
                f"Email Template '{current.name}' not found", reason="template_not_found"
            )
        return updated

    def delete(self, name_or_id: str | int) -> EmailTemplate:
        template = self.get(name_or_id)
        # The template first: a crash in between leaves a pointer to nothing, not a template
        # that its id no longer finds.
        self._table.delete(_name_key(template.name))
        self._table.delete(_id_key(template.id))
        return template

    # --- internals ------------------------------------------------------------------------

    def _next_id(self) -> int:
        counter = self._table.update(COUNTER, add={"last_id": 1})
        if counter is None:  # only a failed condition answers None, and there is none
            raise RuntimeError("The template id counter was not updated.")
        return int(counter["last_id"])

    def _claim_next_id(self, name: str) -> int:
        # Taken only by an import that kept an id the counter had not reached yet: the next
        # one is free (the import moved the counter past its id before claiming it).
        while True:
            template_id = self._next_id()
            if self._claim(template_id, name):
                return template_id

    def _claim(self, template_id: int, name: str) -> bool:
        return self._table.create({"key": _id_key(template_id), "name": name})

    def _move_counter_past(self, template_id: int) -> None:
        # Up to the kept id, never down; a counter already there or beyond stays as it is.
        self._table.update(
            COUNTER,
            set={"last_id": template_id},
            only_if=Attr("last_id").not_exists() | Attr("last_id").lt(template_id),
        )

    def _id_taken(self, template_id: int, name: str) -> Conflict:
        try:
            holder: str | None = self.by_id(template_id).name
            why = f"the template '{holder}' has it"
        except NotFound:  # a pointer to nothing: a create or a delete cut short
            holder, why = None, "a create or delete that was cut short left it claimed"
        if holder == name:  # imported before: the template itself is there, id and all
            return _exists(name)
        return Conflict(
            f"Email Template id '{template_id}' is already taken: {why}.",
            reason="template_id_taken",
            context={"field": "id", "id": template_id, "holder": holder},
        )

    def _rename(self, current: EmailTemplate, renamed: EmailTemplate) -> None:
        if not self._table.create(_item(renamed)):
            taken = self._table.get(_name_key(renamed.name))
            # Our own copy from a rename cut short is finished; anyone else's name is taken.
            if taken is None or int(taken["id"]) != current.id:
                raise _exists(renamed.name)
            self._table.put(_item(renamed))
        self._table.put({"key": _id_key(current.id), "name": renamed.name})
        self._table.delete(_name_key(current.name))


def as_id(name_or_id: str | int) -> int | None:
    """The id a path segment names: all (ASCII) digits; anything else is a name."""
    if isinstance(name_or_id, int):
        return name_or_id
    return int(name_or_id) if name_or_id.isascii() and name_or_id.isdigit() else None


def _name_key(name: str) -> str:
    return f"name:{name}"


def _id_key(template_id: int) -> str:
    return f"id:{template_id}"


def _exists(name: str) -> Conflict:
    return Conflict(
        f"Email Template '{name}' already exists.",
        reason="template_exists",
        context={"field": "name"},
    )


def _item(template: EmailTemplate) -> Item:
    # DynamoDB takes numbers as Decimal, never float (placeholder defaults may be either).
    fields: Item = json.loads(template.model_dump_json(), parse_float=Decimal)
    return {"key": _name_key(template.name), **fields}


def _template(item: Item) -> EmailTemplate:
    # And gives every number back as a Decimal: as JSON would have them again.
    fields = {name: value for name, value in item.items() if name != "key"}
    return EmailTemplate.model_validate(json.loads(json.dumps(fields, default=_number)))


def _number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
