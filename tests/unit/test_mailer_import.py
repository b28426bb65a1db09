"""`mailer import` without a network: an exported file -> the requests it makes, the answers ->
the line each record gets and the exit status. A scripted opener stands in for `urlopen`."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailer_cli.main import main

URL = "https://api.example.com/v1"
ROOT = f"{URL}/api/v2/"

# DreamFactory's GET /api/v2/system/service answer, bookkeeping and all.
DF_SERVICE: dict[str, Any] = {
    "id": 5,
    "name": "email",
    "label": "Email",
    "description": "Transactional mail",
    "is_active": True,
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
            {"id": 1, "service_id": 5, "name": "company", "value": "Acme", "active": True}
        ],
    },
}
SERVICE_BODY = {
    "name": "email",
    "label": "Email",
    "description": "Transactional mail",
    "is_active": True,
    "type": "smtp_email",
    "config": {
        "host": "smtp.example.com",
        "port": "587",
        "encryption": "tls",
        "username": "mailer",
        "parameters": [
            {"id": 1, "service_id": 5, "name": "company", "value": "Acme", "active": True}
        ],
    },
}
DF_TEMPLATE: dict[str, Any] = {
    "id": 3,
    "name": "welcome",
    "description": None,
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
TEMPLATE_BODY = {
    key: value
    for key, value in DF_TEMPLATE.items()
    if key
    not in ("id", "created_date", "last_modified_date", "created_by_id", "last_modified_by_id")
}


def http_error(status: int, reason: str, message: str) -> urllib.error.HTTPError:
    envelope = {"error": {"code": status, "message": message, "reason": reason}}
    content = io.BytesIO(json.dumps(envelope).encode())
    return urllib.error.HTTPError(ROOT, status, "error", http.client.HTTPMessage(), content)


@dataclass
class ScriptedOpener:
    """Answers `{}`, or what `answers[(method, path)]` says: an exception is raised."""

    answers: dict[tuple[str, str], Exception] = field(default_factory=dict)
    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        path = request.full_url.removeprefix(ROOT)
        data = request.data
        assert data is None or isinstance(data, bytes)
        self.sent.append((request.get_method(), path, json.loads(data) if data else None))
        failure = self.answers.get((request.get_method(), path))
        if failure is not None:
            raise failure
        return io.BytesIO(b"{}")


@dataclass
class Run:
    status: int
    lines: list[str]
    stderr: str


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_URL", URL)
    monkeypatch.setenv("MAILER_API_KEY", "admin-key-for-unit-tests")


@pytest.fixture
def export(tmp_path: Path) -> Callable[[Any], Path]:
    def write(content: Any) -> Path:
        path = tmp_path / "export.json"
        path.write_text(json.dumps(content))
        return path

    return write


def run(*argv: str | Path, opener: ScriptedOpener) -> Run:
    out, err = io.StringIO(), io.StringIO()
    status = main([str(arg) for arg in argv], stdout=out, stderr=err, opener=opener)
    return Run(status, out.getvalue().splitlines(), err.getvalue())


def usage_error(*argv: str | Path) -> str:
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited, contextlib.redirect_stderr(err):
        main([str(arg) for arg in argv], opener=ScriptedOpener())
    assert exited.value.code == 2
    return err.getvalue()


# --- what is read, and what is posted ---------------------------------------------------------


def test_the_briefs_export_is_posted_as_it_is(export: Callable[[Any], Path]) -> None:
    config: dict[str, Any] = {
        "host": "smtp.example.com",
        "port": 587,
        "encryption": "tls",
        "username": None,
        "password": None,
        "parameters": [{"name": "company", "value": "Acme", "active": True, "outbound": True}],
    }
    record = {
        "name": "email",
        "label": "Email",
        "description": "...",
        "is_active": True,
        "type": "smtp_email",
        "config": config,
    }
    opener = ScriptedOpener()

    result = run("import", export(record), opener=opener)

    # A null password is not sent (no username either: nothing to remind of).
    without_password = {**record, "config": {k: v for k, v in config.items() if k != "password"}}
    assert opener.sent == [("POST", "system/service", without_password)]
    assert result.lines == ["created service 'email': smtp_email, smtp.example.com:587"]
    assert result.stderr == "mailer: import: 1 created\n"
    assert result.status == 0


def test_dreamfactorys_bookkeeping_and_masked_password_are_left_out(
    export: Callable[[Any], Path],
) -> None:
    opener = ScriptedOpener()

    result = run("import", export({"resource": [DF_SERVICE]}), opener=opener)

    assert opener.sent == [("POST", "system/service", SERVICE_BODY)]
    assert result.status == 0
    # It has a username, so it needs the password DreamFactory did not export.
    assert "mailer services set-password email --password-stdin" in result.stderr


@pytest.mark.parametrize(
    "content",
    [
        {"services": [DF_SERVICE], "email_templates": [DF_TEMPLATE]},
        {"email_template": {"resource": [DF_TEMPLATE]}, "service": {"resource": [DF_SERVICE]}},
        {"service": DF_SERVICE, "email_templates": DF_TEMPLATE},
        [DF_SERVICE, DF_TEMPLATE],
        {"resource": [DF_SERVICE, DF_TEMPLATE]},
    ],
)
def test_every_accepted_form(export: Callable[[Any], Path], content: Any) -> None:
    opener = ScriptedOpener()

    result = run("import", export(content), opener=opener)

    assert opener.sent == [
        ("POST", "system/service", SERVICE_BODY),
        ("POST", "system/email_template", TEMPLATE_BODY),
    ]
    assert result.lines == [
        "created service 'email': smtp_email, smtp.example.com:587",
        "created email template 'welcome'",
    ]
    assert result.status == 0


def test_an_export_of_this_api_imports_too(export: Callable[[Any], Path]) -> None:
    # GET /api/v2/system/service here shows `created_at` and `updated_at`.
    shown = {**SERVICE_BODY, "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "x"}
    opener = ScriptedOpener()

    run("import", export(shown), opener=opener)

    assert opener.sent == [("POST", "system/service", SERVICE_BODY)]


def test_other_service_types_are_skipped(export: Callable[[Any], Path]) -> None:
    records = [
        {**DF_SERVICE, "name": "mg", "type": "mailgun_email"},
        {"name": "db", "type": "mysql", "config": {"host": "db"}},
        {**DF_SERVICE, "name": "plain", "type": "smtp"},
    ]
    opener = ScriptedOpener()

    result = run("import", export({"resource": records}), opener=opener)

    assert [(method, path, body["name"]) for method, path, body in opener.sent] == [
        ("POST", "system/service", "plain")
    ]
    assert result.lines[:2] == [
        "skipped service 'mg': type 'mailgun_email' cannot be imported, only smtp_email and smtp"
        " (SMTP)",
        "skipped service 'db': type 'mysql' cannot be imported, only smtp_email and smtp (SMTP)",
    ]
    assert result.status == 0  # a skip is not a failure
    assert "2 skipped, 1 created" in result.stderr


# --- failures, --replace, --dry-run ------------------------------------------------------------


def test_a_failed_record_does_not_stop_the_others_and_exits_1(
    export: Callable[[Any], Path],
) -> None:
    opener = ScriptedOpener(
        {("POST", "system/service"): http_error(400, "invalid_parameter", "Invalid parameter.")}
    )

    result = run("import", export([DF_SERVICE, DF_TEMPLATE]), opener=opener)

    assert result.lines == [
        "failed service 'email': the API answered 400 (invalid_parameter): Invalid parameter.",
        "created email template 'welcome'",
    ]
    assert result.status == 1


def test_an_existing_record_fails_without_replace(export: Callable[[Any], Path]) -> None:
    conflict = http_error(409, "service_exists", "Service 'email' already exists.")
    opener = ScriptedOpener({("POST", "system/service"): conflict})

    result = run("import", export(DF_SERVICE), opener=opener)

    assert [method for method, _, _ in opener.sent] == ["POST"]
    assert result.lines == [
        "failed service 'email': the API answered 409 (service_exists): Service 'email' already"
        " exists. (--replace changes the existing one)"
    ]
    assert result.status == 1


def test_replace_patches_an_existing_record(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener(
        {
            ("POST", "system/service"): http_error(409, "service_exists", "exists"),
            ("POST", "system/email_template"): http_error(409, "template_exists", "exists"),
        }
    )

    result = run("import", "--replace", export([DF_SERVICE, DF_TEMPLATE]), opener=opener)

    patch = {key: value for key, value in SERVICE_BODY.items() if key not in ("name", "type")}
    assert opener.sent[1] == ("PATCH", "system/service/email", patch)
    assert opener.sent[3] == ("PATCH", "system/email_template/welcome", TEMPLATE_BODY)
    assert result.lines == [
        "replaced service 'email': smtp_email, smtp.example.com:587",
        "replaced email template 'welcome'",
    ]
    assert result.status == 0


def test_a_failed_replace_says_so(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener(
        {
            ("POST", "system/service"): http_error(409, "service_exists", "exists"),
            ("PATCH", "system/service/email"): http_error(400, "password_required", "Give it."),
        }
    )

    result = run("import", "--replace", export(DF_SERVICE), opener=opener)

    assert result.lines == [
        "failed service 'email': exists, and replacing it failed: the API answered 400"
        " (password_required): Give it."
    ]
    assert result.status == 1


def test_dry_run_makes_no_request(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener()
    inactive = {**DF_SERVICE, "name": "old", "is_active": False}

    result = run("import", "--dry-run", export([DF_SERVICE, inactive, DF_TEMPLATE]), opener=opener)

    assert opener.sent == []
    assert result.lines == [
        "would create service 'email': smtp_email, smtp.example.com:587",
        "would create service 'old': smtp_email, smtp.example.com:587, inactive",
        "would create email template 'welcome'",
    ]
    assert "set-password email" in result.stderr
    assert result.status == 0


@pytest.mark.parametrize(
    ("record", "line"),
    [
        ({"type": "smtp_email", "config": {}}, "failed service at 0: it has no 'name'"),
        (
            {"name": "what"},
            "failed record 'what': neither a service (it has no 'type' or 'config') nor an"
            " email template",
        ),
        ("email", "failed record at 0: neither a service (it has no 'type' or 'config') nor"
         " an email template"),
    ],
)  # fmt: skip
def test_records_that_cannot_be_imported_fail(
    export: Callable[[Any], Path], record: Any, line: str
) -> None:
    opener = ScriptedOpener()

    result = run("import", export([record, DF_TEMPLATE]), opener=opener)

    assert result.lines == [line, "created email template 'welcome'"]
    assert result.status == 1


def test_an_unreachable_api_stops_the_import_after_the_lines_so_far(
    export: Callable[[Any], Path],
) -> None:
    down = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    opener = ScriptedOpener({("POST", "system/email_template"): down})

    result = run("import", export([DF_SERVICE, DF_TEMPLATE, DF_TEMPLATE]), opener=opener)

    assert result.lines == ["created service 'email': smtp_email, smtp.example.com:587"]
    assert len(opener.sent) == 2
    assert result.status == 3
    assert "could not reach" in result.stderr


# --- files that are not an export -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("not json", "is not JSON"),
        (json.dumps(5), "not a DreamFactory export"),
        (json.dumps({"resource": {"name": "x"}}), "'resource' must be a list"),
        (json.dumps({"services": [], "roles": []}), "the export has 'roles'"),
    ],
)
def test_a_file_that_is_no_export_is_a_usage_error_and_nothing_is_sent(
    tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "export.json"
    path.write_text(content)

    assert complaint in usage_error("import", path)


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert "cannot read" in usage_error("import", tmp_path / "missing.json")


def test_an_empty_export_imports_nothing(export: Callable[[Any], Path]) -> None:
    result = run("import", export({"resource": []}), opener=ScriptedOpener())

    assert (result.status, result.lines, result.stderr) == (0, [], "mailer: import: no records\n")


# --- the password DreamFactory never exports -----------------------------------------------------


def test_set_password_patches_only_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PW", "from-env")
    opener = ScriptedOpener()

    result = run("services", "set-password", "email", "--password-env", "SMTP_PW", opener=opener)

    assert result.status == 0
    assert opener.sent == [("PATCH", "system/service/email", {"config": {"password": "from-env"}})]


def test_set_password_needs_a_password() -> None:
    assert "--password-stdin or --password-env" in usage_error("services", "set-password", "email")


def test_import_help_shows_the_accepted_forms(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["import", "--help"])

    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert '{"resource": [{...}, {...}]}' in shown
    assert "--replace" in shown
