"""README.md and docs/*.md read as GitHub reads them: pages, headings' anchors, links and
fenced code blocks (for the tests that keep the documentation true)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
DOCS_DIR = REPO_ROOT / "docs"
# The README's heading over its list of the docs pages, in the order to read (and run) them.
TABLE_OF_CONTENTS = "## Documentation"

# A fence may be indented (a block inside a list item); its body is dedented as much.
_FENCE = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) and ![alt](target); a target has no spaces (an optional "title" after one).
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"(`+).*?\1")


@dataclass(frozen=True)
class CodeBlock:
    info: str  # the info string: "sh", "sh no-run", "json", ...
    line: int  # the fence's line, 1-based
    text: str

    @property
    def runs(self) -> bool:
        """A ```sh block is run by the documented-examples test; ```sh no-run is not."""
        return self.info.split() == ["sh"]


@dataclass(frozen=True)
class Link:
    line: int
    target: str


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based number, line) of every line outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is None:
            opened = _FENCE.match(line)
            if opened:
                fence = opened.group(2)
            else:
                yield number, line
        elif line.strip() == fence:
            fence = None


def code_blocks(text: str) -> list[CodeBlock]:
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opened = _FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        indent, fence, info = len(opened.group(1)), opened.group(2), opened.group(3).strip()
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != fence:
            line = lines[index]
            body.append(line[indent:] if line.startswith(" " * indent) else line.lstrip())
            index += 1
        blocks.append(CodeBlock(info, start + 1, "\n".join(body) + "\n"))
        index += 1
    return blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (but `-` and `_`),
    spaces to hyphens; inline code and links count by their text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(text):
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return found


def links(text: str) -> list[Link]:
    """Links in prose (not in code blocks or inline code)."""
    found: list[Link] = []
    for number, line in prose_lines(text):
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            found.append(Link(number, match.group(1)))
    return found


def docs_pages() -> list[Path]:
    return sorted(DOCS_DIR.glob("*.md"))


def pages_in_reading_order() -> list[Path]:
    """README.md, then the docs pages in the order of the README's table of contents (its
    "Documentation" section), then any other page (the unit test refuses those), each once."""
    text = README.read_text()
    contents = text[text.index(f"\n{TABLE_OF_CONTENTS}\n") :]
    ordered = [README]
    for link in links(contents):
        path = (REPO_ROOT / link.target.split("#")[0]).resolve()
        is_page = path.parent == DOCS_DIR and path.suffix == ".md" and path.exists()
        if is_page and path not in ordered:
            ordered.append(path)
    return ordered + [page for page in docs_pages() if page not in ordered]
