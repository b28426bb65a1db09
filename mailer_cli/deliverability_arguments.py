"""`mailer suppression`, `mailer webhooks` and `mailer stats`: what comes back once mail is
sent (bounces and complaints, message events, the daily numbers). The commands' arguments and
help; what each does is in `mailer_cli.commands`."""

from __future__ import annotations

import argparse

from mailer_cli import commands
from mailer_cli.argument_types import iso_date, page_size
from mailer_cli.command_tree import Commands

# The suppression list's reasons, as the API takes them.
REASONS = ("bounce", "complaint", "manual")

# The fields each list shows as columns (`--json`: all of them, as the API answered).
SUPPRESSION_COLUMNS = ("email", "scope", "reason", "added_at")
WEBHOOK_COLUMNS = ("id", "url", "events", "service", "description")
DELIVERY_COLUMNS = ("at", "type", "event_id", "attempt", "outcome", "status", "error")
STATS_COLUMNS = (
    "service",
    "date",
    "accepted",
    "sent",
    "failed",
    "deferred",
    "delivered",
    "bounced",
    "complained",
    "bounce_rate",
    "complaint_rate",
    "flags",
)


def register_suppression(suppression: Commands) -> None:
    """The `suppression` group's commands, added with `suppression.command`."""
    scope_help = "one service's entries only ('*': the account-wide ones)"
    listing = suppression.command(
        "list",
        "list suppressed addresses, a page at a time",
        commands.suppression_list,
        SUPPRESSION_COLUMNS,
    )
    listing.add_argument(
        "--limit", metavar="N", type=page_size, help="entries per page, 1 to 100 (default: 100)"
    )
    listing.add_argument("--cursor", metavar="CURSOR", help="the page before's meta.next_cursor")
    listing.add_argument("--service", metavar="SERVICE", help=scope_help)
    listing.add_argument("--reason", choices=REASONS, help="only entries added for it")
    add = suppression.command(
        "add", "suppress an address: sends leave it out", commands.suppression_add
    )
    add.add_argument("email", help="the address")
    add.add_argument(
        "--reason", choices=REASONS, default="manual", help="why it is suppressed (default: manual)"
    )
    add.add_argument(
        "--service", metavar="SERVICE", help="for this service only (default: every service)"
    )
    remove = suppression.command(
        "remove", "stop suppressing an address", commands.suppression_remove
    )
    remove.add_argument("email", help="the address")
    remove.add_argument(
        "--service", metavar="SERVICE", help="from this service's scope (default: account-wide)"
    )


def register_webhooks(webhooks: Commands) -> None:
    """The `webhooks` group's commands, added with `webhooks.command`."""
    webhooks.command(
        "list", "list webhooks (never their secrets)", commands.webhooks_list, WEBHOOK_COLUMNS
    )
    add = webhooks.command(
        "add", "subscribe a URL; prints its signing secret, this once", commands.webhooks_add
    )
    # Not `url`: that is the mailer's own --url, the API's.
    add.add_argument("endpoint", metavar="URL", help="an https URL to call")
    add.add_argument(
        "--events",
        metavar="TYPES",
        action="append",
        required=True,
        help="event types, comma-separated or repeated (sent, delivered, bounced, ...; '*': all)",
    )
    add.add_argument("--service", metavar="SERVICE", help="only this service's events")
    add.add_argument("--description", metavar="TEXT", help="a note for yourself")
    for name, help_text, run in (
        ("show", "show one webhook (never its secret)", commands.webhooks_show),
        ("remove", "delete a webhook (its secret and delivery log too)", commands.webhooks_remove),
        ("test", "send it a signed ping now; prints how it went", commands.webhooks_test),
    ):
        webhooks.command(name, help_text, run).add_argument("id", help="the webhook's id")
    deliveries = webhooks.command(
        "deliveries",
        "its delivery log, newest first, a page at a time",
        commands.webhooks_deliveries,
        DELIVERY_COLUMNS,
    )
    deliveries.add_argument("id", help="the webhook's id")
    deliveries.add_argument(
        "--limit", metavar="N", type=page_size, help="attempts per page, 1 to 100 (default: 100)"
    )
    deliveries.add_argument("--cursor", metavar="CURSOR", help="the page before's meta.next_cursor")


def stats_options(stats: argparse.ArgumentParser) -> None:
    """`stats`' options: whose days, and which."""
    stats.add_argument("--service", metavar="SERVICE", help="one service's days (default: all)")
    stats.add_argument(
        "--since",
        metavar="YYYY-MM-DD",
        type=iso_date,
        help="the first day, UTC (default: 29 days before --until)",
    )
    stats.add_argument(
        "--until",
        metavar="YYYY-MM-DD",
        type=iso_date,
        help="the last day, included (default: today, or 29 days after --since)",
    )
