"""What a person reads by default (`--json` prints the API's JSON instead): a list as aligned
columns of its useful fields, one record as `key: value` lines.

Each list command names its columns (field paths such as `config.host`); a list without them
shows its records' top-level plain fields. Nothing here calls the API or decides what is
printed where: it turns an answer into lines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# The API never answers these, but a person's screen is no place for one if it ever did.
SECRET_FIELDS = frozenset(
    {"password", "client_secret", "refresh_token", "access_token", "private_key"}
)
# The keys under which the API answers a list (DreamFactory's `resource`, a batch's `results`).
LIST_KEYS = ("resource", "results")
WIDEST_CELL = 60
EMPTY = "-"
GAP = "  "

Columns = Sequence[str]


def render(answer: Any, columns: Columns = ()) -> list[str]:
    """The lines a person reads for one answer of the API."""
    if answer is None:
        return []
    if isinstance(answer, str):
        return [answer.rstrip("\n")]
    if isinstance(answer, list):
        return table(answer, columns)
    if not isinstance(answer, dict):
        return [cell(answer)]
    rows = next((answer[key] for key in LIST_KEYS if isinstance(answer.get(key), list)), None)
    if rows is None:
        return record(answer)
    lines = table(rows, columns)
    meta = answer.get("meta")
    cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
    if cursor:
        lines.append(f"more: add --cursor {cursor}")
    return lines


def values(answer: Any, path: str) -> list[str]:
    """`--field`: the value at `path` of a record, or of each record of a list, one a line
    (text as it is, anything else as JSON)."""
    rows = answer if isinstance(answer, list) else None
    if isinstance(answer, dict):
        rows = next((answer[key] for key in LIST_KEYS if isinstance(answer.get(key), list)), None)
    found = [field(row, path) for row in rows] if rows is not None else [field(answer, path)]
    return [text if isinstance(text, str) else json.dumps(text) for text in found]


def table(rows: list[Any], columns: Columns = ()) -> list[str]:
    """Rows as aligned columns under an upper-case header; `(none)` for no rows."""
    records = [row if isinstance(row, dict) else {"value": row} for row in rows]
    if not records:
        return ["(none)"]
    names = list(columns) or _plain_fields(records)
    grid = [[name.upper() for name in names]]
    grid += [[_clipped(cell(field(row, name))) for name in names] for row in records]
    widths = [max(len(line[index]) for line in grid) for index in range(len(names))]
    return [
        GAP.join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in grid
    ]


def record(fields: dict[str, Any]) -> list[str]:
    """One record as `key: value` lines, nested objects as `outer.inner`, and a list of
    objects (a message's events) as an indented table after the plain fields."""
    plain = list(_flattened(fields))
    width = max((len(key) for key, _ in plain), default=0) + 1
    lines = [f"{key + ':':<{width}} {cell(value)}".rstrip() for key, value in plain]
    for key, value in fields.items():
        if key in SECRET_FIELDS:
            continue
        if _is_table(value):
            lines.append(f"{key}:")
            lines += [f"  {line}" for line in table(value)]
        elif _is_pairs(value):  # a preview's header fields: [name, value] in order
            lines.append(f"{key}:")
            lines += [f"  {name}: {cell(text)}" for name, text in value]
    return lines


def field(row: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`config.host`), None where the path leads nowhere."""
    value: Any = row
    for part in path.split(".") if path else ():
        if not isinstance(value, dict) or part in SECRET_FIELDS:
            return None
        value = value.get(part)
    return value


def cell(value: Any) -> str:
    """A value as one line of text: lists joined with commas, nothing as `-`."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={cell(item)}" for key, item in value.items())
    return " ".join(str(value).split()) if isinstance(value, str) else str(value)


def _flattened(fields: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in fields.items():
        if key in SECRET_FIELDS:
            continue
        if not prefix and (_is_table(value) or _is_pairs(value)):
            continue  # shown after the plain fields, as a table or lines of their own
        if isinstance(value, dict) and value:
            pairs += _flattened(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", value))
    return pairs


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_pairs(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) for v in value)
    )


def _plain_fields(records: list[dict[str, Any]]) -> list[str]:
    """Every top-level field that is not an object or list and that some record has a value
    for, in first-seen order."""
    names: dict[str, None] = {}
    for row in records:
        for key, value in row.items():
            plain = not isinstance(value, dict | list) and value not in (None, "")
            if key not in SECRET_FIELDS and plain:
                names.setdefault(key)
    return list(names) or ["value"]


def _clipped(text: str) -> str:
    return text if len(text) <= WIDEST_CELL else text[: WIDEST_CELL - 1] + "…"
