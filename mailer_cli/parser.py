"""The `mailer` command line: `build_parser` is its table of contents, each command or group
with its one-line help, in the order `mailer --help` lists them. Each command's arguments are
added by the module of its group (`access_arguments`, `service_arguments`, `templates`, ...)."""

from __future__ import annotations

import argparse

from mailer_cli import commands, completion, connection_report, ses_events, templates
from mailer_cli.access_arguments import register_keys, register_roles
from mailer_cli.command_tree import Commands, connection_options
from mailer_cli.deliverability_arguments import (
    STATS_COLUMNS,
    register_suppression,
    register_webhooks,
    stats_options,
)
from mailer_cli.dreamfactory_arguments import api_options, import_options
from mailer_cli.sending_arguments import (
    BATCH_COLUMNS,
    message_options,
    register_messages,
    send_options,
)
from mailer_cli.service_arguments import register_services

DESCRIPTION = """\
Administer the email API (API keys, roles, services, email templates, the suppression list,
the daily numbers, webhooks), send and follow mail, and import DreamFactory's services and
email templates, against a deployed API (the stack's ApiUrl output) or the local stack
(make dev).

Answers are printed for a person: a list as aligned columns, one record as `key: value`
lines. --json prints the API's JSON as it answered, pretty-printed, for scripts."""

EPILOG = """\
environment:
  MAILER_URL       the API's base URL, for --url (with or without /api/v2/)
  MAILER_API_KEY   the API key, for --api-key (keys, roles, services, the suppression
                   list, stats and webhooks need an admin key; ses-events replay needs none)

exit status:
  0  success: the API's answer is on standard output
  1  the API answered with an error: its error envelope is on standard error
     (for 429, with the Retry-After wait); or some items of `send --batch` or
     `import` failed (each one's result says why)
  2  usage error: a wrong option, a missing --url or --api-key, an unreadable file
  3  the API could not be reached: connection refused, name not resolved, timeout

Options of the mailer itself (--url, --api-key, --timeout, --json, --progress) may also
follow the command. Shell completion: `mailer completion bash` (or zsh) prints a script."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; each command sets `run` (a `commands` function) and `parser`."""
    connection = connection_options()
    parser = argparse.ArgumentParser(
        prog="mailer",
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[connection],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top = Commands(parser, connection)
    register_keys(top.group("keys", "create, list, change, rotate, disable and revoke API keys"))
    register_roles(top.group("roles", "create, list, change and delete roles"))
    register_services(
        top.group("services", "create, list, change, enable, disable and delete services")
    )
    templates.register(
        top.group("templates", "create, list, change and delete email templates").command
    )
    register_suppression(top.group("suppression", "list, add and remove suppressed addresses"))
    register_webhooks(top.group("webhooks", "subscribe endpoints to message events, test them"))
    send_options(
        top.command(
            "send", "send a mail (a test mail if no body is given)", commands.send, BATCH_COLUMNS
        )
    )
    message_options(
        top.command(
            "preview",
            "show what a send would hand to the SMTP server, sending nothing",
            commands.preview,
        )
    )
    register_messages(top.group("messages", "find sent messages, what became of them, cancel one"))
    stats_options(
        top.command(
            "stats",
            "the daily numbers per service, with bounce and complaint rates",
            commands.stats,
            STATS_COLUMNS,
        )
    )
    top.command("health", "is the API up? (no key needed)", commands.health).set_defaults(
        needs_api_key=False
    )
    import_options(
        top.command(
            "import",
            "create services and email templates from DreamFactory's exported JSON",
            commands.import_file,
        )
    )
    api_options(
        top.command(
            "api",
            "make any request of the API (DreamFactory's batch forms too) and print the answer",
            commands.api,
        )
    )
    connection_report.register(top.command)
    ses_events.register(top.group("ses-events", "replay SES events on the local stack").command)
    completion.register(top.command, parser)
    return parser
