"""What `mailer` prints: answers on standard output (for a person, or the API's JSON with
`--json`), everything else on standard error."""

from __future__ import annotations

import json
from typing import Any, TextIO

from mailer_cli.errors import ApiError
from mailer_cli.human import Columns, render, values
from mailer_cli.import_run import Outcome

PROG = "mailer"


def print_answer(
    answer: Any, out: TextIO, *, as_json: bool, columns: Columns = (), only: str | None = None
) -> None:
    """The API's answer as pretty-printed JSON (as text, if it was not JSON) with `as_json`,
    else as lines for a person (`columns`: a list's fields); `only`: one field's values."""
    if only is not None:
        out.write("".join(f"{line}\n" for line in values(answer, only)))
        return
    if as_json:
        if answer is not None:
            out.write(f"{_show(answer)}\n")
        return
    out.write("".join(f"{line}\n" for line in render(answer, columns)))


def print_api_error(error: ApiError, err: TextIO) -> None:
    """The API's error envelope, then one line saying what it means and, for 429, when to retry."""
    if error.body is not None:
        err.write(f"{_show(error.body)}\n")
    print_note(error.summary(), err)
    if error.status == 429 and error.retry_after is not None:
        print_note(f"rate limited: retry after {error.retry_after} seconds (Retry-After)", err)


def print_outcome(outcome: Outcome, out: TextIO, err: TextIO, *, as_json: bool = False) -> None:
    """One imported record's line (or JSON object) on standard output (at once: the import may
    stop on the next), its notes on standard error."""
    line = json.dumps(outcome.report(), ensure_ascii=False) if as_json else outcome.line()
    out.write(f"{line}\n")
    out.flush()
    for note in outcome.notes:
        print_note(note, err)


def print_note(message: str, err: TextIO) -> None:
    """A line for the person at the terminal, on standard error so stdout stays pure JSON."""
    err.write(f"{PROG}: {message}\n")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value.rstrip("\n")
    return json.dumps(value, indent=2, ensure_ascii=False)
