"""`mailer send`, `mailer preview` and `mailer messages`: send mail, and follow what became
of it. The commands' arguments and help, with the options a message is built from; what each
does is in `mailer_cli.commands`."""

from __future__ import annotations

import argparse
from pathlib import Path

from mailer_cli import commands
from mailer_cli.argument_types import aware_time, positive_int
from mailer_cli.command_tree import Commands

STATUSES = ("scheduled", "queued", "sending", "deferred", "sent", "failed", "unknown", "cancelled")

# The fields each list shows as columns (`--json`: all of them, as the API answered).
BATCH_COLUMNS = ("index", "status", "id", "count", "send_at", "error.reason", "error.message")
MESSAGE_COLUMNS = ("id", "service", "status", "recipients", "tags", "created_at", "reason")
EVENT_COLUMNS = ("at", "type", "recipient")


def send_options(send: argparse.ArgumentParser) -> None:
    """`send`'s options: recipients or a batch file, the message's, and when to deliver it."""
    what = send.add_mutually_exclusive_group()
    what.add_argument("--to", metavar="ADDRESS", action="append", help="a recipient (repeatable)")
    what.add_argument(
        "--batch",
        metavar="FILE",
        type=Path,
        help="send the batch in FILE instead (JSON: the body of POST /api/v2/{service}/batch,"
        f" or a list of send bodies; more than {commands.BATCH_PART} items go in parts);"
        " prints each item's result",
    )
    message_options(send, recipients=False)
    delivery = send.add_argument_group("delivery")
    delivery.add_argument(
        "--async",
        dest="async_",
        action="store_true",
        help="queue it and answer at once (202) with its id, instead of waiting for the server",
    )
    delivery.add_argument(
        "--send-at",
        metavar="TIME",
        type=aware_time,
        help="send it later (up to 30 days ahead): an ISO 8601 time with its zone"
        " (2026-12-24T09:00:00+01:00), or +N minutes, hours or days from now (+90m, +2h, +1d)",
    )
    delivery.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="a repeat with the same key and body gets the first answer; nothing is sent twice",
    )


def message_options(send: argparse.ArgumentParser, *, recipients: bool = True) -> None:
    """The options a message is built from: `send`'s and `preview`'s."""
    send.add_argument(
        "--service",
        metavar="NAME",
        default="email",
        help="the service to send through (default: email)",
    )
    if recipients:
        send.add_argument(
            "--to", metavar="ADDRESS", action="append", help="a recipient (repeatable)"
        )
    send.add_argument(
        "--cc", metavar="ADDRESS", action="append", help="a Cc recipient (repeatable)"
    )
    send.add_argument(
        "--bcc", metavar="ADDRESS", action="append", help="a Bcc recipient (repeatable)"
    )
    send.add_argument("--from-email", metavar="ADDRESS", help="the sender (default: the service's)")
    send.add_argument("--from-name", metavar="NAME", help="the sender's name")
    send.add_argument("--reply-to-email", metavar="ADDRESS", help="the Reply-To address")
    send.add_argument(
        "--subject",
        metavar="TEXT",
        help="the subject (default: the template's, or 'Test mail from mailer')",
    )
    send.add_argument(
        "--text", metavar="TEXT", help="the plain-text body (a test line if no body is given)"
    )
    send.add_argument("--html", metavar="HTML", help="the HTML body")
    send.add_argument(
        "--attach",
        metavar="FILE",
        type=Path,
        action="append",
        help="attach a file, its type guessed from its name (repeatable)",
    )
    send.add_argument(
        "--tag",
        dest="tags",
        metavar="TAG",
        action="append",
        help="a label to find it by later (messages list --tag; repeatable)",
    )
    template = send.add_argument_group("stored template")
    template.add_argument(
        "--template",
        metavar="NAME",
        help="start from this stored template (its name, or its id); it brings what is not"
        " given here",
    )
    template.add_argument(
        "--data",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a placeholder's value (template_data; repeatable; wins over --data-file)",
    )
    template.add_argument(
        "--data-file",
        metavar="FILE",
        type=Path,
        help="placeholder values from a JSON object (template_data)",
    )


def register_messages(messages: Commands) -> None:
    """The `messages` group's commands, added with `messages.command`."""
    listing = messages.command(
        "list", "list messages, newest first (one page)", commands.messages_list, MESSAGE_COLUMNS
    )
    listing.add_argument(
        "--service",
        metavar="NAME",
        help="only this service's (default: every service's, which needs an admin key)",
    )
    listing.add_argument(
        "--status",
        choices=STATUSES,
        help="only messages in this status",
    )
    listing.add_argument("--recipient", metavar="ADDRESS", help="sent to this address")
    listing.add_argument("--tag", metavar="TAG", help="sent with this tag")
    listing.add_argument("--since", metavar="TIME", help="accepted at or after (ISO 8601, zone)")
    listing.add_argument("--until", metavar="TIME", help="accepted at or before (ISO 8601, zone)")
    listing.add_argument("--limit", metavar="N", type=positive_int, help="1 to 100 (default 20)")
    listing.add_argument("--cursor", metavar="CURSOR", help="the previous page's meta.next_cursor")
    for name, help_text, run, columns in (
        ("show", "show one message's record", commands.messages_show, ()),
        (
            "events",
            "what happened to a message, recipient by recipient (sent, delivered, bounced, ...)",
            commands.messages_events,
            EVENT_COLUMNS,
        ),
        (
            "cancel",
            "cancel a message that waits (scheduled, queued or deferred)",
            commands.messages_cancel,
            (),
        ),
    ):
        command = messages.command(name, help_text, run, columns)
        command.add_argument("id", help="the message's id (a send's answer names it)")
        command.add_argument(
            "--service",
            metavar="NAME",
            help="the service that sent it (default: found by the id alone, with an admin key)",
        )
