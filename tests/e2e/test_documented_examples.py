"""Every ```sh block of README.md and docs/*.md, run in order against a fresh local stack, as
a reader pasting them would: so no example can rot, run out of order or collide with another.

Each page's blocks run in one bash session (`set -euo pipefail`: a failing command fails its
block), after `. .local/env` as the README says, from a folder of their own; the pages run in
the README's reading order, so a page may use what an earlier page created. ```sh no-run
blocks (they need AWS, a real provider or `make dev` itself) are skipped."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.markdown_docs import REPO_ROOT, CodeBlock, code_blocks, pages_in_reading_order
from tests.support.stack_process import RunningStack, start_stack

PAGES = pages_in_reading_order()
BLOCK_TIMEOUT_SECONDS = 60
# What a block's script prints before each block, so a failure names the block it was in.
_MARK = "@@documented-examples block at line "
# The seed page's examples as the README sends them, then its own `tls` service's mail (STARTTLS
# and AUTH against the capture server): each must reach the capture server.
README_SUBJECTS = (
    "Test Email",
    "Your Order Confirmation",
    "Team Update",
    "Re: Your Support Request",
    "Invoice Attached",
    "Welcome, John!",
    "Over TLS, logged in",
)


@dataclass
class Reader:
    """A reader following the docs: the stack they started, their folder, pages done."""

    stack: RunningStack
    folder: Path
    outcomes: dict[Path, str | None] = field(default_factory=dict)

    def follow(self, page: Path) -> str | None:
        """Run every page up to `page` not yet run; `page`'s failure, or None."""
        for earlier in PAGES[: PAGES.index(page) + 1]:
            if earlier not in self.outcomes:
                self.outcomes[earlier] = _run_page(earlier, self.folder)
        return self.outcomes[page]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reader]:
    workdir = tmp_path_factory.mktemp("documented-examples")
    # The stack writes its env next to its state (workdir/env); the reader's `.local/env`
    # is that file, as `make dev`'s is in a clone.
    stack = start_stack(workdir, admin_key="")
    folder = workdir / "reader"
    (folder / ".local").mkdir(parents=True)
    (folder / ".local" / "env").symlink_to(workdir / "env")
    try:
        yield Reader(stack, folder)
    finally:
        stack.stop()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_the_page_s_examples_run_in_order(reader: Reader, page: Path) -> None:
    failure = reader.follow(page)
    assert failure is None, failure


def test_the_readme_s_mail_arrives_in_the_mail_viewer(reader: Reader) -> None:
    reader.follow(PAGES[0])
    subjects = {message["subject"] for message in _viewer_messages(reader.stack)}
    assert [subject for subject in README_SUBJECTS if subject not in subjects] == []


def test_the_readme_s_deferral_arrives_and_its_bounce_does_not(reader: Reader) -> None:
    reader.follow(PAGES[0])
    recipients = {
        rcpt for message in _viewer_messages(reader.stack) for rcpt in message["rcpt_tos"]
    }
    assert "defer+readme@simulator.example.com" in recipients
    assert "bounce+readme@simulator.example.com" not in recipients


def _viewer_messages(stack: RunningStack) -> list[dict[str, Any]]:
    url = f"{stack.api_url}/_local/mail/api/messages?limit=500"
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310  # loopback only
            messages: list[dict[str, Any]] = json.load(answer)["messages"]
        if all(any(m["subject"] == s for m in messages) for s in README_SUBJECTS):
            return messages
        if time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


def _run_page(page: Path, folder: Path) -> str | None:
    blocks = [block for block in code_blocks(page.read_text()) if block.runs]
    if not blocks:
        return None
    name = page.relative_to(REPO_ROOT)
    completed = subprocess.run(  # noqa: S603  # bash, running the docs' own examples
        ["/bin/bash", "-c", _script(blocks)],
        cwd=folder,
        env=_reader_environment(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_SECONDS * len(blocks),
        check=False,
    )
    if completed.returncode == 0:
        return None
    output = completed.stdout + completed.stderr
    last_mark = output.rfind(_MARK)
    line = output[last_mark + len(_MARK) :].split("\n", 1)[0] if last_mark >= 0 else "?"
    shown = output[last_mark:] if last_mark >= 0 else output
    return f"{name}, the ```sh block at line {line} exited {completed.returncode}:\n{shown[-4000:]}"


def _script(blocks: list[CodeBlock]) -> str:
    """One bash session for a page: the reader's settings, then each block after its mark."""
    parts = ["set -euo pipefail", ". .local/env"]
    for block in blocks:
        parts.append(f"echo '{_MARK}{block.line}' >&2")
        parts.append(block.text)
    return "\n".join(parts) + "\n"


def _reader_environment() -> dict[str, str]:
    """This process's environment without anything a block must get from `.local/env` (or
    AWS credentials it must not have)."""
    dropped = ("AWS_", "MAIL_", "MAILER_", "LOCAL_", "BOOTSTRAP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    for name in ("URL", "KEY"):
        env.pop(name, None)
    return env
