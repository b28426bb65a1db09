"""The `mailer` command line: every command, its options, and its help."""

from __future__ import annotations

import argparse
from pathlib import Path

from mailer_cli import commands, completion, connection_report, ses_events, templates
from mailer_cli.argument_types import (
    aware_time,
    iso_date,
    non_negative_int,
    page_size,
    port,
    positive_int,
)
from mailer_cli.command_tree import Commands, connection_options

# The suppression list's reasons, as the API takes them.
REASONS = ("bounce", "complaint", "manual")
STATUSES = ("scheduled", "queued", "sending", "deferred", "sent", "failed", "unknown", "cancelled")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ENCRYPTIONS = ("tls", "ssl", "none")
ENCRYPTION_HELP = (
    "tls = STARTTLS required (port 587), ssl = implicit TLS (port 465), none = plain text"
    " (API default: unset, which uses STARTTLS whenever the server offers it)"
)

# The fields each list shows as columns (`--json`: all of them, as the API answered).
KEY_COLUMNS = (
    "id",
    "role",
    "label",
    "enabled",
    "created_at",
    "last_used_at",
    "previous_valid_until",
)
ROLE_COLUMNS = (
    "name",
    "admin",
    "services",
    "senders",
    "templates",
    "max_recipients",
    "rate_limits",
)
SERVICE_COLUMNS = (
    "name",
    "type",
    "is_active",
    "config.host",
    "config.port",
    "config.encryption",
    "config.from_email",
    "label",
)
SUPPRESSION_COLUMNS = ("email", "scope", "reason", "added_at")
WEBHOOK_COLUMNS = ("id", "url", "events", "service", "description")
DELIVERY_COLUMNS = ("at", "type", "event_id", "attempt", "outcome", "status", "error")
MESSAGE_COLUMNS = ("id", "service", "status", "recipients", "tags", "created_at", "reason")
EVENT_COLUMNS = ("at", "type", "recipient")
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
BATCH_COLUMNS = ("index", "status", "id", "count", "send_at", "error.reason", "error.message")

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
     (for 429, with the Retry-After wait)
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
    _keys(top.group("keys", "create, list, change, rotate, disable and revoke API keys"))
    _roles(top.group("roles", "create, list, change and delete roles"))
    _services(top.group("services", "create, list, change, enable, disable and delete services"))
    templates.register(
        top.group("templates", "create, list, change and delete email templates").command
    )
    _suppression(top.group("suppression", "list, add and remove suppressed addresses"))
    _webhooks(top.group("webhooks", "subscribe endpoints to message events, test them"))
    _send_options(
        top.command(
            "send", "send a mail (a test mail if no body is given)", commands.send, BATCH_COLUMNS
        )
    )
    _message_options(
        top.command(
            "preview",
            "show what a send would hand to the SMTP server, sending nothing",
            commands.preview,
        )
    )
    _messages(top.group("messages", "find sent messages, what became of them, cancel one"))
    _stats_options(
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
    _import_options(
        top.command(
            "import",
            "create services and email templates from DreamFactory's exported JSON",
            commands.import_file,
        )
    )
    _api_options(
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


def _keys(keys: Commands) -> None:
    create = keys.command(
        "create", "create an API key (its secret is shown this once)", commands.keys_create
    )
    create.add_argument("--role", required=True, metavar="ROLE", help="the role the key acts with")
    create.add_argument("--label", metavar="TEXT", help="a note on whose key it is")
    keys.command(
        "list",
        "list API keys, the bootstrap admin key too (never their secrets)",
        commands.keys_list,
        KEY_COLUMNS,
    )
    update = keys.command("update", "change an API key's label or role", commands.keys_update)
    update.add_argument("id", help="the key's id")
    update.add_argument("--label", metavar="TEXT", help="a new note on whose key it is")
    update.add_argument("--role", metavar="ROLE", help="the role it acts with from now on")
    for name, help_text, run in (
        ("show", "show one API key", commands.keys_show),
        ("disable", "disable an API key (it can be enabled again)", commands.keys_disable),
        ("enable", "enable a disabled API key", commands.keys_enable),
        ("revoke", "delete an API key for good", commands.keys_revoke),
    ):
        keys.command(name, help_text, run).add_argument("id", help="the key's id")
    rotate = keys.command(
        "rotate", "give an API key a new secret (same id and role)", commands.keys_rotate
    )
    rotate.add_argument("id", help="the key's id")
    rotate.add_argument(
        "--overlap",
        metavar="SECONDS",
        type=non_negative_int,
        default=0,
        help="how long the old secret keeps working (default: 0, it stops at once)",
    )


def _roles(roles: Commands) -> None:
    create = roles.command("create", "create a role", commands.roles_create)
    create.add_argument("name", help="lower-case letters, digits, '-' or '_'")
    create.add_argument(
        "--admin", action="store_true", help="may use the admin API (keys, roles, services)"
    )
    _role_options(create)
    update = roles.command(
        "update",
        "change a role: only what is given changes (a list given replaces the stored one)",
        commands.roles_update,
    )
    update.add_argument("name", help="the role's name")
    update.add_argument(
        "--admin",
        action=argparse.BooleanOptionalAction,
        help="may use the admin API (--no-admin: may not)",
    )
    update.add_argument(
        "--any-template",
        action="store_true",
        help="lift the templates restriction: its keys may send with or without any template",
    )
    _role_options(update)
    roles.command("list", "list roles", commands.roles_list, ROLE_COLUMNS)
    for name, help_text, run in (
        ("show", "show one role", commands.roles_show),
        ("delete", "delete a role (its keys stop working)", commands.roles_delete),
    ):
        roles.command(name, help_text, run).add_argument("name", help="the role's name")


def _role_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--description", metavar="TEXT", help="what the role is for")
    command.add_argument(
        "--service",
        dest="services",
        metavar="SERVICE",
        action="append",
        default=[],
        help="a service it may send through, or '*' for all (repeatable)",
    )
    command.add_argument(
        "--sender",
        dest="senders",
        metavar="ADDRESS",
        action="append",
        default=[],
        help="a sender address or '*@domain' it may use (repeatable; none: the service's"
        " default sender only)",
    )
    command.add_argument(
        "--template",
        dest="templates",
        metavar="TEMPLATE",
        action="append",
        default=[],
        help="a stored template's name its keys must send with, or '*' for any (repeatable;"
        " none: no restriction)",
    )
    command.add_argument(
        "--max-recipients", metavar="N", type=positive_int, help="recipients per message"
    )
    command.add_argument("--per-minute", metavar="N", type=positive_int, help="sends per minute")
    command.add_argument("--per-day", metavar="N", type=positive_int, help="sends per day")


def _services(services: Commands) -> None:
    create = services.command("create", "create an SMTP service", commands.services_create)
    create.add_argument("name", help="lower-case letters, digits, '-' or '_'; not 'system'")
    create.add_argument("--label", metavar="TEXT", help="a short title for people")
    create.add_argument("--description", metavar="TEXT", help="what the service is for")
    smtp = create.add_argument_group("SMTP server")
    smtp.add_argument("--host", required=True, help="the SMTP server's hostname")
    smtp.add_argument("--port", type=port, help="its port (API default: 587)")
    smtp.add_argument("--encryption", choices=ENCRYPTIONS, help=ENCRYPTION_HELP)
    smtp.add_argument(
        "--no-verify-tls",
        dest="verify_tls",
        action="store_false",
        help="do not verify the server's certificate",
    )
    smtp.add_argument("--username", metavar="NAME", help="the SMTP AUTH username")
    _password_options(smtp)
    defaults = create.add_argument_group("sender defaults")
    _sender_options(defaults)
    update = services.command(
        "update",
        "change a service: only what is given changes (moving it to another server, port,"
        " username or a weaker encryption needs its password again)",
        commands.services_update,
    )
    update.add_argument("name", help="the service's name")
    update.add_argument(
        "--from-file",
        metavar="FILE",
        type=Path,
        help="a JSON object of fields to change, as the API's PATCH takes it (options win);"
        " for what has no option (dkim, oauth2, ...)",
    )
    update.add_argument("--label", metavar="TEXT", help="a short title for people")
    update.add_argument("--description", metavar="TEXT", help="what the service is for")
    smtp = update.add_argument_group("SMTP server")
    smtp.add_argument("--host", help="the SMTP server's hostname")
    smtp.add_argument("--port", type=port, help="its port")
    smtp.add_argument("--encryption", choices=ENCRYPTIONS, help=ENCRYPTION_HELP)
    smtp.add_argument(
        "--verify-tls",
        action=argparse.BooleanOptionalAction,
        help="verify the server's certificate (--no-verify-tls: do not)",
    )
    smtp.add_argument("--username", metavar="NAME", help="the SMTP AUTH username")
    _password_options(smtp)
    _sender_options(update.add_argument_group("sender defaults"))
    sending = update.add_argument_group("sending")
    sending.add_argument(
        "--max-send-rate", metavar="N", type=positive_int, help="messages per second at most"
    )
    sending.add_argument(
        "--daily-quota", metavar="N", type=positive_int, help="messages per day at most"
    )
    sending.add_argument(
        "--max-connections", metavar="N", type=positive_int, help="SMTP connections, 1 to 10"
    )
    sending.add_argument(
        "--max-recipients", metavar="N", type=positive_int, help="recipients per message"
    )
    sending.add_argument(
        "--retry-window-minutes",
        metavar="N",
        type=positive_int,
        help="how long a deferred message is retried (1 to 7200)",
    )
    sending.add_argument(
        "--unknown-outcome",
        choices=("hold", "retry"),
        help="a message whose connection broke after its final dot: hold it (never resend)"
        " or retry it",
    )
    sending.add_argument(
        "--suppression-scope",
        choices=("account", "service"),
        help="which suppression entries its sends honour: the account-wide ones and its own"
        " (account), or its own only (service)",
    )
    sending.add_argument(
        "--parameter",
        dest="parameters",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a placeholder value every send gets (repeatable; replaces the stored ones)",
    )
    set_password = services.command(
        "set-password", "store a service's SMTP password", commands.services_set_password
    )
    set_password.add_argument("name", help="the service's name")
    _password_options(set_password)
    services.command(
        "list", "list services (never their passwords)", commands.services_list, SERVICE_COLUMNS
    )
    for name, help_text, run in (
        ("show", "show one service", commands.services_show),
        ("enable", "let a service send again", commands.services_enable),
        ("disable", "stop a service from sending (sends get an error)", commands.services_disable),
        ("delete", "delete a service and its stored password", commands.services_delete),
    ):
        services.command(name, help_text, run).add_argument("name", help="the service's name")


def _sender_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--from-email", metavar="ADDRESS", help="the default sender's address")
    group.add_argument("--from-name", metavar="NAME", help="the default sender's name")
    group.add_argument("--reply-to-email", metavar="ADDRESS", help="the default Reply-To address")
    group.add_argument("--reply-to-name", metavar="NAME", help="the default Reply-To name")


def _suppression(suppression: Commands) -> None:
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


def _stats_options(stats: argparse.ArgumentParser) -> None:
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


def _webhooks(webhooks: Commands) -> None:
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


def _password_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    # Never the password itself as an argument: it would be in shell history and in `ps`.
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the SMTP password from standard input (one line; prompts on a terminal)",
    )
    secret.add_argument(
        "--password-env", metavar="VAR", help="take the SMTP password from variable VAR"
    )


IMPORT_EPILOG = """\
accepted files (DreamFactory's GET /api/v2/system/service and .../email_template answer
the third form):
  a service or template record         {"name": "email", "type": "smtp_email", "config": {...}}
  a list of records                    [{...}, {...}]
  a resource list                      {"resource": [{...}, {...}]}
  a mixed export                       {"services": [...], "email_templates": [...]}
                                       (also "service" and "email_template", each in any of
                                       the forms above)

A record is a service if it has "type" or "config", else an email template. Services of
other types than smtp_email and smtp (mailgun_email, local_email, ...) are skipped and
reported. DreamFactory's ids are kept, so that clients sending "template_id": 4 reach the
same template: a record whose id another template holds here fails, and is reported. Its
dates are left out. A service named like one here (email, which `make dev` creates) fails
unless it is renamed (--rename-service email=df_email) or replaces the one here (--replace).
DreamFactory exports no password: set it afterwards with `mailer services set-password`.

One line per record on standard output (with --json, one JSON object per line: action,
kind, name, name_here, dreamfactory_id, id, detail, where, notes); exit status 1 if any
record failed."""


def _import_options(command: argparse.ArgumentParser) -> None:
    command.epilog = IMPORT_EPILOG
    command.formatter_class = argparse.RawDescriptionHelpFormatter
    command.add_argument("file", type=Path, help="the exported JSON file")
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be created, and make no request",
    )
    command.add_argument(
        "--replace",
        action="store_true",
        help="change a service or template that already exists (PATCH) instead of failing",
    )
    command.add_argument(
        "--rename-service",
        metavar="OLD=NEW",
        action="append",
        default=[],
        help="create DreamFactory's service OLD as NEW here, beside an existing OLD (repeatable)",
    )


def _messages(messages: Commands) -> None:
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


def _api_options(api: argparse.ArgumentParser) -> None:
    api.add_argument("method", choices=HTTP_METHODS, type=str.upper, help="the HTTP method")
    api.add_argument(
        "path", help="the path under /api/v2/, with its query string (system/role?limit=5)"
    )
    body = api.add_mutually_exclusive_group()
    body.add_argument("--body", metavar="JSON", help="the request's JSON body")
    body.add_argument(
        "--body-file", metavar="FILE", type=Path, help="the request's JSON body, from a file"
    )
    api.epilog = (
        "For what no other command does: DreamFactory's batch forms (PATCH"
        ' system/role with {"resource": [...]}, DELETE system/email_template?ids=1,2), PUT.'
    )


def _send_options(send: argparse.ArgumentParser) -> None:
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
    _message_options(send, recipients=False)
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


def _message_options(send: argparse.ArgumentParser, *, recipients: bool = True) -> None:
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
