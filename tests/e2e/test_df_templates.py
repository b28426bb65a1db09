"""DreamFactory's templates through the local stack as its clients send them: the admin
interface's create (every form field, the empty ones `""`, a comma-separated `to`), `mailer
import` of a DreamFactory export keeping its template ids, and a public app's send naming
"User Invite Default" or a kept `template_id`, checked in the mail the SMTP server captured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.stack_process import REPO_ROOT, RunningStack, start_stack

ADMIN_KEY = "df-templates-admin-key-0123456789"
EXPORT = REPO_ROOT / "tests" / "fixtures" / "dreamfactory" / "export.json"
RUN_TIMEOUT_SECONDS = 60
JSON_UTF8 = "application/json; charset=utf-8"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own: the import keeps ids 2, 3, 5 and 8, which another test's templates
    in a shared stack could hold."""
    running = start_stack(tmp_path_factory.mktemp("df-templates"), admin_key=ADMIN_KEY)
    try:
        yield running
    finally:
        running.stop()


def mailer(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    """This worktree's `mailer` (`python -m mailer_cli`), with MAILER_URL and MAILER_API_KEY."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MAILER_")}
    env.update(MAILER_URL=stack.api_url, MAILER_API_KEY=stack.admin_key)
    return subprocess.run(  # noqa: S603 - our own module, arguments from this test
        [sys.executable, "-m", "mailer_cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def test_the_admin_interfaces_create_of_a_template(stack: RunningStack) -> None:
    """df-admin-interface `src/app/adf-config/df-email-template-details/
    df-email-template-details.component.ts` lines 125-138 and 155-161: the form's fields,
    empty ones `""`, posted as `{"resource": [...]}` by `DfBaseCrudService.create`
    (`src/app/shared/services/df-base-crud.service.ts` lines 62-68) with its `Cache-Control`
    header (`getOptions`), the keys made snake_case by `case.interceptor.ts`; Angular's
    `JSON.stringify` writes it without spaces."""
    payload = {
        "name": "Welcome Aboard",
        "description": "",
        "to": "ops@example.com,audit@example.com",
        "cc": "",
        "bcc": "",
        "subject": "Welcome, {first_name}",
        "attachment": "",
        "body_html": "<p>Hi {first_name}</p>",
        "from_name": "",
        "from_email": "",
        "reply_to_name": "",
        "reply_to_email": "",
    }
    body = json.dumps({"resource": [payload]}, separators=(",", ":"))

    created = stack.request(
        "POST",
        "/api/v2/system/email_template",
        body=body,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/plain, */*",
            "Cache-Control": "no-cache, private",
            "X-DreamFactory-API-Key": ADMIN_KEY,
        },
    )

    assert created.status == 201, created.body
    shown = stack.request(
        "GET",
        "/api/v2/system/email_template/Welcome%20Aboard",
        headers={"X-DreamFactory-API-Key": ADMIN_KEY},
    )
    assert shown.status == 200, shown.body
    assert shown.body["to"] == ["ops@example.com", "audit@example.com"]
    assert (shown.body["cc"], shown.body["attachment"], shown.body["from_email"]) == (
        None,
        None,
        None,
    )


def test_an_imported_export_answers_its_clients_ids_and_names(stack: RunningStack) -> None:
    """`mailer import` of DreamFactory's `GET /api/v2/system/service` and `.../email_template`
    answers, `email` renamed beside the stack's own; then a public app's call as issue 20
    quotes it (df-email `src/Services/BaseService.php`: `template`, `template_id` 0 meaning
    none, other top-level strings as placeholder values), with `?api_key=...&session_id=&
    session_token=` and `Content-Type: application/json; charset=utf-8`."""
    imported = mailer(stack, "import", "--rename-service", "email=df_email", "--json", str(EXPORT))

    assert imported.returncode == 0, imported.stderr
    reports = {report["name"]: report for report in map(json.loads, imported.stdout.splitlines())}
    assert reports["email"]["name_here"] == "df_email"
    assert reports["transactional"]["action"] == "skipped"
    assert reports["sendmail"]["action"] == "skipped"
    assert {
        name: reports[name]["id"] for name in reports if reports[name]["kind"] != "service"
    } == {
        "User Invite Default": 2,
        "User Registration Default": 3,
        "Password Reset Default": 5,
        "Order Shipped": 8,
    }

    by_name = _app_sends(
        stack,
        {
            "template": "User Invite Default",
            "template_id": 0,
            "first_name": "Jane",
            "confirm_code": "Q7Z1",
            "to": {"email": "jane@example.com", "name": "Jane Doe"},
        },
    )
    by_id = _app_sends(
        stack,
        {
            "template_id": 5,
            "first_name": "Joe",
            "confirm_code": "R2D2",
            "to": {"email": "joe@example.com", "name": "Joe Roe"},
        },
    )

    invite, envelope = stack.captured(by_name["message_id"])
    assert envelope.rcpt_tos == ["jane@example.com"]
    assert invite["Subject"] == "Invitation"
    assert "Confirmation Code: Q7Z1" in _html(invite)
    reset, envelope = stack.captured(by_id["message_id"])
    assert envelope.rcpt_tos == ["joe@example.com"]
    assert reset["Subject"] == "Password Reset"
    assert "Hi Joe," in _html(reset)


def _app_sends(stack: RunningStack, body: dict[str, Any]) -> Any:
    answer = stack.request(
        "POST",
        "/api/v2/email",
        body=json.dumps(body),
        headers={"Content-Type": JSON_UTF8, "Accept": "application/json"},
        query=f"api_key={ADMIN_KEY}&session_id=&session_token=",
    )
    assert answer.status == 200, answer.body
    assert answer.body["count"] == 1
    return answer.body


def _html(message: Any) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    content: str = part.get_content()
    return content
