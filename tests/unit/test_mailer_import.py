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
    "id": 5,
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
    if key not in ("created_date", "last_modified_date", "created_by_id", "last_modified_by_id")
}
SERVICES = "system/service?keep_ids=true"
TEMPLATES = "system/email_template?keep_ids=true"


def http_error(
    status: int, reason: str, message: str, context: Any = None
) -> urllib.error.HTTPError:
    envelope = {"error": {"code": status, "message": message, "reason": reason}}
    if context is not None:
        envelope["error"]["context"] = context
    content = io.BytesIO(json.dumps(envelope).encode())
    return urllib.error.HTTPError(ROOT, status, "error", http.client.HTTPMessage(), content)


Answer = Exception | dict[str, Any]


@dataclass
class ScriptedOpener:
    """Answers the body it was sent (as the API answers the record it made), or what
    `answers[(method, path)]` says: an exception is raised, a dict is the answer."""

    answers: dict[tuple[str, str], Answer | list[Answer]] = field(default_factory=dict)
    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        path = request.full_url.removeprefix(ROOT)
        data = request.data
        assert data is None or isinstance(data, bytes)
        self.sent.append((request.get_method(), path, json.loads(data) if data else None))
        answer = self.answers.get((request.get_method(), path))
        if isinstance(answer, list):  # one a request, in turn; then the body echoed
            answer = answer.pop(0) if answer else None
        if isinstance(answer, Exception):
            raise answer
        return io.BytesIO(json.dumps(answer).encode() if answer else data or b"{}")


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
    assert opener.sent == [("POST", SERVICES, without_password)]
    assert result.lines == ["created service 'email': smtp_email, smtp.example.com:587"]
    assert result.stderr == "mailer: import: 1 created\n"
    assert result.status == 0


def test_dreamfactorys_bookkeeping_and_masked_password_are_left_out(
    export: Callable[[Any], Path],
) -> None:
    opener = ScriptedOpener()

    result = run("import", export({"resource": [DF_SERVICE]}), opener=opener)

    assert opener.sent == [("POST", SERVICES, SERVICE_BODY)]
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
        ("POST", SERVICES, SERVICE_BODY),
        ("POST", TEMPLATES, TEMPLATE_BODY),
    ]
    assert result.lines == [
        "created service 'email' [DreamFactory id 5, kept]: smtp_email, smtp.example.com:587",
        "created email template 'welcome' [DreamFactory id 3, kept]",
    ]
    assert result.status == 0


def test_an_export_of_this_api_imports_too(export: Callable[[Any], Path]) -> None:
    # GET /api/v2/system/service here shows `created_at` and `updated_at`.
    shown = {**SERVICE_BODY, "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "x"}
    opener = ScriptedOpener()

    run("import", export(shown), opener=opener)

    assert opener.sent == [("POST", SERVICES, SERVICE_BODY)]


def test_other_service_types_are_skipped(export: Callable[[Any], Path]) -> None:
    records = [
        {**DF_SERVICE, "name": "mg", "type": "mailgun_email"},
        {"name": "db", "type": "mysql", "config": {"host": "db"}},
        {**DF_SERVICE, "name": "plain", "type": "smtp"},
    ]
    opener = ScriptedOpener()

    result = run("import", export({"resource": records}), opener=opener)

    assert [(method, path, body["name"]) for method, path, body in opener.sent] == [
        ("POST", SERVICES, "plain")
    ]
    assert result.lines[:2] == [
        "skipped service 'mg' [DreamFactory id 5]: type 'mailgun_email' cannot be imported, only"
        " smtp_email and smtp (SMTP)",
        "skipped service 'db': type 'mysql' cannot be imported, only smtp_email and smtp (SMTP)",
    ]
    assert result.status == 0  # a skip is not a failure
    assert "2 skipped, 1 created" in result.stderr


# --- failures, --replace, --dry-run ------------------------------------------------------------


def test_a_failed_record_does_not_stop_the_others_and_exits_1(
    export: Callable[[Any], Path],
) -> None:
    opener = ScriptedOpener(
        {("POST", SERVICES): http_error(400, "invalid_parameter", "Invalid parameter.")}
    )

    result = run("import", export([DF_SERVICE, DF_TEMPLATE]), opener=opener)

    assert result.lines == [
        "failed service 'email' [DreamFactory id 5]: the API answered 400 (invalid_parameter):"
        " Invalid parameter.",
        "created email template 'welcome' [DreamFactory id 3, kept]",
    ]
    assert result.status == 1


def test_an_existing_record_fails_without_replace(export: Callable[[Any], Path]) -> None:
    conflict = http_error(409, "service_exists", "Service 'email' already exists.")
    opener = ScriptedOpener({("POST", SERVICES): conflict})

    result = run("import", export(DF_SERVICE), opener=opener)

    assert [method for method, _, _ in opener.sent] == ["POST"]
    assert result.lines == [
        "failed service 'email' [DreamFactory id 5]: a service 'email' exists here: bring this one"
        " in beside it with --rename-service email=<new name>, or overwrite the one here with"
        " --replace"
    ]
    assert result.status == 1


def test_replace_patches_an_existing_record(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener(
        {
            ("POST", SERVICES): http_error(409, "service_exists", "exists"),
            ("POST", TEMPLATES): http_error(409, "template_exists", "exists"),
            # The one here keeps its own id: a PATCH never changes an id.
            ("PATCH", "system/email_template/welcome"): {"id": 1, "name": "welcome"},
        }
    )

    result = run("import", "--replace", export([DF_SERVICE, DF_TEMPLATE]), opener=opener)

    patch = {k: v for k, v in SERVICE_BODY.items() if k not in ("id", "name", "type")}
    assert opener.sent[1] == ("PATCH", "system/service/email", patch)
    template_patch = {k: v for k, v in TEMPLATE_BODY.items() if k != "id"}
    assert opener.sent[3] == ("PATCH", "system/email_template/welcome", template_patch)
    assert result.lines == [
        "replaced service 'email' [DreamFactory id 5, no id here]: smtp_email,"
        " smtp.example.com:587",
        "replaced email template 'welcome' [DreamFactory id 3, id here 1]",
    ]
    assert result.status == 0


def test_a_failed_replace_says_so(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener(
        {
            ("POST", SERVICES): http_error(409, "service_exists", "exists"),
            ("PATCH", "system/service/email"): http_error(400, "password_required", "Give it."),
        }
    )

    result = run("import", "--replace", export(DF_SERVICE), opener=opener)

    assert result.lines == [
        "failed service 'email' [DreamFactory id 5]: exists, and replacing it failed: the API"
        " answered 400 (password_required): Give it."
    ]
    assert result.status == 1


def test_dry_run_makes_no_request(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener()
    inactive = {**DF_SERVICE, "name": "old", "is_active": False}

    result = run("import", "--dry-run", export([DF_SERVICE, inactive, DF_TEMPLATE]), opener=opener)

    assert opener.sent == []
    assert result.lines == [
        "would create service 'email' [DreamFactory id 5]: smtp_email, smtp.example.com:587",
        "would create service 'old' [DreamFactory id 5]: smtp_email, smtp.example.com:587,"
        " inactive",
        "would create email template 'welcome' [DreamFactory id 3]",
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

    assert result.lines == [line, "created email template 'welcome' [DreamFactory id 3, kept]"]
    assert result.status == 1


def test_an_unreachable_api_stops_the_import_after_the_lines_so_far(
    export: Callable[[Any], Path],
) -> None:
    down = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    opener = ScriptedOpener({("POST", TEMPLATES): down})

    result = run("import", export([DF_SERVICE, DF_TEMPLATE, DF_TEMPLATE]), opener=opener)

    assert result.lines == [
        "created service 'email' [DreamFactory id 5, kept]: smtp_email, smtp.example.com:587"
    ]
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


# --- ids kept, names that exist, the machine-readable report ------------------------------------


def test_a_template_id_taken_here_is_refused_and_reported(export: Callable[[Any], Path]) -> None:
    taken = http_error(
        409, "template_id_taken", "Email Template id '3' is already taken: 'other' has it."
    )
    opener = ScriptedOpener({("POST", TEMPLATES): taken})

    result = run("import", "--replace", export(DF_TEMPLATE), opener=opener)

    # Never renumbered, and --replace does not touch the template that holds the id.
    assert [method for method, _, _ in opener.sent] == ["POST"]
    assert result.lines == [
        "failed email template 'welcome' [DreamFactory id 3]: the API answered 409"
        " (template_id_taken): Email Template id '3' is already taken: 'other' has it. Clients"
        " sending its DreamFactory id would reach that one: move or delete it, then import again"
    ]
    assert result.status == 1


def test_an_api_without_service_ids_gets_the_service_without_its_id(
    export: Callable[[Any], Path],
) -> None:
    # What the API answers today to a service's `id` (services get ids in another change).
    refused = http_error(
        400,
        "invalid_request",
        "Invalid 'id': Extra inputs are not permitted.",
        {"errors": [{"field": "id", "problem": "Extra inputs are not permitted"}]},
    )
    opener = ScriptedOpener({("POST", SERVICES): [refused]})

    result = run("import", export(DF_SERVICE), opener=opener)

    without_id = {k: v for k, v in SERVICE_BODY.items() if k != "id"}
    assert opener.sent == [("POST", SERVICES, SERVICE_BODY), ("POST", SERVICES, without_id)]
    assert result.lines == [
        "created service 'email' [DreamFactory id 5, no id here]: smtp_email, smtp.example.com:587"
    ]
    assert result.status == 0


def test_a_service_renamed_on_the_way_in(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener()

    result = run("import", "--rename-service", "email=df_email", export(DF_SERVICE), opener=opener)

    assert opener.sent == [("POST", SERVICES, {**SERVICE_BODY, "name": "df_email"})]
    assert result.lines == [
        "created service 'df_email' (DreamFactory's 'email') [DreamFactory id 5, kept]:"
        " smtp_email, smtp.example.com:587"
    ]
    assert "clients send to /api/v2/df_email" in result.stderr
    assert result.status == 0


def test_a_rename_of_a_service_the_export_lacks_is_a_usage_error(
    export: Callable[[Any], Path],
) -> None:
    complaint = usage_error("import", "--rename-service", "emial=df_email", export(DF_SERVICE))

    assert "--rename-service names no service of the export: 'emial'" in complaint


def test_a_renamed_service_whose_new_name_exists_says_so(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener({("POST", SERVICES): http_error(409, "service_exists", "exists")})

    result = run("import", "--rename-service", "email=df_email", export(DF_SERVICE), opener=opener)

    assert result.lines[0].endswith(
        "a service 'df_email' exists here: bring this one in beside it with --rename-service"
        " email=<new name>, or overwrite the one here with --replace"
    )


@pytest.mark.parametrize("pairs", [["email"], ["=x"], ["email="], ["email=a", "email=b"]])
def test_a_malformed_rename_is_a_usage_error(
    export: Callable[[Any], Path], pairs: list[str]
) -> None:
    options = [option for pair in pairs for option in ("--rename-service", pair)]
    assert "OLD=NEW" in usage_error("import", *options, export(DF_SERVICE))


def test_json_gives_one_object_a_record(export: Callable[[Any], Path]) -> None:
    opener = ScriptedOpener({("POST", SERVICES): http_error(409, "service_exists", "exists")})
    mailgun = {"id": 8, "name": "mg", "type": "mailgun_email", "config": {"domain": "mg.example"}}

    result = run("import", "--json", export([DF_SERVICE, mailgun, DF_TEMPLATE]), opener=opener)

    reports = [json.loads(line) for line in result.lines]
    assert [
        (r["action"], r["kind"], r["name"], r["dreamfactory_id"], r["id"]) for r in reports
    ] == [
        ("failed", "service", "email", 5, None),
        ("skipped", "service", "mg", 8, None),
        ("created", "email template", "welcome", 3, 3),
    ]
    assert reports[0]["detail"].startswith("a service 'email' exists here: bring this one in")
    assert reports[1]["detail"].startswith("type 'mailgun_email' cannot be imported")
    assert reports[2]["where"] == "2"
    assert result.status == 1
