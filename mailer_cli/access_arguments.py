"""`mailer keys` and `mailer roles`: who may call the API, and what a key's role lets it do.
The commands' arguments and help; what each does is in `mailer_cli.commands`."""

from __future__ import annotations

import argparse

from mailer_cli import commands
from mailer_cli.argument_types import non_negative_int, positive_int
from mailer_cli.command_tree import Commands

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


def register_keys(keys: Commands) -> None:
    """The `keys` group's commands, added with `keys.command`."""
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


def register_roles(roles: Commands) -> None:
    """The `roles` group's commands, added with `roles.command`."""
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
