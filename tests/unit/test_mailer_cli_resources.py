"""The `mailer` commands of issue 22 without a network: templates, messages (events, cancel),
service and role changes, sending with a template, what a person reads by default, progress,
shell completion, and help on every command and option."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mailer_cli.completion import nodes, script
from mailer_cli.human import render
from mailer_cli.main import main
from mailer_cli.parser import build_parser
from mailer_cli.progress import Progress
from tests.unit.test_mailer_cli import ENVIRON, FakeOpener, run, usage_error

ROOT = "https://api.example.com/v1/api/v2"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)


def _body(request: urllib.request.Request) -> bytes:
    assert isinstance(request.data, bytes)
    return request.data


# --- the requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "method", "path", "body"),
    [
        (["templates", "list"], "GET", "system/email_template", None),
        (["templates", "show", "User Invite"], "GET", "system/email_template/User%20Invite", None),
        (["templates", "delete", "4"], "DELETE", "system/email_template/4", None),
        (
            ["templates", "create", "welcome", "--subject", "Hi {name}", "--body-text", "Hello",
             "--syntax", "jinja", "--default", "name=friend", "--to", "a@example.com"],
            "POST",
            "system/email_template",
            {"name": "welcome", "subject": "Hi {name}", "body_text": "Hello",
             "template_syntax": "jinja", "defaults": {"name": "friend"}, "to": ["a@example.com"]},
        ),
        (
            ["templates", "update", "welcome", "--name", "hello", "--clear", "to"],
            "PATCH",
            "system/email_template/welcome",
            {"name": "hello", "to": None},
        ),
        (["services", "enable", "relay"], "PATCH", "system/service/relay", {"is_active": True}),
        (["services", "disable", "relay"], "PATCH", "system/service/relay", {"is_active": False}),
        (
            ["services", "update", "relay", "--label", "Relay", "--port", "465", "--encryption",
             "ssl", "--no-verify-tls", "--max-send-rate", "5", "--parameter", "company=Shop"],
            "PATCH",
            "system/service/relay",
            {"label": "Relay", "config": {"port": 465, "encryption": "ssl", "verify_tls": False,
             "max_send_rate": 5, "parameters": [{"name": "company", "value": "Shop"}]}},
        ),
        (
            ["roles", "update", "billing", "--no-admin", "--sender", "*@example.com",
             "--template", "welcome"],
            "PATCH",
            "system/role/billing",
            {"admin": False, "senders": ["*@example.com"], "templates": ["welcome"]},
        ),
        (["roles", "update", "billing", "--any-template"], "PATCH", "system/role/billing",
         {"templates": None}),
        (["keys", "update", "k1", "--label", "ops"], "PATCH", "system/api_key/k1",
         {"label": "ops"}),
        (["webhooks", "show", "wh_1"], "GET", "system/webhook/wh_1", None),
        (["messages", "cancel", "m1", "--service", "email"], "DELETE", "email/messages/m1", None),
        (["messages", "events", "m1"], "GET", "system/message/m1", None),
        (["health"], "GET", "health", None),
        (
            ["preview", "--to", "a@example.com", "--template", "welcome", "--data", "name=Ann"],
            "POST",
            "email/preview",
            {"to": ["a@example.com"], "template": "welcome", "template_data": {"name": "Ann"}},
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)  # fmt: skip
def test_each_new_command_makes_its_request(
    argv: list[str], method: str, path: str, body: Any
) -> None:
    opener = FakeOpener()

    result = run(*argv, opener=opener)

    assert result.status == 0, result.stderr
    assert opener.sent == (method, f"{ROOT}/{path}", body)


def test_a_template_from_a_file_with_options_over_it(tmp_path: Path) -> None:
    fields = tmp_path / "welcome.json"
    fields.write_text(json.dumps({"subject": "From the file", "description": "kept"}))
    html = tmp_path / "welcome.html"
    html.write_text("<p>Hello {name}</p>")
    opener = FakeOpener()

    run(
        "templates", "create", "welcome", "--from-file", str(fields), "--subject", "Given",
        "--body-html-file", str(html), opener=opener,
    )  # fmt: skip

    assert opener.sent[2] == {
        "name": "welcome",
        "subject": "Given",
        "description": "kept",
        "body_html": "<p>Hello {name}</p>",
    }


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["templates", "update", "welcome"], "nothing to change"),
        (["services", "update", "relay"], "nothing to change"),
        (["roles", "update", "billing"], "nothing to change"),
        (["keys", "update", "k1"], "nothing to change"),
        (["send"], "give --to"),
        (["send", "--to", "a@example.com", "--send-at", "2026-12-24T09:00:00"], "zone"),
        (["send", "--to", "a@example.com", "--data", "novalue"], "KEY=VALUE"),
        (["templates", "create", "x", "--from-file", "/nonexistent/x.json"], "cannot read"),
    ],
)
def test_what_cannot_work_is_a_usage_error_before_any_request(
    argv: list[str], complaint: str
) -> None:
    assert complaint in usage_error(*argv)


def test_send_with_a_template_its_data_and_delivery_options(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"name": "file", "order": 7}))
    opener = FakeOpener({"id": "m1", "status": "scheduled"})

    result = run(
        "send", "--to", "a@example.com", "--template", "welcome", "--data-file", str(data),
        "--data", "name=Ann", "--tag", "welcome", "--async", "--idempotency-key", "order-7",
        "--send-at", "2026-12-24T09:00:00+01:00", opener=opener,
    )  # fmt: skip

    assert result.status == 0
    method, url, body = opener.sent
    assert (method, url) == ("POST", f"{ROOT}/email?async=true")
    assert body == {
        "to": ["a@example.com"],
        "template": "welcome",
        "template_data": {"name": "Ann", "order": 7},
        "tags": ["welcome"],
        "send_at": "2026-12-24T09:00:00+01:00",
    }
    assert opener.requests[0].get_header("Idempotency-key") == "order-7"


def test_send_with_a_template_id_and_its_recipients() -> None:
    opener = FakeOpener()

    run("send", "--template", "4", opener=opener)

    assert opener.sent[2] == {"template_id": 4}


def test_cancel_without_a_service_finds_it_by_the_id_first() -> None:
    opener = FakeOpener({"id": "m1", "service": "billing", "status": "cancelled"})

    run("messages", "cancel", "m1", opener=opener)

    assert [(r.get_method(), r.full_url) for r in opener.requests] == [
        ("GET", f"{ROOT}/system/message/m1"),
        ("DELETE", f"{ROOT}/billing/messages/m1"),
    ]


def test_one_rate_limit_changed_keeps_the_other() -> None:
    opener = FakeOpener({"name": "billing", "rate_limits": {"per_minute": 10, "per_day": 50}})

    run("roles", "update", "billing", "--per-day", "100", opener=opener)

    patch = opener.requests[1]
    assert patch.get_method() == "PATCH"
    assert json.loads(_body(patch)) == {"rate_limits": {"per_minute": 10, "per_day": 100}}


def test_set_password_says_it_is_stored_and_never_shows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMTP_PW", "s3cret-pw")
    opener = FakeOpener({"name": "relay", "config": {"host": "smtp.example.com"}})

    result = run("services", "set-password", "relay", "--password-env", "SMTP_PW", opener=opener)

    assert result.status == 0
    assert "password of service 'relay' is stored" in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr


# --- a large batch in parts, with progress ---------------------------------------------------


def test_a_batch_larger_than_the_api_takes_goes_in_parts_with_progress(tmp_path: Path) -> None:
    messages = [{"to": f"r{n}@example.com"} for n in range(1200)]
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps(messages))
    opener = PartsOpener()
    out, err = io.StringIO(), io.StringIO()

    status = main(
        ["send", "--batch", str(batch), "--idempotency-key", "run-1", "--progress", "--json"],
        stdout=out,
        stderr=err,
        opener=opener,
    )

    assert status == 0
    sizes = [len(json.loads(_body(request))["messages"]) for request in opener.requests]
    assert sizes == [500, 500, 200]
    keys = [request.get_header("Idempotency-key") for request in opener.requests]
    assert keys == ["run-1.1", "run-1.2", "run-1.3"]
    results = json.loads(out.getvalue())["results"]
    assert [item["index"] for item in results] == list(range(1200))
    assert err.getvalue().splitlines() == [
        "mailer: batch: 500/1200",
        "mailer: batch: 1000/1200",
        "mailer: batch: 1200/1200",
    ]


class PartsOpener(FakeOpener):
    """Answers each batch request with one `sent` result per message, indexed from 0."""

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        self.requests.append(request)
        items = json.loads(_body(request))["messages"]
        results = [{"index": n, "status": "sent"} for n in range(len(items))]
        return io.BytesIO(json.dumps({"results": results}).encode())


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_redrawn_on_a_terminal_and_silent_elsewhere_unless_asked() -> None:
    terminal, pipe, asked = Terminal(), io.StringIO(), io.StringIO()
    for stream, flag in ((terminal, False), (pipe, False), (asked, True)):
        progress = Progress(stream, "import", 2, asked=flag)
        progress.advance(1)
        progress.advance(2)
        progress.clear()

    assert terminal.getvalue() == ("\r\x1b[Kmailer: import: 1/2\r\x1b[Kmailer: import: 2/2\r\x1b[K")
    assert pipe.getvalue() == ""
    assert asked.getvalue() == "mailer: import: 1/2\nmailer: import: 2/2\n"


# --- what a person reads ----------------------------------------------------------------------


def test_a_list_is_aligned_columns_of_its_useful_fields() -> None:
    answer = {
        "resource": [
            {"name": "email", "type": "smtp", "is_active": True,
             "config": {"host": "127.0.0.1", "port": 2525, "encryption": "none"}},
            {"name": "relay-eu", "type": "smtp", "is_active": False,
             "config": {"host": "smtp.example.com", "port": 587, "encryption": ""}},
        ]
    }  # fmt: skip

    result = run("services", "list", opener=FakeOpener(answer))

    assert result.stdout.splitlines()[:3] == [
        "NAME      TYPE  IS_ACTIVE  CONFIG.HOST       CONFIG.PORT  CONFIG.ENCRYPTION"
        "  CONFIG.FROM_EMAIL  LABEL",
        "email     smtp  yes        127.0.0.1         2525         none               -"
        "                  -",
        "relay-eu  smtp  no         smtp.example.com  587          -                  -"
        "                  -",
    ]


def test_a_record_is_key_value_lines_with_its_events_as_a_table() -> None:
    record = {
        "id": "m1",
        "status": "sent",
        "recipients": ["a@example.com", "b@example.com"],
        "refused": {},
        "events": [{"id": "e1", "type": "sent", "recipient": "a@example.com", "at": "t1"}],
    }

    assert render(record) == [
        "id:         m1",
        "status:     sent",
        "recipients: a@example.com, b@example.com",
        "refused:    -",
        "events:",
        "  ID  TYPE  RECIPIENT      AT",
        "  e1  sent  a@example.com  t1",
    ]


def test_events_are_a_table_and_a_next_page_says_its_cursor() -> None:
    events = {"events": [{"id": "e1", "type": "delivered", "recipient": "a@x.com", "at": "t"}]}

    shown = run("messages", "events", "m1", opener=FakeOpener(events))
    page = render({"resource": [], "meta": {"next_cursor": "abc"}})

    assert shown.stdout.splitlines() == ["AT  TYPE       RECIPIENT", "t   delivered  a@x.com"]
    assert page == ["(none)", "more: add --cursor abc"]


def test_a_secret_never_reaches_the_screen() -> None:
    lines = render({"name": "relay", "config": {"host": "h", "password": "pw", "oauth2": {
        "client_id": "c", "client_secret": "cs", "refresh_token": "rt"}}})  # fmt: skip

    assert not [line for line in lines if "pw" in line.split() or "cs" in line or "rt" in line]
    assert "config.oauth2.client_id: c" in lines


# --- completion and help --------------------------------------------------------------------


def test_completion_knows_every_command_and_option() -> None:
    table = {node.path: node for node in nodes(build_parser())}

    assert {"templates create", "messages cancel", "services update", "completion"} <= set(table)
    assert "--body-html-file" in table["templates create"].words
    assert table["services update"].values["--encryption"] == ["tls", "ssl", "none"]
    assert table["send"].values["--batch"] == "@files"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("line", "offered"),
    [
        (["mailer", "tem"], ["templates"]),
        (["mailer", "services", "upd"], ["update"]),
        (["mailer", "--json", "messages", "ca"], ["cancel"]),
        (["mailer", "services", "update", "relay", "--encryption", "s"], ["ssl"]),
        (["mailer", "completion", "z"], ["zsh"]),
    ],
)
def test_the_bash_script_completes_a_command_line(line: list[str], offered: list[str]) -> None:
    words = " ".join(f"'{word}'" for word in line)
    program = (
        f"{script(build_parser(), 'bash')}\n"
        f"COMP_WORDS=({words}); COMP_CWORD={len(line) - 1}; _mailer_complete;"
        ' printf "%s\\n" "${COMPREPLY[@]}"'
    )

    done = subprocess.run(  # noqa: S603 - bash with our own script
        ["bash", "-c", program],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.split() == offered


def test_completion_needs_no_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILER_URL")
    monkeypatch.delenv("MAILER_API_KEY")

    result = run("completion", "zsh")

    assert result.status == 0
    assert result.stdout.startswith("#compdef mailer\n")
    assert "complete -o default -F _mailer_complete mailer" in result.stdout


def test_every_command_and_option_has_help() -> None:
    missing = list(_without_help(build_parser(), "mailer"))

    assert missing == []


def _without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += _without_help(child, f"{path} {name}")
        elif not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_the_encryption_help_says_what_the_api_stores_when_none_is_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["services", "create", "--help"])

    shown = " ".join(capsys.readouterr().out.split())
    assert "(API default: tls)" not in shown
    assert "API default: unset, which uses STARTTLS whenever the server offers it" in shown


# --- one field, for scripts ---------------------------------------------------------------


def test_field_prints_one_value_of_a_record_or_of_each_record_of_a_list() -> None:
    key = {"id": "k1", "role": "billing", "key": "k1.secret"}
    services = {"resource": [{"name": "email", "config": {"port": 25}}, {"name": "relay"}]}

    created = run("keys", "create", "--role", "billing", "--field", "key", opener=FakeOpener(key))
    ports = run("--field", "config.port", "services", "list", opener=FakeOpener(services))

    assert created.stdout == "k1.secret\n"
    assert "only time the key is shown" in created.stderr
    assert ports.stdout == "25\nnull\n"


def test_health_needs_no_key_and_a_webhook_secret_is_noted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAILER_API_KEY")
    health = run("health", opener=FakeOpener({"status": "ok"}))
    monkeypatch.setenv("MAILER_API_KEY", "k")
    added = run(
        "webhooks", "add", "https://hooks.example.com/x", "--events", "bounced",
        opener=FakeOpener({"id": "wh_1", "secret": "whsec_x"}),
    )  # fmt: skip

    assert (health.status, health.stdout) == (0, "status: ok\n")
    assert "secret: whsec_x" in added.stdout.splitlines()
    assert "only time the signing secret is shown" in added.stderr


# --- every route of the API has its command -------------------------------------------------

# (method, path in openapi.json) -> the command that makes that request. DreamFactory's batch
# forms (several records in one request) and PUT (PATCH's twin) go through `mailer api`.
ROUTE_COMMANDS = {
    ("POST", "/api/v2/{service}"): "send",
    ("POST", "/api/v2/{service}/preview"): "preview",
    ("POST", "/api/v2/{service}/batch"): "send --batch",
    ("GET", "/api/v2/{service}/messages"): "messages list --service",
    ("GET", "/api/v2/system/message"): "messages list",
    ("GET", "/api/v2/system/message/{message_id}"): "messages show",
    ("GET", "/api/v2/{service}/messages/{message_id}"): "messages show --service",
    ("DELETE", "/api/v2/{service}/messages/{message_id}"): "messages cancel",
    ("GET", "/api/v2/system/service"): "services list",
    ("POST", "/api/v2/system/service"): "services create",
    ("GET", "/api/v2/system/service/{id_or_name}"): "services show",
    ("PATCH", "/api/v2/system/service/{id_or_name}"): "services update",
    ("DELETE", "/api/v2/system/service/{id_or_name}"): "services delete",
    ("POST", "/api/v2/system/service/{id_or_name}/test"): "test-service",
    ("GET", "/api/v2/system/email_template"): "templates list",
    ("POST", "/api/v2/system/email_template"): "templates create",
    ("GET", "/api/v2/system/email_template/{id_or_name}"): "templates show",
    ("PATCH", "/api/v2/system/email_template/{id_or_name}"): "templates update",
    ("DELETE", "/api/v2/system/email_template/{id_or_name}"): "templates delete",
    ("GET", "/api/v2/system/role"): "roles list",
    ("POST", "/api/v2/system/role"): "roles create",
    ("GET", "/api/v2/system/role/{id_or_name}"): "roles show",
    ("PATCH", "/api/v2/system/role/{id_or_name}"): "roles update",
    ("DELETE", "/api/v2/system/role/{id_or_name}"): "roles delete",
    ("GET", "/api/v2/system/api_key"): "keys list",
    ("POST", "/api/v2/system/api_key"): "keys create",
    ("GET", "/api/v2/system/api_key/{key_id}"): "keys show",
    ("PATCH", "/api/v2/system/api_key/{key_id}"): "keys update",
    ("DELETE", "/api/v2/system/api_key/{key_id}"): "keys revoke",
    ("POST", "/api/v2/system/api_key/{key_id}/rotate"): "keys rotate",
    ("GET", "/api/v2/system/suppression"): "suppression list",
    ("POST", "/api/v2/system/suppression"): "suppression add",
    ("DELETE", "/api/v2/system/suppression/{email}"): "suppression remove",
    ("GET", "/api/v2/system/stats"): "stats",
    ("GET", "/api/v2/system/webhook"): "webhooks list",
    ("POST", "/api/v2/system/webhook"): "webhooks add",
    ("GET", "/api/v2/system/webhook/{webhook_id}"): "webhooks show",
    ("DELETE", "/api/v2/system/webhook/{webhook_id}"): "webhooks remove",
    ("GET", "/api/v2/system/webhook/{webhook_id}/deliveries"): "webhooks deliveries",
    ("POST", "/api/v2/system/webhook/{webhook_id}/test"): "webhooks test",
    ("GET", "/api/v2/health"): "health",
}
THROUGH_API = "api"


def test_every_route_of_the_api_has_a_command() -> None:
    document = json.loads((Path(__file__).parents[2] / "openapi.json").read_text())
    routes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    commands = {" ".join(node.path.split()) for node in nodes(build_parser())}

    uncovered = sorted(
        route for route in routes if route not in ROUTE_COMMANDS and not _batch_form_or_put(route)
    )
    named = {
        command.removesuffix(" --service").removesuffix(" --batch")
        for command in ROUTE_COMMANDS.values()
    }

    assert uncovered == []
    assert named <= commands
    assert THROUGH_API in commands


def _batch_form_or_put(route: tuple[str, str]) -> bool:
    """What `mailer api` is for: PUT, and a collection's PATCH and DELETE (DreamFactory's
    batch forms)."""
    method, path = route
    collection = path.rsplit("/", 1)[-1] in ("service", "email_template", "role", "api_key")
    return method == "PUT" or (collection and method in ("PATCH", "DELETE"))


def test_api_makes_the_request_given() -> None:
    opener = FakeOpener()

    run("api", "patch", "/api/v2/system/role?continue=true", "--body", '{"resource": []}',
        opener=opener)  # fmt: skip

    assert opener.sent == ("PATCH", f"{ROOT}/system/role?continue=true", {"resource": []})
