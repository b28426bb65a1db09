"""`mailer import` against the API's own handlers: the bodies the CLI makes of DreamFactory's
export are the ones the API takes. The CLI's requests go through `call_api` instead of a socket."""

from __future__ import annotations

import http.client
import io
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mailer_cli.main import main
from tests.support.api import ADMIN_KEY, call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

URL = "http://api.invalid"

# DreamFactory's answers to GET /api/v2/system/service and /api/v2/system/email_template.
EXPORT: dict[str, Any] = {
    "services": {
        "resource": [
            {
                "id": 5,
                "name": "email",
                "label": "Email",
                "description": None,
                "is_active": False,
                "type": "smtp_email",
                "mutable": True,
                "deletable": True,
                "created_date": "2024-01-02 03:04:05",
                "last_modified_date": "2024-01-02 03:04:05",
                "created_by_id": 1,
                "last_modified_by_id": None,
                "config": {
                    "service_id": 5,
                    "host": "smtp.example.com",
                    "port": "587",
                    "encryption": "tls",
                    "username": "mailer",
                    "password": "**********",
                    "parameters": [
                        {"id": 1, "service_id": 5, "name": "company", "value": "Acme", "active": 1}
                    ],
                },
            },
            {"id": 6, "name": "db", "type": "mysql", "config": {"host": "db.internal"}},
        ]
    },
    "email_templates": {
        "resource": [
            {
                "id": 3,
                "name": "welcome",
                "description": "Sent on sign-up",
                "to": None,
                "cc": None,
                "bcc": None,
                "subject": "Welcome to {company}",
                "body_text": "Hello {first_name}",
                "body_html": None,
                "from_name": None,
                "from_email": None,
                "reply_to_name": None,
                "reply_to_email": None,
                "defaults": {"first_name": "there"},
                "attachment": None,
                "created_date": "2024-01-02 03:04:05",
                "last_modified_date": "2024-01-02 03:04:05",
                "created_by_id": 1,
                "last_modified_by_id": 1,
            }
        ]
    },
}


def through_the_api(request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
    """An opener for the CLI: the request as `call_api` makes it, its answer as urllib's."""
    data = request.data
    assert data is None or isinstance(data, bytes)
    url = urlsplit(request.full_url)
    answer = call_api(
        request.get_method(),
        url.path,
        json.loads(data) if data else None,
        api_key=request.get_header("X-dreamfactory-api-key"),
        query=url.query,
    )
    content = json.dumps(answer.body).encode()
    if answer.status >= 400:
        message = http.client.HTTPMessage()
        raise urllib.error.HTTPError(
            request.full_url, answer.status, "", message, io.BytesIO(content)
        )
    return io.BytesIO(content)


def mailer_import(tmp_path: Path, *options: str) -> tuple[int, list[str], str]:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(EXPORT))
    out, err = io.StringIO(), io.StringIO()
    argv = ["import", *options, str(path), "--url", URL, "--api-key", ADMIN_KEY]
    status = main(argv, stdout=out, stderr=err, opener=through_the_api)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_a_dreamfactory_export_is_imported(tmp_path: Path) -> None:
    status, lines, notes = mailer_import(tmp_path)

    assert lines == [
        "created service 'email' [DreamFactory id 5, kept]: smtp_email,"
        " smtp.example.com:587, inactive",
        "skipped service 'db' [DreamFactory id 6]: type 'mysql' cannot be imported, only"
        " smtp_email and smtp (SMTP)",
        "created email template 'welcome' [DreamFactory id 3, kept]",
    ]
    assert status == 0, notes
    assert "set-password email" in notes
    service = call_api("GET", "/api/v2/system/service/email").body
    assert (service["type"], service["is_active"], service["description"]) == (
        "smtp_email",
        False,
        "",
    )
    assert service["config"]["username"] == "mailer"
    assert service["config"]["parameters"] == [{"name": "company", "value": "Acme", "active": True}]
    template = call_api("GET", "/api/v2/system/email_template/welcome")
    assert template.status == 200, template.body
    assert template.body["subject"] == "Welcome to {company}"
    assert template.body["defaults"] == {"first_name": "there"}


def test_importing_again_fails_unless_replacing(tmp_path: Path) -> None:
    assert mailer_import(tmp_path)[0] == 0
    call_api("PATCH", "/api/v2/system/service/email", {"config": {"from_email": "a@example.com"}})

    again, lines, _ = mailer_import(tmp_path)
    replaced, replaced_lines, notes = mailer_import(tmp_path, "--replace")

    assert again == 1
    assert lines[0].startswith("failed service 'email' [DreamFactory id 5]: a service 'email'")
    assert lines[2].startswith("failed email template 'welcome' [DreamFactory id 3]: the API")
    assert replaced == 0, notes
    assert replaced_lines[0] == (
        "replaced service 'email' [DreamFactory id 5, kept]: smtp_email,"
        " smtp.example.com:587, inactive"
    )
    assert replaced_lines[2] == "replaced email template 'welcome' [DreamFactory id 3, kept]"
    # The service's config is changed key by key: what was set here and not in the export stays.
    shown = call_api("GET", "/api/v2/system/service/email").body
    assert shown["config"]["from_email"] == "a@example.com"


# --- a real DreamFactory export: ids kept, names that exist here, the report --------------------

DREAMFACTORY_EXPORT = Path(__file__).parents[1] / "fixtures" / "dreamfactory" / "export.json"


def import_file(path: Path, *options: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["import", *options, str(path), "--url", URL, "--api-key", ADMIN_KEY]
    status = main(argv, stdout=out, stderr=err, opener=through_the_api)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_a_dreamfactory_export_keeps_its_template_ids_and_reports_the_rest(
    smtp_server: Any,
) -> None:
    """The export is DreamFactory's `GET /api/v2/system/service` and `.../email_template`
    answers: the three templates df-user `database/seeds/EmailTemplateSeeder.php` seeds (ids
    as an instance that deleted some has them), one made in the admin interface (its empty
    fields `""`, its `to` a list as df-core `EmailTemplate::getToAttribute` answers it), an
    `email` SMTP service and two others (mailgun_email, local_email)."""
    server: CaptureServer = smtp_server()
    create_plain_service(server.port)  # the `email` service `make dev` creates

    status, lines, notes = import_file(DREAMFACTORY_EXPORT)

    assert lines == [
        "failed service 'email' [DreamFactory id 6]: a service 'email' exists here: bring this"
        " one in beside it with --rename-service email=<new name>, or overwrite the one here"
        " with --replace",
        "skipped service 'transactional' [DreamFactory id 9]: type 'mailgun_email' cannot be"
        " imported, only smtp_email and smtp (SMTP)",
        "skipped service 'sendmail' [DreamFactory id 11]: type 'local_email' cannot be imported,"
        " only smtp_email and smtp (SMTP)",
        "created email template 'User Invite Default' [DreamFactory id 2, kept]",
        "created email template 'User Registration Default' [DreamFactory id 3, kept]",
        "created email template 'Password Reset Default' [DreamFactory id 5, kept]",
        "created email template 'Order Shipped' [DreamFactory id 8, kept]",
    ]
    assert status == 1  # a record failed
    assert "import: 1 failed, 2 skipped, 4 created" in notes
    shown = call_api("GET", "/api/v2/system/email_template/Order%20Shipped").body
    assert shown["to"] == ["ops@acme.example", "audit@acme.example"]
    assert (shown["cc"], shown["from_email"], shown["defaults"]) == (None, None, {})
    assert call_api("POST", "/api/v2/system/email_template", {"name": "new"}).body["id"] == 9

    # What a client of DreamFactory sends: the id it knew, and the seeded name.
    sent = call_api(
        "POST",
        "/api/v2/email",
        {"template_id": 5, "to": "jane@example.com", "first_name": "Jane", "confirm_code": "K3"},
    )
    by_name = call_api(
        "POST", "/api/v2/email", {"template": "User Invite Default", "to": "joe@example.com"}
    )
    assert (sent.status, by_name.status) == (200, 200), (sent.body, by_name.body)
    reset, invite = server.messages
    assert (reset.rcpt_tos, reset.parsed()["Subject"]) == (["jane@example.com"], "Password Reset")
    html = reset.parsed().get_body(preferencelist=("html",))
    assert html is not None
    assert "Confirmation Code: K3" in html.get_content()
    assert (invite.rcpt_tos, invite.parsed()["Subject"]) == (["joe@example.com"], "Invitation")


def test_the_email_service_comes_in_renamed_and_the_report_reads_as_json(
    smtp_server: Any,
) -> None:
    server: CaptureServer = smtp_server()
    create_plain_service(server.port)

    status, lines, notes = import_file(
        DREAMFACTORY_EXPORT, "--rename-service", "email=df_email", "--json"
    )

    reports = [json.loads(line) for line in lines]
    rows = [
        (r["action"], r["kind"], r["name"], r["name_here"], r["dreamfactory_id"], r["id"])
        for r in reports
    ]
    assert rows == [
        ("created", "service", "email", "df_email", 6, 6),
        ("skipped", "service", "transactional", "transactional", 9, None),
        ("skipped", "service", "sendmail", "sendmail", 11, None),
        ("created", "email template", "User Invite Default", "User Invite Default", 2, 2),
        (
            "created",
            "email template",
            "User Registration Default",
            "User Registration Default",
            3,
            3,
        ),
        ("created", "email template", "Password Reset Default", "Password Reset Default", 5, 5),
        ("created", "email template", "Order Shipped", "Order Shipped", 8, 8),
    ]
    assert reports[1]["detail"] == (
        "type 'mailgun_email' cannot be imported, only smtp_email and smtp (SMTP)"
    )
    assert reports[0]["where"] == "service.resource.0"
    assert status == 0, notes
    assert "clients send to /api/v2/df_email" in notes
    assert "set-password df_email" in notes
    renamed = call_api("GET", "/api/v2/system/service/df_email").body
    assert (renamed["config"]["host"], renamed["config"]["port"]) == ("smtp.example.com", 587)
    # The one here is untouched.
    assert call_api("GET", "/api/v2/system/service/email").body["config"]["host"] == "127.0.0.1"
