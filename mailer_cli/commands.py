"""One function per `mailer` command: parsed arguments in, the API's JSON answer out (for
`import`, the outcome of each record, made as they are printed).

Each takes the `ApiClient` and the argparse namespace `parser.build_parser` produced; the
request bodies are built by the `*_body` functions, which touch neither network nor terminal.
"""

from __future__ import annotations

import getpass
import os
import sys
from argparse import Namespace
from typing import Any, TextIO
from urllib.parse import urlencode

from mailer_cli.client import ApiClient, resource_path
from mailer_cli.errors import UsageError
from mailer_cli.import_run import (
    ImportOptions,
    ImportRun,
    check_renames,
    import_records,
    parse_renames,
)
from mailer_cli.importing import read_export
from mailer_cli.message import batch_body, send_body

KEYS = ("system", "api_key")
MESSAGES = ("system", "message")
# The message lists' query parameters, as `messages list` takes them.
MESSAGE_FILTERS = ("status", "recipient", "tag", "since", "until", "limit", "cursor")
ROLES = ("system", "role")
SERVICES = ("system", "service")
SUPPRESSION = ("system", "suppression")
STATS = ("system", "stats")
WEBHOOKS = ("system", "webhook")

# --- API keys -----------------------------------------------------------------------------


def keys_create(client: ApiClient, args: Namespace) -> Any:
    body = {"role": args.role} if args.label is None else {"role": args.role, "label": args.label}
    return client.post(resource_path(*KEYS), body)


def keys_list(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*KEYS))


def keys_show(client: ApiClient, args: Namespace) -> Any:
    return client.get(resource_path(*KEYS, args.id))


def keys_rotate(client: ApiClient, args: Namespace) -> Any:
    return client.post(resource_path(*KEYS, args.id, "rotate"), {"overlap_seconds": args.overlap})


def keys_disable(client: ApiClient, args: Namespace) -> Any:
    return client.patch(resource_path(*KEYS, args.id), {"enabled": False})


def keys_enable(client: ApiClient, args: Namespace) -> Any:
    return client.patch(resource_path(*KEYS, args.id), {"enabled": True})


def keys_revoke(client: ApiClient, args: Namespace) -> Any:
    return client.delete(resource_path(*KEYS, args.id))


# --- roles --------------------------------------------------------------------------------


def roles_create(client: ApiClient, args: Namespace) -> Any:
    return client.post(resource_path(*ROLES), role_body(args))


def roles_list(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*ROLES))


def roles_show(client: ApiClient, args: Namespace) -> Any:
    return client.get(resource_path(*ROLES, args.name))


def roles_delete(client: ApiClient, args: Namespace) -> Any:
    return client.delete(resource_path(*ROLES, args.name))


def role_body(args: Namespace) -> dict[str, Any]:
    """`POST /api/v2/system/role`: what was given; the API's defaults for the rest."""
    body: dict[str, Any] = {
        "name": args.name,
        "admin": args.admin,
        "services": args.services,
        "senders": args.senders,
    }
    if args.description is not None:
        body["description"] = args.description
    if args.max_recipients is not None:
        body["max_recipients"] = args.max_recipients
    limits = {"per_minute": args.per_minute, "per_day": args.per_day}
    if any(limit is not None for limit in limits.values()):
        body["rate_limits"] = limits
    return body


# --- services -----------------------------------------------------------------------------


def services_create(client: ApiClient, args: Namespace) -> Any:
    return client.post(resource_path(*SERVICES), service_body(args, password(args)))


def services_list(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*SERVICES))


def services_show(client: ApiClient, args: Namespace) -> Any:
    return client.get(resource_path(*SERVICES, args.name))


def services_delete(client: ApiClient, args: Namespace) -> Any:
    return client.delete(resource_path(*SERVICES, args.name))


def services_set_password(client: ApiClient, args: Namespace) -> Any:
    """Store a service's SMTP password (the one step an imported DreamFactory service needs)."""
    given = password(args)
    if given is None:
        raise UsageError("give the password with --password-stdin or --password-env")
    return client.patch(resource_path(*SERVICES, args.name), {"config": {"password": given}})


def service_body(args: Namespace, password: str | None) -> dict[str, Any]:
    """`POST /api/v2/system/service` for one SMTP service; unset options keep the API's defaults."""
    config: dict[str, Any] = {"host": args.host}
    optional = {
        "port": args.port,
        "encryption": args.encryption,
        "username": args.username,
        "password": password,
        "from_email": args.from_email,
        "from_name": args.from_name,
        "reply_to_email": args.reply_to_email,
        "reply_to_name": args.reply_to_name,
    }
    config.update({key: value for key, value in optional.items() if value is not None})
    if not args.verify_tls:
        config["verify_tls"] = False
    body: dict[str, Any] = {"name": args.name, "type": "smtp", "config": config}
    for field in ("label", "description"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    return body


def password(args: Namespace, stdin: TextIO | None = None) -> str | None:
    """The SMTP password from standard input or a variable: never from the command line itself."""
    if args.password_env is not None:
        value = os.environ.get(args.password_env)
        if not value:
            raise UsageError(f"--password-env: the variable {args.password_env} is not set")
        return value
    if not args.password_stdin:
        return None
    stdin = sys.stdin if stdin is None else stdin
    if stdin.isatty():
        value = getpass.getpass("SMTP password: ")
    else:
        # One line, as `printf '%s\n' "$PW" |` or a file would give it; the newline is not part.
        value = stdin.readline().removesuffix("\n").removesuffix("\r")
    if not value:
        raise UsageError("--password-stdin: no password on standard input")
    return value


# --- the suppression list -------------------------------------------------------------------


def suppression_list(client: ApiClient, args: Namespace) -> Any:
    """One page; its `meta.next_cursor` goes to `--cursor` for the next."""
    query = {
        name: value
        for name, value in (
            ("limit", args.limit),
            ("cursor", args.cursor),
            ("service", args.service),
            ("reason", args.reason),
        )
        if value is not None
    }
    path = resource_path(*SUPPRESSION)
    return client.get(f"{path}?{urlencode(query)}" if query else path)


def suppression_add(client: ApiClient, args: Namespace) -> Any:
    body = {"email": args.email, "reason": args.reason}
    if args.service is not None:
        body["service"] = args.service
    return client.post(resource_path(*SUPPRESSION), body)


def suppression_remove(client: ApiClient, args: Namespace) -> Any:
    path = resource_path(*SUPPRESSION, args.email)
    if args.service is not None:
        path += "?" + urlencode({"service": args.service})
    return client.delete(path)


# --- the daily numbers ----------------------------------------------------------------------


def stats(client: ApiClient, args: Namespace) -> Any:
    """A row per service and day, with the rates beside SES's thresholds."""
    query = {
        name: value
        for name, value in (("service", args.service), ("since", args.since), ("until", args.until))
        if value is not None
    }
    path = resource_path(*STATS)
    return client.get(f"{path}?{urlencode(query)}" if query else path)


# --- webhooks ---------------------------------------------------------------------------------


def webhooks_list(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*WEBHOOKS))


def webhooks_add(client: ApiClient, args: Namespace) -> Any:
    """Its answer holds the signing secret, shown this once."""
    return client.post(resource_path(*WEBHOOKS), webhook_body(args))


def webhook_body(args: Namespace) -> dict[str, Any]:
    events = [event.strip() for value in args.events for event in value.split(",")]
    body: dict[str, Any] = {"url": args.endpoint, "events": [event for event in events if event]}
    if args.service is not None:
        body["service"] = args.service
    if args.description is not None:
        body["description"] = args.description
    return body


def webhooks_remove(client: ApiClient, args: Namespace) -> Any:
    return client.delete(resource_path(*WEBHOOKS, args.id))


def webhooks_test(client: ApiClient, args: Namespace) -> Any:
    return client.post(resource_path(*WEBHOOKS, args.id, "test"), {})


def webhooks_deliveries(client: ApiClient, args: Namespace) -> Any:
    """One page of the delivery log, newest first; `meta.next_cursor` goes to `--cursor`."""
    query = {
        name: value
        for name, value in (("limit", args.limit), ("cursor", args.cursor))
        if value is not None
    }
    path = resource_path(*WEBHOOKS, args.id, "deliveries")
    return client.get(f"{path}?{urlencode(query)}" if query else path)


# --- import -------------------------------------------------------------------------------


def import_file(client: ApiClient, args: Namespace) -> ImportRun:
    """DreamFactory's exported services and email templates, created one by one; the file is
    read whole before the first request, so a file that is not an export creates nothing."""
    options = ImportOptions(
        dry_run=args.dry_run, replace=args.replace, renames=parse_renames(args.rename_service)
    )
    records = read_export(args.file)
    check_renames(options.renames, records)
    return ImportRun(import_records(client, records, options), as_json=args.json)


# --- sending ------------------------------------------------------------------------------


# What `mailer send` builds one message from: none of it goes with `--batch`.
MESSAGE_OPTIONS = (
    "cc", "bcc", "from_email", "from_name", "reply_to_email", "subject", "text", "html", "attach"
)  # fmt: skip


def send(client: ApiClient, args: Namespace) -> Any:
    if args.batch is not None:
        given = [f"--{name.replace('_', '-')}" for name in MESSAGE_OPTIONS if getattr(args, name)]
        if given:
            raise UsageError(
                f"--batch sends the file's messages as they are: drop {', '.join(given)}"
            )
        return client.post(resource_path(args.service, "batch"), batch_body(args.batch))
    body = send_body(
        to=args.to,
        cc=args.cc,
        bcc=args.bcc,
        from_email=args.from_email,
        from_name=args.from_name,
        reply_to_email=args.reply_to_email,
        subject=args.subject,
        text=args.text,
        html=args.html,
        attach=args.attach,
    )
    return client.post(resource_path(args.service), body)


# --- messages -----------------------------------------------------------------------------


def messages_list(client: ApiClient, args: Namespace) -> Any:
    """A service's messages (`--service`, any key of a role that may use it), else every
    service's (an admin key); one page, its `meta.next_cursor` goes back as `--cursor`."""
    query = {name: getattr(args, name) for name in MESSAGE_FILTERS if getattr(args, name)}
    path = resource_path(args.service, "messages") if args.service else resource_path(*MESSAGES)
    return client.get(f"{path}?{urlencode(query)}" if query else path)


def messages_show(client: ApiClient, args: Namespace) -> Any:
    """One message's record, by its id alone (admin key), or within `--service`."""
    if args.service:
        return client.get(resource_path(args.service, "messages", args.id))
    return client.get(resource_path(*MESSAGES, args.id))
