"""The frame every `mailer` command hangs in: the connection and output options each one
takes, and `Commands`, which adds a command or a group of them under a parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mailer_cli.argument_types import positive_float
from mailer_cli.client import ApiClient
from mailer_cli.human import Columns

DEFAULT_TIMEOUT_SECONDS = 30.0

Command = Callable[[ApiClient, argparse.Namespace], Any]


def connection_options() -> argparse.ArgumentParser:
    # SUPPRESS: an option not given leaves no attribute, so one given before the command is
    # not overwritten by the command's own copy; `main` falls back to the environment.
    options = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = options.add_argument_group("connection")
    group.add_argument("--url", metavar="URL", help="the API's base URL (default: $MAILER_URL)")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key to call with (default: $MAILER_API_KEY, which keeps it out of shell"
        " history and `ps`)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_float,
        help=f"how long to wait for the API (default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    output = options.add_argument_group("output")
    output.add_argument(
        "--json",
        action="store_true",
        help="print the API's JSON as it answered (import: one JSON object per record)"
        " instead of tables and `key: value` lines",
    )
    output.add_argument(
        "--field",
        metavar="PATH",
        help="print only this field of the answer (a dotted path: id, config.host), one line"
        " per record for a list; for scripts: ID=$(mailer ... --field id)",
    )
    output.add_argument(
        "--progress",
        action="store_true",
        help="show progress on standard error even when it is not a terminal (send --batch,"
        " import)",
    )
    return options


class Commands:
    """The subcommands of one parser; every command also takes the connection options."""

    def __init__(self, parser: argparse.ArgumentParser, connection: argparse.ArgumentParser):
        self._subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
        self._connection = connection

    def group(self, name: str, help_text: str) -> Commands:
        group = self._subparsers.add_parser(
            name, help=help_text, description=f"{name}: {help_text}."
        )
        return Commands(group, self._connection)

    def command(
        self, name: str, help_text: str, run: Command, columns: Columns = ()
    ) -> argparse.ArgumentParser:
        """A command doing `run`; `columns`: the fields its list answer shows as a table."""
        command = self._subparsers.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}.",
            parents=[self._connection],
        )
        command.set_defaults(run=run, parser=command, columns=columns)
        return command
