"""What a command may hand back besides the API's JSON answer, for `main` to print."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Noted:
    """An answer, and a line for the person at the terminal (standard error) once it came."""

    answer: Any
    note: str


@dataclass(frozen=True)
class BatchRun:
    """A batch file sent in parts (the API takes at most `part` items a request): each part's
    answer as it comes, for the progress line; `main` prints them joined as one answer."""

    items: int
    answers: Iterator[tuple[int, Any]]  # (items answered so far, that part's answer)
