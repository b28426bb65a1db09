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
from tests.support.api import ADMIN_KEY, call_api

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
    answer = call_api(
        request.get_method(),
        urlsplit(request.full_url).path,
        json.loads(data) if data else None,
        api_key=request.get_header("X-dreamfactory-api-key"),
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
        "created service 'email': smtp_email, smtp.example.com:587, inactive",
        "skipped service 'db': type 'mysql' cannot be imported, only smtp_email and smtp (SMTP)",
        "created email template 'welcome'",
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
    assert lines[0].startswith("failed service 'email': the API answered 409 (service_exists)")
    assert lines[2].startswith("failed email template 'welcome': the API answered 409")
    assert replaced == 0, notes
    assert (
        replaced_lines[0] == "replaced service 'email': smtp_email, smtp.example.com:587, inactive"
    )
    assert replaced_lines[2] == "replaced email template 'welcome'"
    # The service's config is changed key by key: what was set here and not in the export stays.
    shown = call_api("GET", "/api/v2/system/service/email").body
    assert shown["config"]["from_email"] == "a@example.com"
