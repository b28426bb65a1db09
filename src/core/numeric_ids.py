"""DreamFactory's numeric ids for records kept by name (services, roles): handed out, kept, and
found again, in the records' own table.

DreamFactory's `service` and `role` tables have an auto-increment `id` beside their unique
`name` (df-core `database/migrations/2015_01_27_190908_create_system_tables.php`), and its
admin interface and scripts address both by that id. Here those tables stay keyed by `name`:
names are what is unique, never change, and are what sends, roles and keys name, so a lookup
by name stays one strongly consistent read and a conditional create stays the uniqueness check.

Beside the records, each table holds two kinds of bookkeeping item, whose keys start with `#`
(a record's name never does: `^[a-z0-9][a-z0-9_-]*$`), so every scan skips them (`is_record`):

    #counter   {"last_id": N}: the last id handed out, moved by an atomic `ADD` as email
               templates' is (core.templates.repository), as auto-increment does: increasing,
               never handed out twice, with a gap where a create failed
    #id:<n>    {"holder": <name>}: which record holds id n

Why a pointer item rather than a filtered scan: an id is claimed by a conditional create of
its pointer, so two writers (a create with a kept id, a counter's id, the first read of a
record stored before ids) can never both take one, which no scan-then-write could promise; and
a lookup by id is two strongly consistent reads (a GSI on `id` would be one, but eventually
consistent: it could miss a record just created). The tables are small, so `list` still scans.

Writes are ordered so that a crash between two of them leaves nothing wrong to see: a pointer
is claimed before the record that holds its id is written, and removed after that record is
deleted; a lookup by id checks that the record it reaches still holds that id, so a pointer
left by a crash (or by a create that lost its name to another) finds nothing.
"""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr

from core.errors import Conflict
from core.storage import Item, ItemTable
from core.validation import MAX_RECORD_ID

COUNTER = "#counter"
_POINTER = "#id:"
_HOLDER = "holder"
# A counter's id can lose its pointer only to a kept id claimed at the same moment; the next
# one cannot (a kept id moves the counter past itself before it claims), so two tries suffice;
# a kept id finds its pointer free or held, unless it is let go between two reads.
_TRIES = 3


def is_record(item: Item, key: str) -> bool:
    """Whether a scanned item is a record, not an id's bookkeeping."""
    return is_record_key(str(item[key]))


def is_record_key(name: str) -> bool:
    """Whether a name a caller gave may be a record's (a path's `%23counter` is not)."""
    return not name.startswith("#")


def as_id(id_or_name: str | int) -> int | None:
    """The id a path segment names: all (ASCII) digits; anything else is a name."""
    if isinstance(id_or_name, int):
        return id_or_name
    return int(id_or_name) if id_or_name.isascii() and id_or_name.isdigit() else None


class NumericIds:
    """The ids of one table's records: claimed, kept, released and looked up."""

    def __init__(self, table: ItemTable) -> None:
        self._table = table

    def find(self, record_id: int) -> Item | None:
        """The record holding `record_id`, if any."""
        holder = self.holder(record_id)
        item = None if holder is None else self._table.get(holder)
        # A pointer may outlive its record for a moment, or name one that lost its create.
        return item if item is not None and item.get("id") == record_id else None

    def numbered(self, items: list[Item]) -> list[Item]:
        """The records, each with its id: those stored before ids get one now, oldest first
        (so ids follow the order they were made in); one deleted meanwhile is left out."""
        key = self._table.key
        unnumbered = sorted(
            (item for item in items if "id" not in item),
            key=lambda item: (str(item.get("created_at", "")), str(item[key])),
        )
        given = {str(item[key]): self.assign(item) for item in unnumbered}
        numbered = []
        for item in items:
            if "id" in item:
                numbered.append(item)
            elif (assigned := given[str(item[key])]) is not None:
                numbered.append(assigned)
        return numbered

    def holder(self, record_id: int) -> str | None:
        """The name the pointer of `record_id` names, if any (check the record still holds
        that id: a pointer may outlive its record for a moment)."""
        pointer = self._table.get(_pointer(record_id))
        return None if pointer is None else str(pointer[_HOLDER])

    def new(self, name: str) -> int:
        """A fresh id from the counter, claimed for `name`."""
        for _ in range(_TRIES):
            record_id = self._next()
            if record_id > MAX_RECORD_ID:  # an import kept the largest id DreamFactory has
                raise Conflict(
                    f"No id is left for '{name}': ids go up to {MAX_RECORD_ID}, and the"
                    " counter has passed it (an imported record kept an id that large).",
                    reason="no_ids_left",
                    context={"field": "id"},
                )
            if self._claim(record_id, name):
                return record_id
        raise RuntimeError(f"No free id after {_TRIES} tries of the counter.")

    def keep(self, record_id: int, name: str) -> str | None:
        """Claim `record_id` for `name`; None when claimed, else the name already holding it.
        The counter is moved past it first, so it never hands out an id that was kept."""
        self._table.update(
            COUNTER,
            set={"last_id": record_id},
            only_if=Attr("last_id").not_exists() | Attr("last_id").lt(record_id),
        )
        for _ in range(_TRIES):
            if self._claim(record_id, name):
                return None
            holder = self.holder(record_id)
            if holder is not None:
                return holder
            # Released between the two reads (its record deleted, or its create failed): free.
        raise RuntimeError(f"Id {record_id} was neither free nor held after {_TRIES} tries.")

    def for_new(self, name: str, wanted: int | None, kind: str) -> tuple[int, bool]:
        """The id a new record `name` of `kind` ("service", "role") gets: `wanted` kept when
        given, else a fresh one; and whether it was claimed just now (a create that then loses
        the name releases it). A `wanted` id another record holds is a 409 `<kind>_id_taken`;
        one this very name holds is answered as not claimed: its create is a name conflict."""
        if wanted is None:
            return self.new(name), True
        holder = self.keep(wanted, name)
        if holder is None:
            return wanted, True
        if holder == name:
            return wanted, False
        raise Conflict(
            f"{kind.capitalize()} id {wanted} is taken by {kind} '{holder}'; '{name}' was not"
            " created.",
            reason=f"{kind}_id_taken",
            context={"field": "id", "id": wanted, kind: holder},
        )

    def release(self, record_id: int) -> None:
        """Free `record_id` (after its record is gone, or when its create failed)."""
        self._table.delete(_pointer(record_id))

    def assign(self, item: Item) -> Item | None:
        """A record stored before ids existed, given one: the record as it now is, with the
        id it got, or with the one a concurrent reader gave it first; None if it is gone."""
        name = str(item[self._table.key])
        record_id = self.new(name)
        updated = self._table.update(
            name,
            set={"id": record_id},
            only_if=Attr(self._table.key).exists() & Attr("id").not_exists(),
        )
        if updated is None:
            self.release(record_id)  # ours, unused: another reader numbered it, or it is gone
            return self._table.get(name)
        return updated

    def _next(self) -> int:
        counter = self._table.update(COUNTER, add={"last_id": 1})
        if counter is None:  # only a failed condition answers None, and there is none
            raise RuntimeError("The id counter was not updated.")
        return int(counter["last_id"])

    def _claim(self, record_id: int, name: str) -> bool:
        return self._table.create({self._table.key: _pointer(record_id), _HOLDER: name})


def _pointer(record_id: int) -> str:
    return f"{_POINTER}{record_id}"
