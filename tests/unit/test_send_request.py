"""Parsing DreamFactory's send body: recipients, attachments, bodies, placeholders."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from core.addresses import Mailbox
from core.errors import InvalidRequest
from core.send_request import SendRequest, parse_send_request

BODY = {"body_text": "Hello"}
PAYLOAD = bytes(range(256)) * 3


def _parse(**body: Any) -> SendRequest:
    return parse_send_request({"to": "john@example.com", **BODY, **body})


def _refused(**body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        parse_send_request({**BODY, **body})
    return raised.value


# --- recipients -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("john@example.com", [Mailbox("john@example.com")], id="string"),
        pytest.param(
            ["john@example.com", "jane@example.com"],
            [Mailbox("john@example.com"), Mailbox("jane@example.com")],
            id="list-of-strings",
        ),
        pytest.param(
            {"email": "john@example.com", "name": "John Doe"},
            [Mailbox("john@example.com", "John Doe")],
            id="object",
        ),
        pytest.param(
            [{"email": "john@example.com", "name": " John "}, {"email": "jane@example.com"}],
            [Mailbox("john@example.com", "John"), Mailbox("jane@example.com")],
            id="list-of-objects",
        ),
        pytest.param(
            [{"email": "john@example.com", "name": None}, "jane@example.com"],
            [Mailbox("john@example.com"), Mailbox("jane@example.com")],
            id="mixed-list",
        ),
    ],
)
@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
def test_the_four_recipient_forms(field: str, value: Any, expected: list[Mailbox]) -> None:
    request = parse_send_request({field: value, **BODY})

    assert getattr(request, field) == expected


def test_domain_is_normalized_to_ascii() -> None:
    request = _parse(to="John@Bücher.Example")

    assert request.to == [Mailbox("John@xn--bcher-kva.example")]


@pytest.mark.parametrize(
    "value",
    [
        "not-an-address",
        "john@",
        "@example.com",
        "john@example..com",
        "jürgen@example.com",  # no SMTPUTF8: a non-ASCII local part cannot travel
        42,
        {"name": "No address"},
        {"email": 42},
        [["john@example.com"]],
    ],
)
def test_invalid_recipient(value: Any) -> None:
    error = _refused(to=value)

    assert (error.status, error.reason, error.context["field"]) == (400, "invalid_address", "to")


def test_invalid_address_message_matches_dreamfactory() -> None:
    assert _refused(cc="nope").message == "Invalid email - 'nope'."


def test_recipient_name_must_be_text() -> None:
    error = _refused(to={"email": "john@example.com", "name": 7})

    assert (error.reason, error.context["field"]) == ("invalid_request", "to")


@pytest.mark.parametrize("value", [None, [], ""])
def test_no_recipient(value: Any) -> None:
    body: dict[str, Any] = {"to": value} if value != "" else {}

    assert _refused(**body).reason == "no_recipient"


def test_bcc_alone_is_enough() -> None:
    assert parse_send_request({"bcc": "audit@example.com", **BODY}).bcc == [
        Mailbox("audit@example.com")
    ]


def test_envelope_recipients_are_to_cc_bcc_once_each() -> None:
    request = _parse(
        to=["john@example.com", "jane@example.com"],
        cc=["jane@example.com", "boss@Example.com"],
        bcc=["boss@example.com", "audit@example.com", "john@example.com"],
    )

    assert request.envelope_recipients() == [
        "john@example.com",
        "jane@example.com",
        "boss@example.com",
        "audit@example.com",
    ]


# --- sender fields ----------------------------------------------------------------------------


def test_sender_fields() -> None:
    request = _parse(
        from_email="billing@Example.com",
        from_name="Billing",
        reply_to_email="",
        reply_to_name=None,
    )

    assert (request.from_email, request.from_name) == ("billing@example.com", "Billing")
    assert (request.reply_to_email, request.reply_to_name) == (None, None)


@pytest.mark.parametrize("field", ["from_email", "reply_to_email"])
def test_invalid_sender_address(field: str) -> None:
    error = _refused(to="john@example.com", **{field: "not an address"})

    assert (error.reason, error.context["field"]) == ("invalid_address", field)


@pytest.mark.parametrize("field", ["subject", "from_name", "reply_to_name"])
@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n", "\u2028", "\x85", "\x0b"])
def test_line_breaks_in_header_fields(field: str, breaker: str) -> None:
    error = _refused(to="john@example.com", **{field: f"Hi{breaker}Bcc: victim@example.com"})

    assert (error.reason, error.context["field"]) == ("header_injection", field)


def test_line_breaks_in_a_recipient_name() -> None:
    error = _refused(to={"email": "john@example.com", "name": "John\r\nBcc: x@example.com"})

    assert (error.reason, error.context["field"]) == ("header_injection", "to")


# --- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"body_text": ""}, {"body_html": ""}, {"body_text": None, "body_html": None}],
)
def test_no_body(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_send_request({"to": "john@example.com", **body})

    assert raised.value.reason == "no_body"


def test_html_body_alone_is_enough() -> None:
    request = parse_send_request({"to": "john@example.com", "body_html": "<p>Hi</p>"})

    assert (request.body_text, request.body_html) == (None, "<p>Hi</p>")


@pytest.mark.parametrize("body", [None, [], "text", 3])
def test_body_must_be_an_object(body: Any) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_send_request(body)

    assert raised.value.status == 400


# --- attachments ------------------------------------------------------------------------------


def _attachment(**fields: Any) -> dict[str, Any]:
    return {"name": "data.bin", "content": base64.b64encode(PAYLOAD).decode(), **fields}


@pytest.mark.parametrize(
    "content",
    [
        base64.b64encode(PAYLOAD).decode(),
        base64.encodebytes(PAYLOAD).decode(),  # wrapped at 76 columns, "\n"
        base64.encodebytes(PAYLOAD).decode().replace("\n", "\r\n"),
        "  " + base64.b64encode(PAYLOAD).decode() + "\n",
    ],
    ids=["one-line", "wrapped-lf", "wrapped-crlf", "padded-with-whitespace"],
)
def test_base64_content_is_decoded(content: str) -> None:
    (attachment,) = _parse(attachments=[_attachment(content=content)]).attachments

    assert attachment.content == PAYLOAD


@pytest.mark.parametrize(
    "content",
    ["not base64!", "aGVsbG8", "aGVs bG8=!", "====", 12345, None, ["aGk="]],
)
def test_invalid_base64(content: Any) -> None:
    error = _refused(to="john@example.com", attachments=[_attachment(content=content)])

    assert (error.status, error.reason) == (400, "invalid_base64")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("application/pdf", "application/pdf"),
        ("Image/PNG", "image/png"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None),
        ("text/x-c++src", "text/x-c++src"),
    ],
)
def test_content_type(given: str | None, expected: str | None) -> None:
    fields = {} if given is None else {"content_type": given}

    (attachment,) = _parse(attachments=[_attachment(**fields)]).attachments

    assert attachment.content_type == (expected or given)


@pytest.mark.parametrize(
    "content_type",
    [
        "pdf",
        "application/",
        "/pdf",
        "text/plain; charset=utf-8",
        "multipart/mixed",
        "Message/rfc822",
        "téxt/plain",
        "text/plain x",
    ],
)
def test_invalid_content_type(content_type: str) -> None:
    error = _refused(to="john@example.com", attachments=[_attachment(content_type=content_type)])

    assert (error.status, error.context["field"]) == (400, "attachments.content_type")


def test_content_type_with_a_line_break() -> None:
    error = _refused(
        to="john@example.com", attachments=[_attachment(content_type="text/plain\r\nX-Evil: 1")]
    )

    assert error.reason == "header_injection"


@pytest.mark.parametrize("name", ["", None])
def test_attachment_needs_a_name(name: str | None) -> None:
    assert _refused(to="john@example.com", attachments=[_attachment(name=name)]).status == 400


def test_attachment_name_with_a_line_break() -> None:
    error = _refused(to="john@example.com", attachments=[_attachment(name="a\nb.txt")])

    assert (error.reason, error.context["field"]) == ("header_injection", "attachments.name")


# --- placeholders -----------------------------------------------------------------------------


def test_placeholder_values() -> None:
    request = _parse(
        subject="Order {order}",
        name="Ann",
        count=3,
        vip=True,
        ratio=0.5,
        nested={"ignored": "objects are not placeholders"},
        listed=["ignored"],
        template_data={"order": 42, "name": "Template wins", "empty": None},
    )

    # As DreamFactory does: every top-level string, the declared fields too; then
    # template_data, which wins.
    assert request.placeholder_values() == {
        "subject": "Order {order}",
        "body_text": BODY["body_text"],
        "name": "Template wins",
        "count": "3",
        "vip": "True",
        "ratio": "0.5",
        "order": "42",
        "empty": "",
    }


def test_template_data_must_hold_scalars_for_placeholders() -> None:
    error = _refused(to="john@example.com", template_data={"order": {"id": 1}})

    assert (error.status, error.reason) == (400, "invalid_template_data")
    assert error.context["field"] == "template_data.order"
    assert "jinja" in error.message


def test_template_data_may_hold_lists_and_objects_for_jinja() -> None:
    items = [{"name": "Tea", "qty": 2}]
    request = _parse(template_syntax="jinja", template_data={"items": items, "n": 3})

    assert request.template_values()["items"] == items
    assert request.template_values()["n"] == 3  # a number stays a number


def test_a_request_naming_a_template_leaves_the_check_to_the_templates_syntax() -> None:
    request = parse_send_request(
        {"template": "receipt", "template_data": {"items": [1, 2]}}, complete=False
    )

    assert request.template_data == {"items": [1, 2]}


def test_an_unknown_template_syntax_is_refused() -> None:
    error = _refused(to="john@example.com", template_syntax="mustache")

    assert error.status == 400


# --- tags -------------------------------------------------------------------------------------


def test_a_list_of_tags_labels_the_message() -> None:
    request = _parse(tags=["invoice", "n:42"])

    assert request.labels() == ["invoice", "n:42"]
    assert "tags" not in request.placeholder_values()


@pytest.mark.parametrize("value", ["spring sale", 3, True])
def test_a_top_level_tags_that_is_no_list_stays_a_placeholder_as_in_dreamfactory(
    value: str | int | bool,
) -> None:
    # A DreamFactory client knows no tags: for it, `tags` is one more placeholder value.
    request = _parse(body_text="Tagged {tags}", tags=value)

    assert request.labels() == []
    assert request.placeholder_values()["tags"] == str(value)


@pytest.mark.parametrize(
    "tags", [["bad tag"], ["x" * 65], [f"t{n}" for n in range(11)], [{"a": 1}]]
)
def test_bad_tags_are_refused(tags: list[Any]) -> None:
    refused = _refused(to="john@example.com", tags=tags)
    assert refused.context["errors"][0]["field"].startswith("tags"), refused.context
