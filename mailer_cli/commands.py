"""One function per `mailer` command: parsed arguments in, the API's JSON answer out (for
`import`, the outcome of each record, made as they are printed).

Each takes the `ApiClient` and the argparse namespace `parser.build_parser` produced; the
request bodies are built by the `*_body` functions, which touch neither network nor terminal.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from mailer_cli.answers import BatchRun, Noted
from mailer_cli.client import ApiClient, resource_path, with_query
from mailer_cli.errors import UsageError
from mailer_cli.files import parse_pairs, read_json, read_json_object
from mailer_cli.import_run import (
    ImportOptions,
    ImportRun,
    check_renames,
    import_records,
    parse_renames,
)
from mailer_cli.importing import read_export
from mailer_cli.message import batch_body, batch_parts, send_body

KEYS = ("system", "api_key")
HEALTH = ("health",)
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


def keys_update(client: ApiClient, args: Namespace) -> Any:
    changes = {name: getattr(args, name) for name in ("label", "role") if getattr(args, name)}
    if not changes:
        raise UsageError("nothing to change: give --label or --role")
    return client.patch(resource_path(*KEYS, args.id), changes)


# --- roles --------------------------------------------------------------------------------


def roles_create(client: ApiClient, args: Namespace) -> Any:
    return client.post(resource_path(*ROLES), role_body(args))


def roles_list(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*ROLES))


def roles_show(client: ApiClient, args: Namespace) -> Any:
    return client.get(resource_path(*ROLES, args.name))


def roles_delete(client: ApiClient, args: Namespace) -> Any:
    return client.delete(resource_path(*ROLES, args.name))


def roles_update(client: ApiClient, args: Namespace) -> Any:
    """Only what is given changes; a list given (services, senders, templates) replaces the
    stored one, and one rate limit given keeps the other as it is."""
    changes = role_changes(args)
    if "rate_limits" in changes:
        stored = client.get(resource_path(*ROLES, args.name)).get("rate_limits") or {}
        changes["rate_limits"] = {**stored, **changes["rate_limits"]}
    if not changes:
        raise UsageError("nothing to change: give an option (see --help)")
    return client.patch(resource_path(*ROLES, args.name), changes)


def role_body(args: Namespace) -> dict[str, Any]:
    """`POST /api/v2/system/role`: what was given; the API's defaults for the rest."""
    body: dict[str, Any] = {
        "name": args.name,
        "admin": args.admin,
        "services": args.services,
        "senders": args.senders,
    }
    body.update(role_changes(args))
    if "rate_limits" in body:  # a new role: the limit not given is none
        body["rate_limits"] = {"per_minute": args.per_minute, "per_day": args.per_day}
    return body


def role_changes(args: Namespace) -> dict[str, Any]:
    """The role's fields the options give (`roles update`'s PATCH body)."""
    changes: dict[str, Any] = {
        name: getattr(args, name)
        for name in ("description", "admin", "max_recipients")
        if getattr(args, name) is not None
    }
    for name in ("services", "senders", "templates"):
        if getattr(args, name):
            changes[name] = getattr(args, name)
    if getattr(args, "any_template", False):
        changes["templates"] = None
    limits = {"per_minute": args.per_minute, "per_day": args.per_day}
    if any(limit is not None for limit in limits.values()):
        changes["rate_limits"] = {name: value for name, value in limits.items() if value}
    return changes


# --- services -----------------------------------------------------------------------------


def services_create(client: ApiClient, args: Namespace) -> Any:
    given = password(args)
    answer = client.post(resource_path(*SERVICES), service_body(args, given))
    return answer if given is None else Noted(answer, _password_stored(args.name))


def services_list(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*SERVICES))


def services_show(client: ApiClient, args: Namespace) -> Any:
    return client.get(resource_path(*SERVICES, args.name))


def services_delete(client: ApiClient, args: Namespace) -> Any:
    return client.delete(resource_path(*SERVICES, args.name))


def services_set_password(client: ApiClient, args: Namespace) -> Noted:
    """Store a service's SMTP password (the one step an imported DreamFactory service needs)."""
    given = password(args)
    if given is None:
        raise UsageError("give the password with --password-stdin or --password-env")
    answer = client.patch(resource_path(*SERVICES, args.name), {"config": {"password": given}})
    return Noted(answer, _password_stored(args.name))


def services_update(client: ApiClient, args: Namespace) -> Any:
    """Only what is given changes (PATCH); moving the server needs the password again."""
    given = password(args)
    changes = read_json_object(args.from_file) if args.from_file else {}
    config = {**changes.get("config", {}), **service_config(args, given)}
    for name in ("label", "description"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if config:
        changes["config"] = config
    if not changes:
        raise UsageError("nothing to change: give an option (see --help)")
    answer = client.patch(resource_path(*SERVICES, args.name), changes)
    return answer if given is None else Noted(answer, _password_stored(args.name))


def services_enable(client: ApiClient, args: Namespace) -> Any:
    return client.patch(resource_path(*SERVICES, args.name), {"is_active": True})


def services_disable(client: ApiClient, args: Namespace) -> Any:
    return client.patch(resource_path(*SERVICES, args.name), {"is_active": False})


def _password_stored(service: str) -> str:
    return f"the SMTP password of service {service!r} is stored (it is never shown again)"


# `services update`'s options that are `config` fields of the same name.
CONFIG_OPTIONS = (
    "host",
    "port",
    "encryption",
    "verify_tls",
    "username",
    "from_email",
    "from_name",
    "reply_to_email",
    "reply_to_name",
    "max_send_rate",
    "daily_quota",
    "max_connections",
    "max_recipients",
    "retry_window_minutes",
    "unknown_outcome",
    "suppression_scope",
)


def service_config(args: Namespace, password: str | None) -> dict[str, Any]:
    """The `config` fields the options give (`services update`'s)."""
    config = {
        name: getattr(args, name) for name in CONFIG_OPTIONS if getattr(args, name) is not None
    }
    if password is not None:
        config["password"] = password
    if args.parameters:
        pairs = parse_pairs(args.parameters, "--parameter")
        config["parameters"] = [{"name": key, "value": value} for key, value in pairs.items()]
    return config


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


def webhooks_show(client: ApiClient, args: Namespace) -> Any:
    return client.get(resource_path(*WEBHOOKS, args.id))


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
    outcomes = import_records(client, records, options)
    return ImportRun(outcomes, as_json=getattr(args, "json", False), records=len(records))


# --- sending ------------------------------------------------------------------------------


# What `mailer send` builds one message from: none of it goes with `--batch`.
MESSAGE_OPTIONS = (
    "cc", "bcc", "from_email", "from_name", "reply_to_email", "subject", "text", "html", "attach",
    "template", "data", "data_file", "send_at", "tags",
)  # fmt: skip
# The most items the API takes in one batch request; a larger file is sent in parts.
BATCH_PART = 500


def send(client: ApiClient, args: Namespace) -> Any:
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    if args.batch is not None:
        return send_batch(client, args)
    if not (args.to or args.template):
        raise UsageError("give --to (or --template, whose recipients are used), or --batch")
    path = with_query(resource_path(args.service), {"async": "true" if args.async_ else None})
    return client.post(path, message_body(args), headers)


def preview(client: ApiClient, args: Namespace) -> Any:
    """What a send would hand to the SMTP server; nothing is sent."""
    if not (args.to or args.template):
        raise UsageError("give --to (or --template, whose recipients are used)")
    return client.post(resource_path(args.service, "preview"), message_body(args))


def message_body(args: Namespace) -> dict[str, Any]:
    """The send body the message options describe."""
    return send_body(
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
        template=args.template,
        template_data=template_data(args.data_file, args.data),
        send_at=getattr(args, "send_at", None),
        tags=args.tags,
    )


def template_data(data_file: Path | None, pairs: list[str]) -> dict[str, Any]:
    """`--data-file`'s object, then each `--data KEY=VALUE` over it."""
    data = read_json_object(data_file) if data_file else {}
    return {**data, **parse_pairs(pairs, "--data")}


def send_batch(client: ApiClient, args: Namespace) -> BatchRun:
    """The file's batch, in parts of `BATCH_PART` items (one request when it is no larger)."""
    given = [f"--{name.replace('_', '-')}" for name in MESSAGE_OPTIONS if getattr(args, name)]
    if given:
        raise UsageError(f"--batch sends the file's messages as they are: drop {', '.join(given)}")
    parts = batch_parts(batch_body(args.batch), BATCH_PART)
    path = with_query(
        resource_path(args.service, "batch"), {"async": "true" if args.async_ else None}
    )

    def answers() -> Iterator[tuple[int, Any]]:
        done = 0
        for number, (body, size) in enumerate(parts, start=1):
            key = args.idempotency_key
            # One key per part: a retried run sends no part twice, and no two parts clash.
            if key and len(parts) > 1:
                key = f"{key}.{number}"
            answer = client.post(path, body, {"Idempotency-Key": key} if key else None)
            done += size
            yield done, answer

    return BatchRun(sum(size for _, size in parts), answers())


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


def messages_events(client: ApiClient, args: Namespace) -> Any:
    """What happened to it, recipient by recipient (its record's `events`)."""
    record = messages_show(client, args)
    return record.get("events", []) if isinstance(record, dict) else record


def messages_cancel(client: ApiClient, args: Namespace) -> Any:
    """Cancel a message while it waits (scheduled, queued or deferred); without `--service`,
    its record says which service it is (an admin key)."""
    service = args.service or client.get(resource_path(*MESSAGES, args.id))["service"]
    return client.delete(resource_path(service, "messages", args.id))


# --- health -------------------------------------------------------------------------------


def health(client: ApiClient, _args: Namespace) -> Any:
    return client.get(resource_path(*HEALTH))


# --- any request --------------------------------------------------------------------------


def api(client: ApiClient, args: Namespace) -> Any:
    """One request as given: the path under the API root (a leading `/api/v2/` is dropped)."""
    path = args.path.lstrip("/").removeprefix("api/v2/")
    if args.body is not None:
        try:
            body = json.loads(args.body)
        except ValueError as error:
            raise UsageError(f"--body is not JSON: {error}") from error
    else:
        body = read_json(args.body_file) if args.body_file else None
    return client.request(args.method, path, body)
