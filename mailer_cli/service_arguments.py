"""`mailer services`: the SMTP services mail is sent through. The commands' arguments and
help, with the SMTP server's, the sender defaults' and the password's options; what each does
is in `mailer_cli.commands`."""

from __future__ import annotations

import argparse
from pathlib import Path

from mailer_cli import commands
from mailer_cli.argument_types import port, positive_int
from mailer_cli.command_tree import Commands

ENCRYPTIONS = ("tls", "ssl", "none")
ENCRYPTION_HELP = (
    "tls = STARTTLS required (port 587), ssl = implicit TLS (port 465), none = plain text"
    " (API default: unset, which uses STARTTLS whenever the server offers it)"
)

# The fields each list shows as columns (`--json`: all of them, as the API answered).
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


def register_services(services: Commands) -> None:
    """The `services` group's commands, added with `services.command`."""
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
