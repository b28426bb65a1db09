"""The `mailer` commands of issue 22 against the local stack: templates, service and role
changes, sending with a template and its data, scheduling and cancelling, a batch with its
progress, and what a person reads by default (tables, `key: value` lines, `--field`)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli import mailer, ok, unique
from tests.support.stack_process import RunningStack


def test_a_template_is_created_sent_with_changed_and_deleted(
    stack: RunningStack, tmp_path: Path
) -> None:
    name = unique("cli-welcome")
    html = tmp_path / "welcome.html"
    html.write_text("<p>Hello {first_name}, code <b>{code}</b>.</p>")

    created = ok(
        mailer(
            stack, "templates", "create", name, "--subject", "Welcome, {first_name}",
            "--body-text", "Hello {first_name}, code {code}.", "--body-html-file", str(html),
            "--default", "first_name=friend",
        )
    )  # fmt: skip
    listed = mailer(stack, "templates", "list", as_json=False)
    sent = ok(
        mailer(stack, "send", "--to", "ann@example.com", "--template", name, "--data", "code=42")
    )
    renamed = ok(
        mailer(stack, "templates", "update", name, "--name", f"{name}-2", "--clear", "body_html")
    )
    by_id = ok(mailer(stack, "templates", "show", str(created["id"])))
    deleted = mailer(stack, "templates", "delete", f"{name}-2")
    gone = mailer(stack, "templates", "show", f"{name}-2")

    assert created["defaults"] == {"first_name": "friend"}
    assert created["body_html"] == html.read_text()
    assert listed.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "SUBJECT"]
    assert name in listed.stdout
    message, envelope = stack.captured(sent["message_id"])
    assert message["Subject"] == "Welcome, friend"
    assert envelope.rcpt_tos == ["ann@example.com"]
    plain = message.get_body(("plain",))
    assert plain is not None
    assert "Hello friend, code 42." in plain.get_content()
    assert (renamed["name"], renamed["body_html"]) == (f"{name}-2", None)
    assert by_id["name"] == f"{name}-2"
    assert deleted.status == 0
    assert (gone.status, gone.error["status_code"]) == (1, 404)


def test_a_service_is_changed_disabled_enabled_and_given_a_password(stack: RunningStack) -> None:
    name = unique("cli-relay")
    ok(mailer(stack, "services", "create", name, "--host", "127.0.0.1", "--port", "2587"))

    updated = ok(
        mailer(
            stack, "services", "update", name, "--label", "Relay", "--max-send-rate", "5",
            "--parameter", "company=Example Shop",
        )
    )  # fmt: skip
    disabled = ok(mailer(stack, "services", "disable", name))
    refused = mailer(stack, "send", "--service", name, "--to", "a@example.com")
    enabled = ok(mailer(stack, "services", "enable", name))
    stored = mailer(
        stack, "services", "set-password", name, "--password-stdin", stdin="cli-pw-123\n"
    )
    shown = mailer(stack, "services", "show", name, as_json=False)

    assert updated["label"] == "Relay"
    assert updated["config"]["max_send_rate"] == 5
    assert updated["config"]["parameters"][0]["name"] == "company"
    assert (disabled["is_active"], enabled["is_active"]) == (False, True)
    assert (refused.status, refused.error["reason"]) == (1, "service_inactive")
    assert stored.status == 0
    assert f"password of service '{name}' is stored" in stored.stderr
    assert "cli-pw-123" not in stored.stdout + stored.stderr + shown.stdout
    assert "config.host:" in shown.stdout
    assert "(API default" not in shown.stdout
    ok(mailer(stack, "services", "delete", name))


def test_a_role_is_changed_and_its_key_relabelled(stack: RunningStack) -> None:
    role = unique("cli-role")
    ok(mailer(stack, "roles", "create", role, "--service", "email", "--per-minute", "10"))
    key_id = mailer(stack, "keys", "create", "--role", role, "--field", "id").stdout.strip()

    changed = ok(
        mailer(stack, "roles", "update", role, "--per-day", "100", "--sender", "*@example.com")
    )
    relabelled = ok(mailer(stack, "keys", "update", key_id, "--label", "billing"))
    listed = mailer(stack, "keys", "list", "--field", "id")

    assert changed["rate_limits"]["per_minute"] == 10
    assert changed["rate_limits"]["per_day"] == 100
    assert changed["senders"] == ["*@example.com"]
    assert relabelled["label"] == "billing"
    assert key_id in listed.stdout.split()
    ok(mailer(stack, "keys", "revoke", key_id))
    ok(mailer(stack, "roles", "delete", role))


def test_a_scheduled_message_is_shown_and_cancelled(stack: RunningStack) -> None:
    tag = unique("cli-later")
    message_id = mailer(
        stack, "send", "--to", "later@example.com", "--send-at", "+1d", "--tag", tag,
        "--field", "id",
    ).stdout.strip()  # fmt: skip

    found = ok(mailer(stack, "messages", "list", "--tag", tag))
    shown = ok(mailer(stack, "messages", "show", message_id, "--service", "email"))
    events = ok(mailer(stack, "messages", "events", message_id))
    cancelled = ok(mailer(stack, "messages", "cancel", message_id))
    again = mailer(stack, "messages", "cancel", message_id)

    assert [record["id"] for record in found["resource"]] == [message_id]
    assert shown["status"] == "scheduled"
    assert events == []
    assert cancelled["status"] == "cancelled"
    assert again.status == 1


def test_an_async_send_with_an_idempotency_key_is_sent_once(stack: RunningStack) -> None:
    key = unique("cli-order")
    argv = ("send", "--to", "ops@example.com", "--async", "--idempotency-key", key)

    first, second = ok(mailer(stack, *argv)), ok(mailer(stack, *argv))

    assert first["status"] == "queued"
    assert second["id"] == first["id"]


def test_a_batch_shows_its_progress_on_stderr_only(stack: RunningStack, tmp_path: Path) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(
        json.dumps(
            {
                "message": {"subject": "Hi {name}", "body_text": "Hello {name}."},
                "recipients": [
                    {"email": "a@example.com", "template_data": {"name": "A"}},
                    {"email": "b@example.com", "template_data": {"name": "B"}},
                ],
            }
        )
    )

    ran = mailer(stack, "send", "--batch", str(batch), "--progress")

    assert [item["status"] for item in ok(ran)["results"]] == ["sent", "sent"]
    assert "mailer: batch: 2/2" in ran.stderr.splitlines()


def test_a_batch_with_a_failed_item_prints_every_result_and_exits_1(
    stack: RunningStack, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(
        json.dumps(
            [
                {"to": "a@example.com", "subject": "Hi", "body_text": "Hello."},
                {"to": "not-an-address", "subject": "Hi", "body_text": "Hello."},
            ]
        )
    )

    ran = mailer(stack, "send", "--batch", str(batch))

    assert ran.status == 1, ran.stderr
    results = json.loads(ran.stdout)["results"]
    assert [item["status"] for item in results] == ["sent", "failed"]
    assert results[1]["error"]["reason"] == "invalid_address"
    assert "1 of 2" in ran.stderr


def test_a_person_reads_tables_records_and_one_field(stack: RunningStack) -> None:
    table = mailer(stack, "services", "list", as_json=False)
    names = mailer(stack, "services", "list", "--field", "name")
    preview = mailer(stack, "preview", "--to", "a@example.com", "--subject", "Look", as_json=False)
    health = mailer(stack, "health", as_json=False)

    assert table.stdout.splitlines()[0].split()[:2] == ["NAME", "TYPE"]
    assert "email" in names.stdout.split()
    assert "  Subject: Look" in preview.stdout.splitlines()
    assert (health.status, health.stdout.split()[:2]) == (0, ["status:", "ok"])
