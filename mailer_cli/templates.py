"""`mailer templates`: DreamFactory's stored email templates (`/api/v2/system/email_template`),
listed, shown, created from options and/or a JSON file, changed, deleted. A template is named
by its id (digits) or its name, as the API's path takes it."""

from __future__ import annotations

import argparse
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailer_cli.client import ApiClient, resource_path
from mailer_cli.errors import UsageError
from mailer_cli.files import parse_pairs, read_json_object, read_text
from mailer_cli.template_fields import RECIPIENT_FIELDS, TEXT_FIELDS

TEMPLATES = ("system", "email_template")
LIST_COLUMNS = ("id", "name", "subject", "from_email", "description", "last_modified_date")
SYNTAXES = ("placeholders", "jinja")
# What `--clear` may set back to null (a name or the defaults cannot be null).
CLEARABLE = (*TEXT_FIELDS, *RECIPIENT_FIELDS, "headers", "template_syntax", "attachment")

Register = Callable[..., argparse.ArgumentParser]
ID_OR_NAME_HELP = "the template's id (digits) or its name"


def register(command: Register) -> None:
    """The `templates` group's commands, added with `command` (`Commands.command`)."""
    command("list", "list email templates", templates_list, LIST_COLUMNS)
    show = command("show", "show one email template", templates_show)
    show.add_argument("template", metavar="TEMPLATE", help=ID_OR_NAME_HELP)
    create = command(
        "create", "create an email template from options and/or a JSON file", templates_create
    )
    create.add_argument("name", help="its name (not all digits; spaces allowed)")
    _field_options(create, file_help="a JSON object of the template's fields (options win)")
    update = command(
        "update", "change an email template: only what is given changes", templates_update
    )
    update.add_argument("template", metavar="TEMPLATE", help=ID_OR_NAME_HELP)
    update.add_argument("--name", metavar="NEW", help="rename it (its id stays)")
    _field_options(update, file_help="a JSON object of the fields to change (options win)")
    update.add_argument(
        "--clear",
        metavar="FIELD",
        action="append",
        choices=CLEARABLE,
        default=[],
        help="set a field back to unset (null); repeatable: " + ", ".join(CLEARABLE),
    )
    delete = command("delete", "delete an email template", templates_delete)
    delete.add_argument("template", metavar="TEMPLATE", help=ID_OR_NAME_HELP)


def _field_options(command: argparse.ArgumentParser, *, file_help: str) -> None:
    command.add_argument("--from-file", metavar="FILE", type=Path, help=file_help)
    command.add_argument("--description", metavar="TEXT", help="a note on what it is for")
    message = command.add_argument_group("message")
    message.add_argument(
        "--subject", metavar="TEXT", help="the subject, with {placeholders} (or Jinja)"
    )
    message.add_argument("--body-text", metavar="TEXT", help="the plain-text body")
    message.add_argument(
        "--body-text-file", metavar="FILE", type=Path, help="the plain-text body, from a file"
    )
    message.add_argument("--body-html", metavar="HTML", help="the HTML body")
    message.add_argument(
        "--body-html-file", metavar="FILE", type=Path, help="the HTML body, from a file"
    )
    message.add_argument(
        "--syntax",
        choices=SYNTAXES,
        help="how the texts are read: DreamFactory's {name} placeholders (the API's default)"
        " or Jinja2",
    )
    message.add_argument(
        "--default",
        dest="defaults",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a placeholder's value when a send brings none (repeatable; replaces the stored"
        " defaults)",
    )
    addresses = command.add_argument_group("addresses")
    for name in RECIPIENT_FIELDS:
        addresses.add_argument(
            f"--{name}",
            metavar="ADDRESS",
            action="append",
            help=f"a {name} recipient a send gets when it names none (repeatable)",
        )
    addresses.add_argument("--from-email", metavar="ADDRESS", help="the sender's address")
    addresses.add_argument("--from-name", metavar="NAME", help="the sender's name")
    addresses.add_argument("--reply-to-email", metavar="ADDRESS", help="the Reply-To address")
    addresses.add_argument("--reply-to-name", metavar="NAME", help="the Reply-To name")


def templates_list(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*TEMPLATES))


def templates_show(client: ApiClient, args: Namespace) -> Any:
    return client.get(resource_path(*TEMPLATES, args.template))


def templates_create(client: ApiClient, args: Namespace) -> Any:
    return client.post(resource_path(*TEMPLATES), {**template_fields(args), "name": args.name})


def templates_update(client: ApiClient, args: Namespace) -> Any:
    changes = template_fields(args)
    changes.update(dict.fromkeys(args.clear))
    if args.name is not None:
        changes["name"] = args.name
    if not changes:
        raise UsageError("nothing to change: give a field's option, --from-file or --clear")
    return client.patch(resource_path(*TEMPLATES, args.template), changes)


def templates_delete(client: ApiClient, args: Namespace) -> Any:
    return client.delete(resource_path(*TEMPLATES, args.template))


def template_fields(args: Namespace) -> dict[str, Any]:
    """The template's fields: the file's, then each option given over them."""
    fields = read_json_object(args.from_file) if args.from_file else {}
    for name in TEXT_FIELDS:
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    for name, path in (("body_text", args.body_text_file), ("body_html", args.body_html_file)):
        if path is not None:
            if getattr(args, name) is not None:
                raise UsageError(f"give --{name.replace('_', '-')} or its -file, not both")
            fields[name] = read_text(path)
    for name in RECIPIENT_FIELDS:
        if getattr(args, name):
            fields[name] = getattr(args, name)
    if args.syntax is not None:
        fields["template_syntax"] = args.syntax
    if args.defaults:
        fields["defaults"] = parse_pairs(args.defaults, "--default")
    return fields
