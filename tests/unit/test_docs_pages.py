"""The README stays short and leads to every docs page; no link in them leads nowhere."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support.markdown_docs import (
    DOCS_DIR,
    README,
    REPO_ROOT,
    anchors,
    docs_pages,
    links,
    slug,
)

MAX_README_LINES = 400
# Pages other helpers write on their own branches (the CLI, deploying, configuration): a link
# to one is only checked once it exists, so each branch can be tested alone before the merge.
PAGES_WRITTEN_ELSEWHERE = {"cli.md", "deploying.md", "configuration.md"}
PAGES = [README, *docs_pages()]


def _name(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def test_the_readme_is_a_few_hundred_lines() -> None:
    assert len(README.read_text().splitlines()) <= MAX_README_LINES


def test_the_readme_links_every_docs_page() -> None:
    linked = {
        (REPO_ROOT / link.target.split("#")[0]).resolve()
        for link in links(README.read_text())
        if not link.target.startswith(("#", "http:", "https:", "mailto:"))
    }
    assert [_name(page) for page in docs_pages() if page not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for link in links(page.read_text()):
        if link.target.startswith(("http:", "https:", "mailto:")):
            continue
        path_part, _, anchor = link.target.partition("#")
        target = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not target.exists():
            if target.parent == DOCS_DIR and target.name in PAGES_WRITTEN_ELSEWHERE:
                continue
            broken.append(f"line {link.line}: {link.target} (no such file)")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target.read_text()):
            broken.append(f"line {link.line}: {link.target} (no such heading)")
    assert broken == [], f"{_name(page)}: " + "; ".join(broken)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Attachments by URL (`attachment`, `import_url`)",
            "attachments-by-url-attachment-import_url",
        ),
        ("Events from SES: each recipient's status", "events-from-ses-each-recipients-status"),
        ("The `mailer` CLI (operators)", "the-mailer-cli-operators"),
        ("Microsoft 365 (Exchange Online)", "microsoft-365-exchange-online"),
    ],
)
def test_anchors_are_made_as_github_makes_them(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_repeated_heading_gets_a_numbered_anchor() -> None:
    assert anchors("# Errors\n\n```sh\n# not a heading\n```\n## Errors\n") == {
        "errors",
        "errors-1",
    }
