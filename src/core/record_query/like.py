"""SQL's LIKE, matched in time proportional to the text times the pattern.

`%` is any run of characters, `_` any one, `\\` takes the next character as it is (MySQL's
default escape); case is ignored, as MySQL's and SQLite's default collations ignore it. A
regular expression of `.*`s would backtrack: `'%a%a%a%a%a%b'` against a 256 KiB template body
could hold the function for minutes. Here each run between `%`s is found leftmost, once, which
is enough: if a run fits anywhere, it fits at its leftmost place and leaves the most room.
"""

from __future__ import annotations

from dataclasses import dataclass

# One run between `%`s: its characters, None for `_`.
Run = tuple[str | None, ...]


@dataclass(frozen=True)
class LikePattern:
    runs: tuple[Run, ...]  # a pattern without `%` is one run, matched whole

    @classmethod
    def of(cls, pattern: str) -> LikePattern:
        runs: list[list[str | None]] = [[]]
        escaped = False
        for char in pattern.lower():
            if escaped:
                runs[-1].append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "%":
                runs.append([])
            elif char == "_":
                runs[-1].append(None)
            else:
                runs[-1].append(char)
        if escaped:  # a trailing `\` stands for itself
            runs[-1].append("\\")
        return cls(tuple(tuple(run) for run in runs))

    def matches(self, text: str) -> bool:
        text = text.lower()
        first, last = self.runs[0], self.runs[-1]
        if len(self.runs) == 1:
            return len(text) == len(first) and _fits(first, text, 0)
        end = len(text) - len(last)
        if len(first) > end or not _fits(first, text, 0) or not _fits(last, text, end):
            return False
        position = len(first)
        for run in self.runs[1:-1]:
            found = _find(run, text, position, end)
            if found < 0:
                return False
            position = found + len(run)
        return True


def _fits(run: Run, text: str, at: int) -> bool:
    return all(char is None or text[at + index] == char for index, char in enumerate(run))


def _find(run: Run, text: str, start: int, end: int) -> int:
    """Where `run` first fits wholly in `text[start:end]`, or -1."""
    if None not in run:
        return text.find("".join(c for c in run if c is not None), start, end)
    for at in range(start, end - len(run) + 1):
        if _fits(run, text, at):
            return at
    return -1
