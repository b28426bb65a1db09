"""`mailer send --batch FILE`: the file's batch posted to the batch route, its results printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_mailer_cli import ENVIRON, ROOT, FakeOpener, run, usage_error

BATCH = {
    "message": {"subject": "Hi {first_name}", "body_text": "Hello {first_name}"},
    "recipients": [{"email": "a@example.com", "template_data": {"first_name": "Ann"}}],
}
RESULTS = {"results": [{"index": 0, "status": "sent", "id": "r0", "count": 1}]}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)


def _file(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(content))
    return path


def test_the_files_batch_goes_to_the_batch_route(tmp_path: Path) -> None:
    opener = FakeOpener(RESULTS)

    result = run(
        "send", "--service", "billing", "--batch", str(_file(tmp_path, BATCH)), "--json",
        opener=opener,
    )  # fmt: skip

    assert result.status == 0
    assert json.loads(result.stdout) == RESULTS
    assert opener.sent == ("POST", f"{ROOT}/billing/batch", BATCH)


def test_a_list_of_send_bodies_is_the_batchs_messages(tmp_path: Path) -> None:
    messages = [{"to": "a@example.com", "body_text": "Hi"}, {"to": "b@example.com"}]
    opener = FakeOpener(RESULTS)

    run("send", "--batch", str(_file(tmp_path, messages)), opener=opener)

    assert opener.sent == ("POST", f"{ROOT}/email/batch", {"messages": messages})


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--to", "a@example.com"], "not allowed with argument --batch"),
        (["--subject", "Hi"], "drop --subject"),
    ],
    ids=["with-to", "with-a-message-option"],
)
def test_a_batch_takes_no_message_options(tmp_path: Path, argv: list[str], complaint: str) -> None:
    said = usage_error("send", "--batch", str(_file(tmp_path, BATCH)), *argv)

    assert complaint in said


@pytest.mark.parametrize(
    ("content", "complaint"),
    [(None, "cannot read"), ("{not json", "is not JSON"), ('"text"', "holds no batch")],
    ids=["missing", "not-json", "not-a-batch"],
)
def test_a_file_that_holds_no_batch_is_a_usage_error(
    tmp_path: Path, content: str | None, complaint: str
) -> None:
    path = tmp_path / "batch.json"
    if content is not None:
        path.write_text(content)

    assert complaint in usage_error("send", "--batch", str(path))


def test_a_batch_with_failed_items_exits_1_after_printing_every_result(tmp_path: Path) -> None:
    # A script sees the failure in the exit status; the results still go to standard output.
    results = {
        "results": [
            {"index": 0, "status": "sent", "id": "r0", "count": 1},
            {
                "index": 1,
                "status": "failed",
                "error": {"code": 400, "message": "bad address", "reason": "invalid_recipient"},
            },
        ]
    }

    result = run(
        "send", "--batch", str(_file(tmp_path, BATCH)), "--json", opener=FakeOpener(results)
    )

    assert result.status == 1
    assert json.loads(result.stdout) == results
    assert "batch: 1 of 2 items failed" in result.stderr
