"""`mailer`'s entry point: parse, call the API (once, or once a record for `import`), print,
and exit with how it went."""

from __future__ import annotations

import os
import sys
import urllib.request
from argparse import Namespace
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from mailer_cli.answers import BatchRun, Noted
from mailer_cli.client import ApiClient, Opener, api_root
from mailer_cli.command_tree import DEFAULT_TIMEOUT_SECONDS
from mailer_cli.connection_report import ConnectionReport
from mailer_cli.errors import ApiError, Unreachable, UsageError
from mailer_cli.import_run import Action, ImportRun
from mailer_cli.output import print_answer, print_api_error, print_note, print_outcome
from mailer_cli.parser import build_parser
from mailer_cli.progress import Progress
from mailer_cli.ses_events import Replay

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2  # argparse's own
EXIT_UNREACHABLE = 3


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    opener: Opener = urllib.request.urlopen,
) -> int:
    """Run one command; the exit status is documented in `mailer --help`."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)  # exits 2 on a usage error, 0 after --help
    try:
        # An offline command (completion) needs no API, so no --url or key either.
        client = None if getattr(args, "offline", False) else connect(args, opener)
        answer = args.run(client, args)
        if isinstance(answer, ImportRun):
            return _print_import(answer, out, err, asked=_asks_progress(args))
        if isinstance(answer, ConnectionReport | Replay):
            return answer.show(out)
        failed_items = 0
        if isinstance(answer, BatchRun):
            answer = _joined_batch(answer, err, asked=_asks_progress(args))
            failed_items = _failed_items(answer)
        if isinstance(answer, Noted):
            print_note(answer.note, err)
            answer = answer.answer
    except UsageError as error:
        args.parser.error(str(error))  # exits 2, after the command's usage line
    except ApiError as error:
        print_api_error(error, err)
        return EXIT_API_ERROR
    except Unreachable as error:
        print_note(str(error), err)
        return EXIT_UNREACHABLE
    if isinstance(answer, dict) and "key" in answer:
        print_note("this is the only time the key is shown: store it now", err)
    if isinstance(answer, dict) and "secret" in answer:
        print_note("this is the only time the signing secret is shown: store it now", err)
    print_answer(
        answer,
        out,
        as_json=wants_json(args),
        columns=getattr(args, "columns", ()),
        only=getattr(args, "field", None),
    )
    if failed_items:
        # A script sees it in the exit status; the results above say which and why.
        print_note(f"batch: {failed_items} of {len(answer['results'])} items failed", err)
        return EXIT_API_ERROR
    return EXIT_OK


def wants_json(args: Namespace) -> bool:
    """`--json`, given before or after the command."""
    return bool(getattr(args, "json", False))


def _print_import(run: ImportRun, out: TextIO, err: TextIO, *, asked: bool) -> int:
    """Each record's line as it is done; 1 if any failed (skipped ones did not)."""
    counts: Counter[Action] = Counter()
    progress = Progress(err, "import", run.records, asked=asked)
    for done, outcome in enumerate(run.outcomes, start=1):
        progress.clear()
        print_outcome(outcome, out, err, as_json=run.as_json)
        counts[outcome.action] += 1
        progress.advance(done)
    progress.clear()
    summary = ", ".join(f"{count} {action.value}" for action, count in counts.items())
    print_note(f"import: {summary or 'no records'}", err)
    return EXIT_API_ERROR if counts[Action.FAILED] else EXIT_OK


def _joined_batch(run: BatchRun, err: TextIO, *, asked: bool) -> Any:
    """The parts' answers as one: the API's own when there was one part, else every part's
    `results` in order, their `index` counted across the whole file."""
    progress = Progress(err, "batch", run.items, asked=asked)
    answers: list[Any] = []
    try:
        for done, answer in run.answers:
            answers.append(answer)
            progress.advance(done)
    finally:
        progress.clear()
    if len(answers) == 1:
        return answers[0]
    results: list[Any] = []
    for answer in answers:
        part = answer.get("results", []) if isinstance(answer, dict) else []
        offset = len(results)
        results += [
            {**item, "index": item["index"] + offset}
            if isinstance(item, dict) and "index" in item
            else item
            for item in part
        ]
    return {"results": results}


def _failed_items(answer: Any) -> int:
    """How many of a batch's results are failures."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        return 0
    return sum(1 for item in results if isinstance(item, dict) and item.get("status") == "failed")


def _asks_progress(args: Namespace) -> bool:
    return bool(getattr(args, "progress", False))


def connect(args: Namespace, opener: Opener) -> ApiClient:
    """The client the options (or MAILER_URL and MAILER_API_KEY) describe."""
    url = getattr(args, "url", None) or os.environ.get("MAILER_URL")
    api_key = getattr(args, "api_key", None) or os.environ.get("MAILER_API_KEY")
    if not url:
        raise UsageError("no API URL: give --url or set MAILER_URL")
    if not api_key and getattr(args, "needs_api_key", True):
        raise UsageError("no API key: give --api-key or set MAILER_API_KEY")
    timeout = getattr(args, "timeout", DEFAULT_TIMEOUT_SECONDS)
    return ApiClient(api_root(url), api_key or "", timeout, opener)
