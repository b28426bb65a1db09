"""The mail viewer's JSON API and pages over a real mail folder, as the capture server writes it
(`MailFolder.keep`): listing newest first, search, one message taken apart (Bcc from the
envelope, text, HTML with its cid: images, attachments), downloads, deleting, and who may ask."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from local_stack.mail_capture import MailFolder
from local_stack.mail_viewer import MailViewer
from local_stack.mail_viewer.routes import (
    HTML_BODY_POLICY,
    MESSAGES_PATH,
    VIEWER_PATH,
    ViewerAnswer,
    ViewerRequest,
)
from local_stack.smtp.capture import Received

DELETE_HEADERS = {"x-mail-viewer": "delete"}
PIXEL = bytes.fromhex("89504e470d0a1a0a")  # a PNG's signature: bytes enough to carry


def _mail(
    subject: str,
    *,
    sender: str = "Ann Lee <ann@example.com>",
    to: str = "bob@example.org",
    html: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@example.com>"
    message.set_content(f"Text of {subject}.")
    if html is not None:
        message.add_alternative(html, subtype="html")
        html_part = message.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(PIXEL, "image", "png", cid="<logo@example.com>")
    if attachment is not None:
        name, data = attachment
        message.add_attachment(data, "application", "pdf", filename=name)
    return message


def _keep(folder: Path, message: EmailMessage, rcpt_tos: list[str], at: float) -> None:
    received = Received(
        mail_from="bounces@example.com",
        rcpt_tos=rcpt_tos,
        data=message.as_bytes().replace(b"\n", b"\r\n"),
        tls=False,
        auth_login=None,
        arrived_at=at,
    )
    MailFolder(folder).keep(received)


def _ask(viewer: MailViewer, method: str, path: str, **request: Any) -> ViewerAnswer:
    return viewer.answer(ViewerRequest(method, path, **request))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    mail_dir = tmp_path / "mail"
    _keep(mail_dir, _mail("Older note", to="carol@example.net"), ["carol@example.net"], 1000.0)
    _keep(
        mail_dir,
        _mail(
            "Invoice <b>42</b>",
            html='<p>Hi <img src="cid:logo@example.com"> <img src="http://127.0.0.1:9/x.png"></p>',
            attachment=("invoice 42.pdf", b"%PDF-1.4 fake"),
        ),
        ["bob@example.org", "hidden@example.org"],
        2000.0,
    )
    return mail_dir


@pytest.fixture
def viewer(folder: Path) -> MailViewer:
    return MailViewer(folder)


def _ids(viewer: MailViewer, query: str = "") -> list[str]:
    answer = _ask(viewer, "GET", MESSAGES_PATH, query=query)
    assert answer.status == 200, answer.body
    return [message["subject"] for message in answer.json()["messages"]]


def _first_id(viewer: MailViewer) -> str:
    message_id: str = _ask(viewer, "GET", MESSAGES_PATH).json()["messages"][0]["id"]
    return message_id


# --- the list and its search ---------------------------------------------------------------


def test_the_list_is_newest_first_with_its_envelope(viewer: MailViewer) -> None:
    listed = _ask(viewer, "GET", MESSAGES_PATH).json()

    assert listed["total"] == 2
    newest, oldest = listed["messages"]
    assert (newest["subject"], oldest["subject"]) == ("Invoice <b>42</b>", "Older note")
    assert newest["from"] == "Ann Lee <ann@example.com>"
    assert newest["mail_from"] == "bounces@example.com"
    assert newest["rcpt_tos"] == ["bob@example.org", "hidden@example.org"]
    assert newest["received_at"].startswith("1970-01-01T00:33:20")


@pytest.mark.parametrize(
    ("query", "subjects"),
    [
        ("q=invoice", ["Invoice <b>42</b>"]),
        ("q=CAROL", ["Older note"]),  # To, any case
        ("q=hidden%40example.org", ["Invoice <b>42</b>"]),  # an envelope-only recipient
        ("q=bounces", ["Invoice <b>42</b>", "Older note"]),  # MAIL FROM
        ("q=ann+note", ["Older note"]),  # every word, anywhere
        ("q=nobody", []),
        ("q=", ["Invoice <b>42</b>", "Older note"]),
    ],
)
def test_search(viewer: MailViewer, query: str, subjects: list[str]) -> None:
    assert _ids(viewer, query) == subjects


def test_limit(viewer: MailViewer) -> None:
    answer = _ask(viewer, "GET", MESSAGES_PATH, query="limit=1").json()
    assert (answer["total"], len(answer["messages"])) == (2, 1)
    assert _ask(viewer, "GET", MESSAGES_PATH, query="limit=0").status == 400
    assert _ask(viewer, "GET", MESSAGES_PATH, query="limit=x").status == 400


def test_an_empty_or_missing_folder_lists_nothing(tmp_path: Path) -> None:
    answer = _ask(MailViewer(tmp_path / "none yet"), "GET", MESSAGES_PATH)
    assert answer.json() == {"total": 0, "messages": []}


def test_a_message_without_its_envelope_yet_is_not_listed(folder: Path, viewer: MailViewer) -> None:
    (folder / "20990101T000000.000000Z-0001.eml").write_bytes(b"Subject: half written\r\n\r\n")
    assert "half written" not in _ids(viewer)


# --- one message -----------------------------------------------------------------------------


def test_a_message_taken_apart(viewer: MailViewer) -> None:
    message_id = _first_id(viewer)

    shown = _ask(viewer, "GET", f"{MESSAGES_PATH}/{message_id}").json()

    assert shown["subject"] == "Invoice <b>42</b>"
    assert shown["text"] == "Text of Invoice <b>42</b>.\n"
    assert shown["envelope"]["bcc"] == ["hidden@example.org"]
    assert shown["envelope"]["rcpt_tos"] == ["bob@example.org", "hidden@example.org"]
    assert {"name": "Subject", "value": "Invoice <b>42</b>"} in shown["headers"]
    assert shown["raw_url"] == f"{MESSAGES_PATH}/{message_id}/raw"
    assert shown["html_url"] == f"{MESSAGES_PATH}/{message_id}/html"
    pdf = next(part for part in shown["attachments"] if part["content_type"] == "application/pdf")
    assert pdf["filename"] == "invoice 42.pdf"
    assert pdf["inline"] is False
    assert pdf["size"] == len(b"%PDF-1.4 fake")
    logo = next(part for part in shown["attachments"] if part["content_id"] == "logo@example.com")
    assert logo["inline"] is True


def test_a_text_only_message_has_no_html_and_no_attachments(viewer: MailViewer) -> None:
    older = _ask(viewer, "GET", MESSAGES_PATH).json()["messages"][1]["id"]

    shown = _ask(viewer, "GET", f"{MESSAGES_PATH}/{older}").json()

    assert (shown["html"], shown["html_url"], shown["attachments"]) == (None, None, [])
    assert shown["envelope"]["bcc"] == []
    assert _ask(viewer, "GET", f"{MESSAGES_PATH}/{older}/html").status == 404


def test_the_html_body_is_served_under_a_policy_that_loads_nothing_remote(
    viewer: MailViewer,
) -> None:
    answer = _ask(viewer, "GET", f"{MESSAGES_PATH}/{_first_id(viewer)}/html")

    headers = dict(answer.headers)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == HTML_BODY_POLICY
    assert "default-src 'none'" in HTML_BODY_POLICY
    assert "sandbox" in HTML_BODY_POLICY
    document = answer.body.decode()
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in document  # the cid: image, inlined
    assert "cid:logo" not in document
    assert 'src="http://127.0.0.1:9/x.png"' in document  # left to the policy to block


def test_raw_is_the_eml_as_received_as_a_download(folder: Path, viewer: MailViewer) -> None:
    message_id = _first_id(viewer)

    answer = _ask(viewer, "GET", f"{MESSAGES_PATH}/{message_id}/raw")

    headers = dict(answer.headers)
    assert answer.body == (folder / f"{message_id}.eml").read_bytes()
    assert headers["Content-Type"] == "message/rfc822"
    assert headers["Content-Disposition"].startswith(f'attachment; filename="{message_id}.eml"')
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_attachment_is_a_download(viewer: MailViewer) -> None:
    message_id = _first_id(viewer)
    shown = _ask(viewer, "GET", f"{MESSAGES_PATH}/{message_id}").json()
    pdf = next(part for part in shown["attachments"] if part["content_type"] == "application/pdf")

    answer = _ask(viewer, "GET", pdf["url"])

    headers = dict(answer.headers)
    assert answer.body == b"%PDF-1.4 fake"
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"invoice_42.pdf\"; filename*=UTF-8''invoice%2042.pdf"
    )
    assert _ask(viewer, "GET", f"{MESSAGES_PATH}/{message_id}/attachments/9").status == 404


@pytest.mark.parametrize(
    "message_id", ["nope", "..%2F..%2Fstate", "../state", "20261204T182415.123456Z-0001"]
)
def test_no_such_message(viewer: MailViewer, message_id: str) -> None:
    for suffix in ("", "/raw", "/html", "/attachments/0"):
        assert _ask(viewer, "GET", f"{MESSAGES_PATH}/{message_id}{suffix}").status == 404


def test_a_symbolic_link_in_the_folder_is_no_message(
    folder: Path, viewer: MailViewer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("not mail")
    stem = "20991231T000000.000000Z-0001"
    (folder / f"{stem}.json").write_text('{"mail_from": "", "rcpt_tos": []}')
    (folder / f"{stem}.eml").symlink_to(secret)

    assert _ask(viewer, "GET", f"{MESSAGES_PATH}/{stem}/raw").status == 404


def test_ses_mail_shows_ses_s_message_id(tmp_path: Path) -> None:
    """What moto's SES accepted lands in the same folder, with SES's id in its envelope."""
    received = Received(
        mail_from="shop@example.com",
        rcpt_tos=["ann@example.com"],
        data=_mail("Through SES", to="ann@example.com").as_bytes(),
        tls=False,
        auth_login=None,
    )
    MailFolder(tmp_path / "mail").keep(received, provider_message_id="0100018c-ses-id")
    viewer = MailViewer(tmp_path / "mail")

    shown = _ask(viewer, "GET", f"{MESSAGES_PATH}/{_first_id(viewer)}").json()

    assert shown["subject"] == "Through SES"
    assert shown["envelope"]["provider_message_id"] == "0100018c-ses-id"


# --- deleting ---------------------------------------------------------------------------------


def test_delete_one_then_all(folder: Path, viewer: MailViewer) -> None:
    newest = _first_id(viewer)

    deleted = _ask(viewer, "DELETE", f"{MESSAGES_PATH}/{newest}", headers=DELETE_HEADERS)

    assert (deleted.status, deleted.json()) == (200, {"deleted": 1})
    assert not list(folder.glob(f"{newest}.*"))
    assert _ids(viewer) == ["Older note"]
    again = _ask(viewer, "DELETE", f"{MESSAGES_PATH}/{newest}", headers=DELETE_HEADERS)
    assert again.status == 404

    cleared = _ask(viewer, "DELETE", MESSAGES_PATH, headers=DELETE_HEADERS)

    assert cleared.json() == {"deleted": 1}
    assert list(folder.iterdir()) == []
    assert _ids(viewer) == []


# --- who may ask ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "hosts"),
    [
        ("GET", MESSAGES_PATH, {}, ["evil.example:3000"]),  # a DNS-rebound name
        ("GET", MESSAGES_PATH, {}, None),
        ("GET", MESSAGES_PATH, {}, ["127.0.0.1", "127.0.0.1"]),
        ("GET", MESSAGES_PATH, {"sec-fetch-site": "cross-site"}, ["127.0.0.1:3000"]),
        ("GET", MESSAGES_PATH, {"sec-fetch-site": "same-site"}, ["127.0.0.1:3000"]),
        ("GET", MESSAGES_PATH, {"origin": "http://evil.example"}, ["127.0.0.1:3000"]),
        ("GET", MESSAGES_PATH, {"origin": "null"}, ["127.0.0.1:3000"]),
        # Another site may link to the page, never frame it or read the API as a document.
        (
            "GET",
            VIEWER_PATH,
            {
                "sec-fetch-site": "cross-site",
                "sec-fetch-mode": "navigate",
                "sec-fetch-dest": "iframe",
            },
            ["127.0.0.1:3000"],
        ),
        (
            "GET",
            f"{MESSAGES_PATH}",
            {
                "sec-fetch-site": "cross-site",
                "sec-fetch-mode": "navigate",
                "sec-fetch-dest": "document",
            },
            ["127.0.0.1:3000"],
        ),
        ("DELETE", MESSAGES_PATH, {}, ["127.0.0.1:3000"]),  # without the viewer's header
        (
            "DELETE",
            MESSAGES_PATH,
            {**DELETE_HEADERS, "origin": "http://localhost:8080"},
            ["127.0.0.1:3000"],
        ),
        (
            "DELETE",
            MESSAGES_PATH,
            {**DELETE_HEADERS, "sec-fetch-site": "cross-site"},
            ["127.0.0.1:3000"],
        ),
    ],
)
def test_refused(
    folder: Path,
    viewer: MailViewer,
    method: str,
    path: str,
    headers: dict[str, str],
    hosts: list[str] | None,
) -> None:
    answer = _ask(viewer, method, path, headers=headers, hosts=hosts)

    assert answer.status == 403, answer.body
    assert len(list(folder.glob("*.json"))) == 2


@pytest.mark.parametrize(
    ("method", "path", "headers", "hosts"),
    [
        ("GET", MESSAGES_PATH, {}, ["127.0.0.1:3000"]),  # curl
        ("GET", MESSAGES_PATH, {"sec-fetch-site": "same-origin"}, ["localhost:3000"]),
        ("GET", MESSAGES_PATH, {"sec-fetch-site": "none"}, ["[::1]:3000"]),  # typed in
        (
            "GET",
            VIEWER_PATH,
            {
                "sec-fetch-site": "cross-site",
                "sec-fetch-mode": "navigate",
                "sec-fetch-dest": "document",
            },
            ["127.0.0.1:3000"],
        ),
        (
            "DELETE",
            MESSAGES_PATH,
            {**DELETE_HEADERS, "origin": "http://127.0.0.1:3000", "sec-fetch-site": "same-origin"},
            ["127.0.0.1:3000"],
        ),
    ],
)
def test_allowed(
    viewer: MailViewer,
    method: str,
    path: str,
    headers: dict[str, str],
    hosts: list[str] | None,
) -> None:
    assert _ask(viewer, method, path, headers=headers, hosts=hosts).status == 200


def test_the_page_and_its_files(viewer: MailViewer) -> None:
    page = _ask(viewer, "GET", VIEWER_PATH)
    headers = dict(page.headers)
    assert page.status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    # Everything it loads is served here: no CDN, no external fonts.
    assert b"http" not in page.body
    script = _ask(viewer, "GET", f"{VIEWER_PATH}/static/viewer.js")
    assert dict(script.headers)["Content-Type"] == "text/javascript; charset=utf-8"
    assert b"innerHTML" not in script.body
    assert _ask(viewer, "GET", f"{VIEWER_PATH}/static/viewer.css").status == 200
    assert _ask(viewer, "GET", f"{VIEWER_PATH}/static/../routes.py").status == 404
    assert _ask(viewer, "GET", f"{VIEWER_PATH}/elsewhere").status == 404


def test_a_wrong_method_gets_405(viewer: MailViewer) -> None:
    answer = _ask(viewer, "POST", MESSAGES_PATH)
    assert answer.status == 405
    assert dict(answer.headers)["Allow"] == "DELETE, GET, HEAD"
    assert _ask(viewer, "DELETE", VIEWER_PATH, headers=DELETE_HEADERS).status == 405
