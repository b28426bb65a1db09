"""A progress line on standard error (`send --batch`, `import`): redrawn in place on a
terminal, a line per step with `--progress` elsewhere, and nothing at all otherwise, so that
standard output (the answer, or `--json`) is never touched."""

from __future__ import annotations

from typing import TextIO

PROG = "mailer"
CLEAR_LINE = "\r\x1b[K"


class Progress:
    """`label: done/total` for a run of `total` steps."""

    def __init__(self, stream: TextIO, label: str, total: int, *, asked: bool = False) -> None:
        self._stream = stream
        self._label = label
        self._total = total
        self._in_place = stream.isatty()
        self._shown = asked or self._in_place
        self._drawn = False

    def advance(self, done: int) -> None:
        """Show that `done` of the steps are done."""
        if not self._shown:
            return
        text = f"{PROG}: {self._label}: {done}/{self._total}"
        if self._in_place:
            self._stream.write(f"{CLEAR_LINE}{text}")
            self._drawn = True
        else:
            self._stream.write(f"{text}\n")
        self._stream.flush()

    def clear(self) -> None:
        """Take the line off the terminal before something else is written there."""
        if self._drawn:
            self._stream.write(CLEAR_LINE)
            self._stream.flush()
            self._drawn = False
