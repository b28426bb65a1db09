"""`mailer import` and `mailer api`, for what DreamFactory leaves behind: `import` creates
services and email templates from its exported JSON; `api` makes any request of the API, its
batch forms too. The commands' arguments and help; what each does is in `mailer_cli.commands`."""

from __future__ import annotations

import argparse
from pathlib import Path

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

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


def import_options(command: argparse.ArgumentParser) -> None:
    """`import`'s file and options, and its epilog on the files it accepts."""
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


def api_options(api: argparse.ArgumentParser) -> None:
    """`api`'s method, path and body."""
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
