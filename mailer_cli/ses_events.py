"""`mailer ses-events replay FILE...`: SES events through the local stack's events function,
as `POST /_local/ses-events` takes them (bare, or wrapped in an SNS notification), one line
of outcomes an event.

A file (or `-`, standard input) holds one event or a JSON list of them. Every file is read
and parsed before the first request: a file that cannot be read or is not JSON is a usage
error, and nothing is replayed. The exit status is 1 when the events function failed on an
event (the others are still replayed), and as for any command otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from mailer_cli.client import API_PREFIX, ApiClient
from mailer_cli.errors import ApiError, UsageError

HELP = "replay SES events (bare or SNS-wrapped) through the local stack's events function"
# The local stack's path (local_stack.gateway.SES_EVENTS_PATH), on its API port.
REPLAY_PATH = "_local/ses-events"
STDIN = "-"
EXIT_REPLAYED = 0
EXIT_FAILED = 1
# What the local stack answers when the events function raised on an event.
FUNCTION_FAILED = 502


def register(command: Callable[[str, str, Callable[..., Any]], argparse.ArgumentParser]) -> None:
    """Add `replay` with `command` (the `ses-events` group's `Commands.command`)."""
    replay = command("replay", HELP, run)
    replay.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a JSON file holding an SES event or a list of them ('-': standard input)",
    )
    replay.set_defaults(needs_api_key=False)
    replay.epilog = (
        "The local stack (make dev) serves POST /_local/ses-events on its API port; a deployed"
        " API has no such path: there SES's events come through the events queue. Exit status:"
        " 0 when every event was replayed (whatever its outcome: applied, duplicate,"
        " unknown_message, dropped), 1 if the events function failed on one, 2 and 3 as for"
        " every command."
    )


@dataclass(frozen=True)
class Event:
    source: str  # the file, and the event's index when the file holds a list
    payload: Any


@dataclass(frozen=True)
class Replay:
    """The events read, to be replayed; `show` sends each, prints its line as it is answered,
    and gives the exit status."""

    client: ApiClient
    events: list[Event]

    def show(self, out: TextIO) -> int:
        status = EXIT_REPLAYED
        for event in self.events:
            try:
                answer = self.client.post(REPLAY_PATH, event.payload)
            except ApiError as error:
                if error.status != FUNCTION_FAILED:
                    raise  # no local stack there, or it refused: the rest would fare alike
                answer, status = None, EXIT_FAILED
            out.write(f"{event.source}: {_outcomes(answer)}\n")
            out.flush()
        return status


def run(client: ApiClient, args: argparse.Namespace) -> Replay:
    events = [event for name in args.files for event in read_events(name, sys.stdin)]
    # No key goes with them: the local path takes none.
    return Replay(replace(client, root=site_root(client.root), api_key=""), events)


def read_events(name: str, stdin: TextIO) -> list[Event]:
    """The events in file `name` (`-`: `stdin`); `UsageError` if it cannot be read or parsed."""
    try:
        text = stdin.read() if name == STDIN else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {name}: {error}") from None
    try:
        content = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{name} is not JSON: {error}") from None
    source = "stdin" if name == STDIN else name
    if isinstance(content, list):
        return [Event(f"{source}[{index}]", item) for index, item in enumerate(content)]
    return [Event(source, content)]


def site_root(api_root: str) -> str:
    """The server's root under an API root (`http://127.0.0.1:3000/api/v2/` ->
    `http://127.0.0.1:3000/`), where the local stack's own paths are."""
    parts = urlsplit(api_root)
    path = parts.path.rstrip("/").removesuffix(API_PREFIX)
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/", "", ""))


def _outcomes(answer: Any) -> str:
    if answer is None:
        return "failed (the events function raised; see the local stack's output)"
    outcomes = answer.get("outcomes") if isinstance(answer, dict) else None
    if not isinstance(outcomes, list):
        return f"unexpected answer: {json.dumps(answer)}"
    return ", ".join(str(outcome) for outcome in outcomes)
