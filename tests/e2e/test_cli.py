"""The `mailer` executable against the local stack: what an operator types, sees and gets back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.network import free_port
from tests.support.stack_process import RunningStack, start_stack

# The console script `make` installs next to this interpreter (pip install -e .).
MAILER = Path(sys.executable).with_name("mailer")
ADMIN_KEY = "cli-test-admin-key-0123456789"
RUN_TIMEOUT_SECONDS = 60
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own whose key checks are never cached, so a rotation or revocation shows
    on the very next request (as the integration tests' AUTH_CACHE_SECONDS=0 has it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTH_CACHE_SECONDS", "0")
        running = start_stack(tmp_path_factory.mktemp("cli-stack"), admin_key=ADMIN_KEY)
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Ran:
    status: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> dict[str, Any]:
        """The API's error envelope from standard error (the lines before mailer's summary)."""
        envelope = self.stderr[: self.stderr.rindex("}") + 1]
        error: dict[str, Any] = json.loads(envelope)["error"]
        return error


def mailer(
    stack: RunningStack | None,
    *args: str,
    api_key: str | None = None,
    url: str | None = None,
    stdin: str = "",
    as_json: bool = True,
) -> Ran:
    """Run the installed `mailer` with MAILER_URL and MAILER_API_KEY set for `stack`, asking
    for the API's JSON (`--json`) unless `as_json` is false."""
    if not MAILER.exists():
        pytest.fail(f"{MAILER} is missing: `make .venv/.installed` installs it")
    env = {name: value for name, value in os.environ.items() if not name.startswith("MAILER_")}
    env["MAILER_URL"] = url or (stack.api_url if stack else "")
    env["MAILER_API_KEY"] = api_key or (stack.admin_key if stack else "")
    # The console script imports `mailer_cli` from this checkout (a worktree's, not the one
    # the virtualenv was installed from): the code under test is the code beside the test.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(  # noqa: S603 - our own console script, arguments from this test
        [str(MAILER), *args, *(["--json"] if as_json else [])],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def ok(ran: Ran) -> Any:
    """The JSON answer of a run that must have succeeded."""
    assert ran.status == 0, ran.stderr
    return ran.json


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sender_key(stack: RunningStack) -> tuple[str, str]:
    """(id, key) of a new key whose role may send through `email` from any @example.com."""
    role = unique("cli-app")
    ok(mailer(stack, "roles", "create", role, "--service", "email", "--sender", "*@example.com"))
    created = ok(mailer(stack, "keys", "create", "--role", role))
    return created["id"], created["key"]


def send_test_mail(stack: RunningStack, key: str) -> Ran:
    return mailer(stack, "send", "--to", "ops@example.com", "--subject", unique("s"), api_key=key)


# --- services -----------------------------------------------------------------------------


def test_services_create_list_show_delete(cli_stack: RunningStack) -> None:
    name = unique("cli-relay")
    password = "smtp-password-" + uuid.uuid4().hex

    created = mailer(
        cli_stack, "services", "create", name, "--label", "CLI relay",
        "--host", "127.0.0.1", "--port", str(cli_stack.smtp_port), "--encryption", "none",
        "--username", "relay-user", "--password-stdin",
        "--from-email", "noreply@example.com", "--from-name", "CLI test",
        stdin=f"{password}\n",
    )  # fmt: skip
    listed = mailer(cli_stack, "services", "list")
    shown = mailer(cli_stack, "services", "show", name)
    deleted = mailer(cli_stack, "services", "delete", name)
    gone = mailer(cli_stack, "services", "show", name)

    assert ok(created)["name"] == name
    assert created.json["label"] == "CLI relay"
    assert created.json["config"] == {
        "host": "127.0.0.1",
        "port": cli_stack.smtp_port,
        "encryption": "none",
        "verify_tls": True,
        "username": "relay-user",
        "from_name": "CLI test",
        "from_email": "noreply@example.com",
        "reply_to_name": None,
        "reply_to_email": None,
        "max_send_rate": None,
        "daily_quota": None,
        "max_connections": 4,
        "max_recipients": None,
        "unknown_outcome": "hold",
        "retry_window_minutes": None,
        "suppression_scope": "account",
        "parameters": [],
        "escape_html_values": True,
    }
    assert name in [service["name"] for service in ok(listed)["resource"]]
    assert ok(shown)["config"] == created.json["config"]
    for ran in (created, listed, shown):
        assert password not in ran.stdout + ran.stderr
    assert ok(deleted) == {"id": created.json["id"], "name": name}
    assert gone.status == 1
    assert gone.stdout == ""
    assert gone.error["reason"] == "service_not_found"


def test_a_service_created_by_the_cli_delivers(cli_stack: RunningStack) -> None:
    name = unique("cli-capture")
    ok(
        mailer(
            cli_stack, "services", "create", name,
            "--host", "127.0.0.1", "--port", str(cli_stack.smtp_port), "--encryption", "none",
            "--from-email", "relay@example.com",
        )
    )  # fmt: skip

    sent = mailer(cli_stack, "send", "--service", name, "--to", "ops@example.com")

    _, envelope = cli_stack.captured(ok(sent)["message_id"])
    assert envelope.mail_from == "relay@example.com"
    assert envelope.rcpt_tos == ["ops@example.com"]


# --- roles --------------------------------------------------------------------------------


def test_roles_create_and_list(cli_stack: RunningStack) -> None:
    name = unique("billing")

    created = mailer(
        cli_stack, "roles", "create", name, "--description", "The billing app",
        "--service", "email",
        "--sender", "billing@example.com", "--sender", "*@billing.example.com",
        "--max-recipients", "10", "--per-minute", "5", "--per-day", "100",
    )  # fmt: skip
    listed = mailer(cli_stack, "roles", "list")

    expected = {
        "name": name,
        "description": "The billing app",
        "admin": False,
        "services": ["email"],
        "senders": ["billing@example.com", "*@billing.example.com"],
        "max_recipients": 10,
        "rate_limits": {"per_second": None, "per_minute": 5, "per_day": 100},
    }
    assert {k: ok(created)[k] for k in expected} == expected
    (role,) = [role for role in ok(listed)["resource"] if role["name"] == name]
    assert {k: role[k] for k in expected} == expected
    assert ok(mailer(cli_stack, "roles", "show", name))["name"] == name


# --- keys ---------------------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_sends(cli_stack: RunningStack, tmp_path: Path) -> None:
    role = unique("cli-app")
    ok(
        mailer(
            cli_stack, "roles", "create", role, "--service", "email", "--sender", "*@example.com"
        )
    )
    report = tmp_path / "report.csv"
    report.write_text("month,total\n2026-01,42\n")
    subject = unique("Monthly report")

    created = mailer(cli_stack, "keys", "create", "--role", role, "--label", "reporting")
    key_id, key = ok(created)["id"], created.json["key"]
    shown = mailer(cli_stack, "keys", "show", key_id)
    listed = mailer(cli_stack, "keys", "list")
    sent = mailer(
        cli_stack, "send", "--to", "ops@example.com", "--from-email", "reports@example.com",
        "--subject", subject, "--text", "Attached.", "--attach", str(report),
        api_key=key,
    )  # fmt: skip

    assert created.json["role"] == role
    assert created.json["label"] == "reporting"
    assert "only time the key is shown" in created.stderr
    assert "key" not in ok(shown)
    assert all("key" not in listed_key for listed_key in ok(listed)["resource"])
    secret = key.removeprefix(f"{key_id}.")
    assert secret != key
    assert secret not in shown.stdout + listed.stdout
    assert ok(sent)["count"] == 1
    message, envelope = cli_stack.captured(sent.json["message_id"])
    assert message["Subject"] == subject
    assert message["From"].addresses[0].addr_spec == "reports@example.com"
    assert envelope.rcpt_tos == ["ops@example.com"]
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_payload(decode=True) == report.read_bytes()


def test_a_key_refused_by_its_role_exits_1_with_the_reason(cli_stack: RunningStack) -> None:
    _, key = sender_key(cli_stack)

    ran = mailer(
        cli_stack, "send", "--to", "ops@example.com", "--from-email", "ceo@elsewhere.example",
        api_key=key,
    )  # fmt: skip

    assert ran.status == 1
    assert ran.error["reason"] == "sender_forbidden"
    assert "mailer: the API answered 403 (sender_forbidden)" in ran.stderr


def test_rotation_without_overlap_refuses_the_old_key(cli_stack: RunningStack) -> None:
    key_id, old_key = sender_key(cli_stack)
    ok(send_test_mail(cli_stack, old_key))

    rotated = ok(mailer(cli_stack, "keys", "rotate", key_id))
    with_old = send_test_mail(cli_stack, old_key)
    with_new = send_test_mail(cli_stack, rotated["key"])

    assert rotated["id"] == key_id
    assert rotated["key"] != old_key
    assert with_old.status == 1
    assert with_old.error["reason"] == "unauthorized"
    assert ok(with_new)["count"] == 1


def test_rotation_with_overlap_keeps_the_old_key_working(cli_stack: RunningStack) -> None:
    key_id, old_key = sender_key(cli_stack)
    ok(send_test_mail(cli_stack, old_key))

    rotated = ok(mailer(cli_stack, "keys", "rotate", key_id, "--overlap", "300"))

    assert rotated["previous_valid_until"]
    assert ok(send_test_mail(cli_stack, old_key))["count"] == 1
    assert ok(send_test_mail(cli_stack, rotated["key"]))["count"] == 1


def test_a_disabled_key_is_refused_until_enabled(cli_stack: RunningStack) -> None:
    key_id, key = sender_key(cli_stack)

    disabled = ok(mailer(cli_stack, "keys", "disable", key_id))
    while_disabled = send_test_mail(cli_stack, key)
    enabled = ok(mailer(cli_stack, "keys", "enable", key_id))

    assert disabled["enabled"] is False
    assert while_disabled.status == 1
    assert while_disabled.error["reason"] == "unauthorized"
    assert enabled["enabled"] is True
    assert ok(send_test_mail(cli_stack, key))["count"] == 1


def test_a_revoked_key_is_refused(cli_stack: RunningStack) -> None:
    key_id, key = sender_key(cli_stack)
    ok(send_test_mail(cli_stack, key))

    revoked = mailer(cli_stack, "keys", "revoke", key_id)
    refused = send_test_mail(cli_stack, key)
    shown = mailer(cli_stack, "keys", "show", key_id)

    assert ok(revoked) == {"id": key_id}
    assert refused.status == 1
    assert refused.stdout == ""
    assert refused.error["reason"] == "unauthorized"
    assert shown.status == 1
    assert shown.error["code"] == 404


def test_over_the_rate_limit_exits_1_and_says_when_to_retry(cli_stack: RunningStack) -> None:
    role = unique("cli-limited")
    ok(mailer(cli_stack, "roles", "create", role, "--service", "email", "--per-day", "1"))
    key = ok(mailer(cli_stack, "keys", "create", "--role", role))["key"]

    first = send_test_mail(cli_stack, key)
    second = send_test_mail(cli_stack, key)

    assert ok(first)["count"] == 1
    assert second.status == 1
    assert second.error["code"] == 429
    assert "Retry-After" in second.stderr


# --- what goes wrong before the API answers -----------------------------------------------


def test_usage_error_exits_2(cli_stack: RunningStack) -> None:
    ran = mailer(cli_stack, "keys", "create", "--label", "no role given")

    assert ran.status == 2
    assert ran.stdout == ""
    assert "usage: mailer keys create" in ran.stderr
    assert "--role" in ran.stderr


def test_help_exits_0_and_documents_the_exit_status() -> None:
    ran = mailer(None, "--help")

    assert ran.status == 0
    assert "exit status:" in ran.stdout
    assert "3  the API could not be reached" in ran.stdout


def test_python_dash_m_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailer_cli", "keys", "--help"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )

    assert done.returncode == 0
    assert "usage: mailer keys" in done.stdout


def test_nothing_listening_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    ran = mailer(None, "keys", "list", url=url, api_key="any")

    assert ran.status == 3
    assert ran.stdout == ""
    assert ran.stderr.startswith(f"mailer: could not reach {url}/api/v2/")


def test_a_server_that_never_answers_exits_3_after_the_timeout() -> None:
    with socket.socket() as silent:
        # Connections complete in the listen backlog; nobody ever reads or answers them.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        ran = mailer(None, "roles", "list", "--timeout", "0.5", url=url, api_key="any")

    assert ran.status == 3
    assert "timed out" in ran.stderr
