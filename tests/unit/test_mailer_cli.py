"""The `mailer` CLI without a network: arguments -> the HTTP request it would make, answers ->
what it prints and its exit status. A fake opener stands in for `urllib.request.urlopen`."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailer_cli.client import api_root, resource_path
from mailer_cli.errors import UsageError
from mailer_cli.main import main
from mailer_cli.message import content_type

URL = "https://api.example.com/v1"
KEY = "admin-key-for-unit-tests"
ENVIRON = {"MAILER_URL": URL, "MAILER_API_KEY": KEY}


@dataclass
class FakeOpener:
    """Records each request; answers with `answer` (a 2xx body), or raises `failure`."""

    answer: Any = field(default_factory=dict)
    failure: Exception | None = None
    requests: list[urllib.request.Request] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        self.requests.append(request)
        self.timeouts.append(timeout)
        if self.failure is not None:
            raise self.failure
        return io.BytesIO(json.dumps(self.answer).encode())

    @property
    def sent(self) -> tuple[str, str, Any]:
        """(method, URL, decoded JSON body) of the one request made."""
        (request,) = self.requests
        data = request.data
        assert data is None or isinstance(data, bytes)
        return request.get_method(), request.full_url, json.loads(data) if data else None


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's settings come from MAILER_URL and MAILER_API_KEY unless a test says otherwise."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)


def run(*argv: str, opener: FakeOpener | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, opener=opener or FakeOpener())
    return Run(status, out.getvalue(), err.getvalue())


def usage_error(*argv: str) -> str:
    """Runs a command line that must be refused as usage error; returns what argparse said."""
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited, contextlib.redirect_stderr(err):
        main(list(argv))
    assert exited.value.code == 2
    return err.getvalue()


def http_error(status: int, body: Any, headers: dict[str, str] | None = None) -> Exception:
    """What urlopen raises for a non-2xx answer; `body` as JSON, or as it is if bytes."""
    message = http.client.HTTPMessage()
    for name, value in (headers or {}).items():
        message[name] = value
    content = io.BytesIO(body if isinstance(body, bytes) else json.dumps(body).encode())
    return urllib.error.HTTPError(f"{URL}/api/v2/x", status, "error", message, content)


# --- the base URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000/api/v2/"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000/api/v2/"),
        ("http://127.0.0.1:3000/api/v2", "http://127.0.0.1:3000/api/v2/"),
        # The deployed stack's ApiUrl output: stage, then /api/v2/.
        ("https://abc.example.com/v1/api/v2/", "https://abc.example.com/v1/api/v2/"),
        ("https://abc.example.com/v1", "https://abc.example.com/v1/api/v2/"),
        (" https://mail.example.com// ", "https://mail.example.com/api/v2/"),
    ],
)
def test_api_root_accepts_a_base_with_or_without_api_v2(given: str, root: str) -> None:
    assert api_root(given) == root


@pytest.mark.parametrize(
    "given", ["127.0.0.1:3000", "file:///etc/passwd", "ftp://example.com", "http://h/?api_key=x"]
)
def test_api_root_refuses_what_is_not_an_http_base_url(given: str) -> None:
    with pytest.raises(UsageError):
        api_root(given)


def test_resource_path_encodes_each_segment() -> None:
    assert resource_path("system", "role", "a b/../c") == "system/role/a%20b%2F..%2Fc"


# --- command line -> request --------------------------------------------------------------


ROOT = f"{URL}/api/v2"


@pytest.mark.parametrize(
    ("argv", "method", "url", "body"),
    [
        (["keys", "create", "--role", "billing"], "POST", "system/api_key", {"role": "billing"}),
        (
            ["keys", "create", "--role", "billing", "--label", "Billing app"],
            "POST",
            "system/api_key",
            {"role": "billing", "label": "Billing app"},
        ),
        (["keys", "list"], "GET", "system/api_key", None),
        (["keys", "show", "k1"], "GET", "system/api_key/k1", None),
        (["keys", "rotate", "k1"], "POST", "system/api_key/k1/rotate", {"overlap_seconds": 0}),
        (
            ["keys", "rotate", "k1", "--overlap", "600"],
            "POST",
            "system/api_key/k1/rotate",
            {"overlap_seconds": 600},
        ),
        (["keys", "disable", "k1"], "PATCH", "system/api_key/k1", {"enabled": False}),
        (["keys", "enable", "k1"], "PATCH", "system/api_key/k1", {"enabled": True}),
        (["keys", "revoke", "k1"], "DELETE", "system/api_key/k1", None),
        (
            ["roles", "create", "ops"],
            "POST",
            "system/role",
            {"name": "ops", "admin": False, "services": [], "senders": []},
        ),
        (["roles", "list"], "GET", "system/role", None),
        (["roles", "show", "ops"], "GET", "system/role/ops", None),
        (["roles", "delete", "ops"], "DELETE", "system/role/ops", None),
        (
            ["services", "create", "relay", "--host", "smtp.example.com"],
            "POST",
            "system/service",
            {"name": "relay", "type": "smtp", "config": {"host": "smtp.example.com"}},
        ),
        (["services", "list"], "GET", "system/service", None),
        (["services", "show", "relay"], "GET", "system/service/relay", None),
        (["services", "delete", "relay"], "DELETE", "system/service/relay", None),
        (["suppression", "list"], "GET", "system/suppression", None),
        (
            ["suppression", "list", "--limit", "10", "--cursor", "abc=", "--service", "*"],
            "GET",
            "system/suppression?limit=10&cursor=abc%3D&service=%2A",
            None,
        ),
        (
            ["suppression", "list", "--reason", "bounce"],
            "GET",
            "system/suppression?reason=bounce",
            None,
        ),
        (
            ["suppression", "add", "gone@example.com"],
            "POST",
            "system/suppression",
            {"email": "gone@example.com", "reason": "manual"},
        ),
        (
            ["suppression", "add", "gone@example.com", "--reason", "bounce", "--service", "email"],
            "POST",
            "system/suppression",
            {"email": "gone@example.com", "reason": "bounce", "service": "email"},
        ),
        (
            ["suppression", "remove", "gone@example.com"],
            "DELETE",
            "system/suppression/gone%40example.com",
            None,
        ),
        (
            ["suppression", "remove", "gone@example.com", "--service", "email"],
            "DELETE",
            "system/suppression/gone%40example.com?service=email",
            None,
        ),
        (["stats"], "GET", "system/stats", None),
        (
            ["stats", "--service", "email", "--since", "2026-11-01", "--until", "2026-11-30"],
            "GET",
            "system/stats?service=email&since=2026-11-01&until=2026-11-30",
            None,
        ),
    ],
)
def test_each_command_makes_its_request(argv: list[str], method: str, url: str, body: Any) -> None:
    opener = FakeOpener()

    result = run(*argv, opener=opener)

    assert result.status == 0, result.stderr
    assert opener.sent == (method, f"{ROOT}/{url}", body)


def test_role_create_with_every_rule() -> None:
    opener = FakeOpener()

    run(
        "roles", "create", "billing", "--description", "Billing app",
        "--service", "email", "--service", "backup",
        "--sender", "billing@example.com", "--sender", "*@billing.example.com",
        "--max-recipients", "5", "--per-day", "100",
        opener=opener,
    )  # fmt: skip

    assert opener.sent[2] == {
        "name": "billing",
        "description": "Billing app",
        "admin": False,
        "services": ["email", "backup"],
        "senders": ["billing@example.com", "*@billing.example.com"],
        "max_recipients": 5,
        "rate_limits": {"per_minute": None, "per_day": 100},
    }


def test_admin_role() -> None:
    opener = FakeOpener()

    run("roles", "create", "ops", "--admin", "--service", "*", opener=opener)

    assert opener.sent[2]["admin"] is True
    assert opener.sent[2]["services"] == ["*"]


def test_service_create_with_every_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\nsecond line\n"))
    opener = FakeOpener()

    run(
        "services", "create", "relay", "--label", "Relay", "--description", "Our relay",
        "--host", "smtp.example.com", "--port", "465", "--encryption", "ssl",
        "--no-verify-tls", "--username", "apikey", "--password-stdin",
        "--from-email", "noreply@example.com", "--from-name", "Acme",
        "--reply-to-email", "help@example.com", "--reply-to-name", "Acme help",
        opener=opener,
    )  # fmt: skip

    assert opener.sent[2] == {
        "name": "relay",
        "label": "Relay",
        "description": "Our relay",
        "type": "smtp",
        "config": {
            "host": "smtp.example.com",
            "port": 465,
            "encryption": "ssl",
            "verify_tls": False,
            "username": "apikey",
            "password": "s3cret pass",
            "from_email": "noreply@example.com",
            "from_name": "Acme",
            "reply_to_email": "help@example.com",
            "reply_to_name": "Acme help",
        },
    }


def test_service_password_from_a_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PW", "from-env")
    opener = FakeOpener()

    run(
        "services", "create", "relay", "--host", "h.example.com", "--password-env", "SMTP_PW",
        opener=opener,
    )  # fmt: skip

    assert opener.sent[2]["config"]["password"] == "from-env"


def test_service_password_is_never_an_argument() -> None:
    said = usage_error("services", "create", "relay", "--host", "h", "--password", "hunter2")

    assert "--password" in said


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--password-env", "UNSET_VARIABLE"], "UNSET_VARIABLE is not set"),
        (["--password-stdin"], "no password on standard input"),
        (["--password-stdin", "--password-env", "X"], "not allowed with"),
    ],
)
def test_service_password_problems_are_usage_errors(
    argv: list[str], complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    said = usage_error("services", "create", "relay", "--host", "h", *argv)

    assert complaint in said


def test_send_builds_dreamfactorys_body_with_attachments(tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 not really")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    opener = FakeOpener({"count": 3})

    result = run(
        "send", "--service", "billing", "--to", "a@example.com", "--to", "b@example.com",
        "--cc", "c@example.com", "--bcc", "d@example.com",
        "--from-email", "billing@example.com", "--from-name", "Billing",
        "--reply-to-email", "help@example.com", "--subject", "Invoice",
        "--text", "See attached.", "--html", "<p>See attached.</p>",
        "--attach", str(report), "--attach", str(notes), "--json",
        opener=opener,
    )  # fmt: skip

    assert result.status == 0
    assert json.loads(result.stdout) == {"count": 3}
    method, url, body = opener.sent
    assert (method, url) == ("POST", f"{ROOT}/billing")
    assert body == {
        "to": ["a@example.com", "b@example.com"],
        "cc": ["c@example.com"],
        "bcc": ["d@example.com"],
        "subject": "Invoice",
        "from_email": "billing@example.com",
        "from_name": "Billing",
        "reply_to_email": "help@example.com",
        "body_text": "See attached.",
        "body_html": "<p>See attached.</p>",
        "attachments": [
            {
                "name": "report.pdf",
                "content": base64.b64encode(b"%PDF-1.4 not really").decode(),
                "content_type": "application/pdf",
            },
            {
                "name": "notes.txt",
                "content": base64.b64encode(b"hello\n").decode(),
                "content_type": "text/plain",
            },
        ],
    }


def test_send_with_no_body_sends_a_test_text_through_email() -> None:
    opener = FakeOpener()

    run("send", "--to", "a@example.com", opener=opener)

    _, url, body = opener.sent
    assert url == f"{ROOT}/email"
    assert body["to"] == ["a@example.com"]
    assert body["subject"]
    assert body["body_text"]


def test_send_an_unreadable_attachment_is_a_usage_error(tmp_path: Path) -> None:
    said = usage_error("send", "--to", "a@example.com", "--attach", str(tmp_path / "missing"))

    assert "cannot read attachment" in said


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("invoice.pdf", "application/pdf"),
        ("logo.PNG", "image/png"),
        ("data.csv", "text/csv"),
        ("no-extension", "application/octet-stream"),
        ("backup.tar.gz", "application/octet-stream"),  # not a tar: gzip bytes
        ("forwarded.eml", "application/octet-stream"),  # the API writes message/* itself
    ],
)
def test_attachment_content_type_is_guessed_from_the_name(name: str, expected: str) -> None:
    assert content_type(Path(name)) == expected


# --- connection options -------------------------------------------------------------------


def test_request_carries_the_key_and_json() -> None:
    opener = FakeOpener()

    run("keys", "create", "--role", "r", opener=opener)

    (request,) = opener.requests
    assert request.get_header("X-dreamfactory-api-key") == KEY
    assert request.get_header("Content-type") == "application/json"
    assert opener.timeouts == [30.0]


@pytest.mark.parametrize(
    "argv",
    [
        ["--url", "http://127.0.0.1:3000", "--api-key", "k", "--timeout", "2.5", "keys", "list"],
        ["keys", "list", "--url", "http://127.0.0.1:3000", "--api-key", "k", "--timeout", "2.5"],
        ["--url", "http://127.0.0.1:3000", "keys", "list", "--api-key", "k", "--timeout", "2.5"],
    ],
)
def test_connection_options_before_or_after_the_command_win_over_the_environment(
    argv: list[str],
) -> None:
    opener = FakeOpener()

    run(*argv, opener=opener)

    (request,) = opener.requests
    assert request.full_url == "http://127.0.0.1:3000/api/v2/system/api_key"
    assert request.get_header("X-dreamfactory-api-key") == "k"
    assert opener.timeouts == [2.5]


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("MAILER_URL", None, "no API URL"),
        ("MAILER_API_KEY", None, "no API key"),
        ("MAILER_URL", "localhost:3000", "must be an http:// or https:// URL"),
    ],
)
def test_missing_or_bad_connection_settings_are_usage_errors(
    setting: str, value: str | None, complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv(setting)
    else:
        monkeypatch.setenv(setting, value)

    assert complaint in usage_error("keys", "list")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["keys"],
        ["keys", "explode"],
        ["keys", "create"],  # --role is required
        ["keys", "rotate", "k1", "--overlap", "-1"],
        ["roles", "create", "r", "--per-day", "0"],
        ["services", "create", "s"],  # --host is required
        ["services", "create", "s", "--host", "h", "--encryption", "starttls"],
        ["services", "create", "s", "--host", "h", "--port", "70000"],
        ["send"],  # --to is required
        ["--timeout", "0", "keys", "list"],
        ["--timeout", "soon", "keys", "list"],
        ["services", "create", "s", "--host", "h", "--port", "smtp"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert "usage: mailer" in usage_error(*argv)


@pytest.mark.parametrize(
    "argv", [["--help"], ["keys", "--help"], ["services", "create", "--help"], ["send", "-h"]]
)
def test_help_at_every_level(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 0
    assert "usage: mailer" in capsys.readouterr().out


def test_top_level_help_documents_exit_status_and_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])

    shown = capsys.readouterr().out
    for line in ("0  success", "1  the API answered with an error", "2  usage error", "3  the API"):
        assert line in shown
    assert "MAILER_URL" in shown
    assert "MAILER_API_KEY" in shown


# --- answers -> output and exit status ----------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_is_the_answer_pretty_printed_on_stdout(where: str) -> None:
    answer = {"resource": [{"name": "email", "config": {"host": "h"}}]}
    argv = ["--json", "services", "list"] if where == "before" else ["services", "list", "--json"]

    result = run(*argv, opener=FakeOpener(answer))

    assert result.status == 0
    assert json.loads(result.stdout) == answer
    assert result.stdout == json.dumps(answer, indent=2) + "\n"
    assert result.stderr == ""


def test_a_new_key_is_on_stdout_with_a_note_on_stderr() -> None:
    answer = {"id": "k1", "role": "billing", "key": "k1.secret"}

    result = run("keys", "create", "--role", "billing", "--json", opener=FakeOpener(answer))

    assert json.loads(result.stdout) == answer
    assert "only time the key is shown" in result.stderr


def test_api_error_exits_1_with_the_envelope_on_stderr() -> None:
    envelope = {
        "error": {"code": 404, "message": "Role 'x' not found.", "reason": "role_not_found"}
    }

    result = run("roles", "show", "x", opener=FakeOpener(failure=http_error(404, envelope)))

    assert result.status == 1
    assert result.stdout == ""
    shown, summary = result.stderr.rsplit("}\n", 1)
    assert json.loads(shown + "}") == envelope
    assert summary == "mailer: the API answered 404 (role_not_found): Role 'x' not found.\n"


def test_an_answer_that_is_not_json_is_shown_as_it_came() -> None:
    page = b"<html><body>502 Bad Gateway</body></html>\n"

    result = run("keys", "list", opener=FakeOpener(failure=http_error(502, page)))

    assert result.status == 1
    assert result.stderr == (
        "<html><body>502 Bad Gateway</body></html>\nmailer: the API answered 502\n"
    )


def test_a_gateways_own_error_is_summed_up_too() -> None:
    failure = http_error(403, {"message": "Forbidden"})

    result = run("keys", "list", opener=FakeOpener(failure=failure))

    assert result.status == 1
    assert result.stderr.endswith("mailer: the API answered 403: Forbidden\n")


def test_rate_limited_says_when_to_retry() -> None:
    envelope = {"error": {"code": 429, "message": "Rate limit.", "reason": "rate_limited"}}
    failure = http_error(429, envelope, {"Retry-After": "17"})

    result = run("send", "--to", "a@example.com", opener=FakeOpener(failure=failure))

    assert result.status == 1
    assert "Retry-After" in result.stderr
    assert "retry after 17 seconds" in result.stderr


@pytest.mark.parametrize(
    "failure",
    [
        urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
        urllib.error.URLError(TimeoutError("timed out")),
        TimeoutError("timed out"),
        http.client.RemoteDisconnected("Remote end closed connection without response"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_unreachable_api_exits_3(failure: Exception) -> None:
    result = run("keys", "list", opener=FakeOpener(failure=failure))

    assert result.status == 3
    assert result.stdout == ""
    assert result.stderr.startswith(f"mailer: could not reach {URL}/api/v2/: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["suppression", "list", "--limit", "0"],
        ["suppression", "list", "--limit", "101"],
        ["suppression", "add", "gone@example.com", "--reason", "because"],
        ["suppression", "remove"],
    ],
)
def test_suppression_usage_errors(argv: list[str]) -> None:
    assert usage_error(*argv)


@pytest.mark.parametrize(
    "argv", [["stats", "--since", "yesterday"], ["stats", "--until", "2026-02-30"]]
)
def test_stats_usage_errors(argv: list[str]) -> None:
    assert usage_error(*argv)


# --- messages -----------------------------------------------------------------------------


def test_messages_list_asks_every_services_list_with_its_filters() -> None:
    opener = FakeOpener(answer={"resource": [], "meta": {"next_cursor": None}})

    done = run(
        "messages", "list", "--status", "failed", "--tag", "a:b", "--limit", "5", opener=opener
    )

    assert done.status == 0
    method, url, _ = opener.sent
    assert (method, url) == ("GET", f"{ROOT}/system/message?status=failed&tag=a%3Ab&limit=5")


def test_messages_list_of_a_service_goes_on_from_a_cursor() -> None:
    opener = FakeOpener(answer={"resource": [], "meta": {"next_cursor": None}})

    run("messages", "list", "--service", "email", "--cursor", "eyJ9==", opener=opener)

    assert opener.sent[1] == f"{ROOT}/email/messages?cursor=eyJ9%3D%3D"


@pytest.mark.parametrize(
    ("argv", "path"),
    [(("abc",), "system/message/abc"), (("abc", "--service", "bulk"), "bulk/messages/abc")],
)
def test_messages_show_finds_one_by_id(argv: tuple[str, ...], path: str) -> None:
    opener = FakeOpener(answer={"id": "abc"})

    run("messages", "show", *argv, opener=opener)

    assert opener.sent[:2] == ("GET", f"{ROOT}/{path}")


def test_ses_events_replay_posts_each_event_to_the_local_path_without_a_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MAILER_API_KEY")
    monkeypatch.setattr("sys.stdin", io.StringIO('[{"eventType": "Send"}, {"eventType": "Open"}]'))
    opener = FakeOpener(answer={"outcomes": ["dropped"]})

    ran = run("ses-events", "replay", "-", "--url", "http://127.0.0.1:3000/api/v2", opener=opener)

    assert (ran.status, ran.stdout) == (0, "stdin[0]: dropped\nstdin[1]: dropped\n")
    assert [request.full_url for request in opener.requests] == [
        "http://127.0.0.1:3000/_local/ses-events"
    ] * 2
    bodies = [request.data for request in opener.requests]
    assert bodies == [b'{"eventType": "Send"}', b'{"eventType": "Open"}']
    assert opener.requests[0].get_header("X-dreamfactory-api-key") is None


def test_ses_events_replay_goes_on_past_an_event_the_function_failed_on(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"eventType": "Send"}')

    def function_failed(request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        body = io.BytesIO(b'{"errorMessage": "boom"}')
        raise urllib.error.HTTPError(request.full_url, 502, "", http.client.HTTPMessage(), body)

    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["ses-events", "replay", str(event), str(event)],
        stdout=out,
        stderr=err,
        opener=function_failed,
    )

    assert status == 1
    assert out.getvalue().count(f"{event}: failed (the events function raised") == 2
