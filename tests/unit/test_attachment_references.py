"""What DreamFactory's `attachment` and `import_url` name: URLs checked for their form, base64
files checked as `attachments` are, and a 400 naming the field for anything else."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from core.attachments.fetch import FetchPolicy, media_type
from core.attachments.model import Attachment
from core.attachments.references import (
    MAX_REFERENCES,
    MAX_URL_LENGTH,
    InlineAttachment,
    Reference,
    parse_reference_fields,
    parse_references,
    parse_url,
)
from core.errors import InvalidRequest
from core.network.destination import DestinationPolicy
from core.settings import get_settings

PDF = base64.b64encode(b"%PDF-1.7 ...").decode()


def urls(field: str, value: Any, *, allow_http: bool | None = False) -> list[str]:
    entries = parse_references(field, value, allow_http=allow_http)
    assert all(isinstance(entry, Reference) for entry in entries)
    return [entry.full_url for entry in entries if isinstance(entry, Reference)]


def refusal(field: str, value: Any, *, allow_http: bool = False) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        parse_references(field, value, allow_http=allow_http)
    return raised.value


# --- the forms DreamFactory takes ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["attachment", "import_url"])
@pytest.mark.parametrize(
    "value",
    [
        "https://files.example.com/a.pdf,https://files.example.com/b.pdf",
        " https://files.example.com/a.pdf , https://files.example.com/b.pdf ",
        ["https://files.example.com/a.pdf", "https://files.example.com/b.pdf"],
    ],
)
def test_a_string_a_comma_separated_string_or_a_list(field: str, value: Any) -> None:
    assert urls(field, value) == [
        "https://files.example.com/a.pdf",
        "https://files.example.com/b.pdf",
    ]


@pytest.mark.parametrize("value", [None, "", []])
def test_nothing_names_nothing(value: Any) -> None:
    assert parse_references("attachment", value) == []


def test_a_reference_knows_its_parts_and_hides_its_query() -> None:
    [reference] = parse_references(
        "import_url", "HTTPS://Files.Example.COM:8443/dir/Q1%20report.pdf?sig=s3cret#page=2"
    )

    assert reference == Reference(
        field="import_url",
        scheme="https",
        host="files.example.com",
        port=8443,
        path="/dir/Q1%20report.pdf",
        query="sig=s3cret",
    )
    assert isinstance(reference, Reference)
    assert reference.target == "/dir/Q1%20report.pdf?sig=s3cret"
    assert reference.redacted == "https://files.example.com:8443/dir/Q1%20report.pdf"
    assert reference.filename == "Q1 report.pdf"
    assert "s3cret" not in repr(reference)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://x.example/a/b/invoice.pdf", "invoice.pdf"),
        ("https://x.example/", "attachment"),
        ("https://x.example", "attachment"),
        ("https://x.example/files/", "attachment"),
        ("https://x.example/r%C3%A9sum%C3%A9.pdf", "résumé.pdf"),
        ("https://x.example/a%2F..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("https://x.example/evil%0D%0ABcc:x.pdf", "evilBcc_x.pdf"),
        ("https://x.example/invoice%E2%80%AEfdp.exe", "invoicefdp.exe"),
        ("https://x.example/..hidden", "hidden"),
        ("https://x.example/ü.pdf", "ü.pdf"),
    ],
)
def test_the_file_is_named_by_the_paths_last_segment_made_safe(url: str, name: str) -> None:
    [reference] = parse_references("attachment", url)

    assert isinstance(reference, Reference)
    assert reference.filename == name


def test_non_ascii_is_percent_encoded_and_names_become_idna() -> None:
    [reference] = parse_references("attachment", "https://bücher.example/ü.pdf?q=ä")

    assert isinstance(reference, Reference)
    assert reference.full_url == "https://xn--bcher-kva.example/%C3%BC.pdf?q=%C3%A4"


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
        ("[::1]", "::1"),
    ],
)
def test_ip_literals_are_read_in_every_spelling(host: str, canonical: str) -> None:
    [reference] = parse_references("attachment", f"https://{host}/f")

    assert isinstance(reference, Reference)
    assert reference.host == canonical


# --- inline files -------------------------------------------------------------------------------


def test_inline_files_in_attachment_are_checked_as_attachments_are() -> None:
    given = {"name": "../../q1.pdf", "content": PDF, "content_type": "Application/PDF"}

    [entry] = parse_references("attachment", [given, "https://x.example/b.pdf"])[:1]

    assert isinstance(entry, InlineAttachment)
    assert entry.model_dump() == Attachment.model_validate(given).model_dump()
    assert (entry.name, entry.content_type) == ("q1.pdf", "application/pdf")


def test_a_single_inline_object_is_a_list_of_one() -> None:
    [entry] = parse_references("attachment", {"name": "a.txt", "content": "aGk="})

    assert isinstance(entry, InlineAttachment)
    assert entry.content == b"hi"


@pytest.mark.parametrize(
    ("item", "reason", "field"),
    [
        ({"name": "a.pdf", "content": "not base64!"}, "invalid_base64", "attachment.0"),
        ({"name": "a\r\nBcc: x", "content": PDF}, "header_injection", "attachment.0"),
        ({"content": PDF}, "invalid_attachment", "attachment.0"),
        (
            {"name": "a", "content": PDF, "content_type": "text/html\nX: y"},
            "header_injection",
            "attachment.0",
        ),
        (
            {"name": "a", "content": PDF, "content_type": "multipart/mixed"},
            "invalid_request",
            "attachment.0",
        ),
    ],
)
def test_a_bad_inline_file_is_refused_naming_its_entry(
    item: dict[str, Any], reason: str, field: str
) -> None:
    error = refusal("attachment", [item])

    assert error.context["field"] == field
    assert error.reason == reason
    assert field in error.message


def test_inline_files_are_not_taken_in_import_url() -> None:
    error = refusal("import_url", [{"name": "a.pdf", "content": PDF}])

    assert (error.reason, error.context) == (
        "invalid_attachment_reference",
        {"field": "import_url"},
    )


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (42, "invalid_attachment_reference"),
        (True, "invalid_attachment_reference"),
        ([42], "invalid_attachment_reference"),
        ([["https://x.example/a"]], "invalid_attachment_reference"),
        ({"url": "https://x.example/a"}, "invalid_attachment_reference"),
        ({"service": "files", "path": "docs/a.pdf"}, "attachment_storage_unsupported"),
        ([{"service": "files", "path": "docs/a.pdf"}], "attachment_storage_unsupported"),
        ("https://x.example/a.pdf,", "invalid_attachment_reference"),
        ("https://x.example/a.pdf,,https://x.example/b.pdf", "invalid_attachment_reference"),
        (["  "], "invalid_attachment_reference"),
        ("http://x.example/a.pdf", "attachment_scheme_forbidden"),
        ("ftp://x.example/a.pdf", "attachment_scheme_forbidden"),
        ("file:///etc/passwd", "attachment_scheme_forbidden"),
        ("gopher://x.example:6379/_FLUSHALL", "attachment_scheme_forbidden"),
        ("data:text/plain;base64,aGk=", "attachment_scheme_forbidden"),
        ("//x.example/a.pdf", "attachment_scheme_forbidden"),
        ("x.example/a.pdf", "attachment_scheme_forbidden"),
        ("https://user:pw@x.example/a.pdf", "attachment_userinfo_forbidden"),
        ("https://x.example\\@169.254.169.254/", "attachment_userinfo_forbidden"),
        ("https://@x.example/a.pdf", "attachment_userinfo_forbidden"),
        ("https:///a.pdf", "invalid_attachment_reference"),
        ("https:x.example/a.pdf", "invalid_attachment_reference"),
        ("https://x.example:0/a", "invalid_attachment_reference"),
        ("https://x.example:99999/a", "invalid_attachment_reference"),
        ("https://x.example:https/a", "invalid_attachment_reference"),
        ("https://[::1/a", "invalid_attachment_reference"),
        ("https://[x.example]/a", "invalid_attachment_reference"),
        ("https://-bad-.example/a", "invalid_attachment_reference"),
        ("https://x.example/a b.pdf", "invalid_attachment_reference"),
        ("https://x.example/a\tb.pdf", "invalid_attachment_reference"),
        ("https://x.example/a.pdf\r\nHost: evil", "invalid_attachment_reference"),
        ("https://x.example/\u202egpj.exe", "invalid_attachment_reference"),
        ("https://x.example/" + "a" * MAX_URL_LENGTH, "invalid_attachment_reference"),
    ],
)
@pytest.mark.parametrize("field", ["attachment", "import_url"])
def test_anything_else_is_a_400_naming_the_field(field: str, value: Any, reason: str) -> None:
    error = refusal(field, value)

    assert error.status == 400
    assert error.reason == reason
    assert error.context == {"field": field}
    assert f"'{field}'" in error.message


def test_plain_http_only_when_allowed() -> None:
    assert urls("attachment", "http://x.example/a.pdf", allow_http=True) == [
        "http://x.example/a.pdf"
    ]
    assert "not allowed plain http" in refusal("attachment", "http://x.example/a.pdf").message


def test_the_allowance_for_http_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTACHMENT_FETCH_ALLOW_HTTP", "true")
    get_settings.cache_clear()
    try:
        assert urls("attachment", "http://x.example/a.pdf", allow_http=None) == [
            "http://x.example/a.pdf"
        ]
    finally:
        get_settings.cache_clear()


def test_refusals_show_no_query_and_no_credentials() -> None:
    for value in (
        "ftp://u:hunter2@x.example/a?sig=s3cret",
        "https://u:hunter2@x.example/?sig=s3cret",
    ):
        error = refusal("attachment", value)
        assert "s3cret" not in error.message
        assert "hunter2" not in error.message


def test_at_most_ten_urls_a_field() -> None:
    many = [f"https://x.example/{n}.pdf" for n in range(MAX_REFERENCES + 1)]

    assert len(parse_references("attachment", many[:-1])) == MAX_REFERENCES
    error = refusal("import_url", ",".join(many))
    assert error.reason == "too_many_attachment_references"
    assert error.context == {"field": "import_url", "count": 11, "limit": MAX_REFERENCES}


def test_at_most_ten_urls_a_message_both_fields_together() -> None:
    six = [f"https://x.example/{n}.pdf" for n in range(6)]

    with pytest.raises(InvalidRequest) as raised:
        parse_reference_fields({"attachment": six, "import_url": six})

    assert raised.value.reason == "too_many_attachment_references"
    assert raised.value.context["count"] == 12


def test_both_fields_attachment_first() -> None:
    entries = parse_reference_fields(
        {
            "import_url": "https://x.example/2.pdf",
            "attachment": ["https://x.example/1.pdf", {"name": "3.txt", "content": "aGk="}],
            "subject": "ignored",
        }
    )

    assert [(type(entry).__name__, getattr(entry, "field", None)) for entry in entries] == [
        ("Reference", "attachment"),
        ("InlineAttachment", None),
        ("Reference", "import_url"),
    ]


def test_a_field_that_is_not_one_of_the_two_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not a reference field"):
        parse_url("attachments", "https://x.example/a", allow_http=False)


# --- the fetch policy and the content type ------------------------------------------------------


def test_the_fetch_policy_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTACHMENT_FETCH_ALLOW_LOOPBACK", raising=False)
    monkeypatch.setenv("MAX_MESSAGE_BYTES", "1000000")
    get_settings.cache_clear()
    try:
        policy = FetchPolicy.from_settings(get_settings())
    finally:
        get_settings.cache_clear()

    assert policy == FetchPolicy(
        destinations=DestinationPolicy(
            allow_loopback=False, allow_private=False, ports=frozenset({443})
        ),
        allow_http=False,
        timeout_seconds=10.0,
        max_bytes=1_000_000,
        total_bytes=1_000_000,
        ca_file="",
    )
    assert policy == FetchPolicy(max_bytes=1_000_000, total_bytes=1_000_000)


@pytest.mark.parametrize(
    ("variables", "ports", "loopback", "private", "max_bytes"),
    [
        ({"ATTACHMENT_FETCH_ALLOW_HTTP": "true"}, frozenset({443, 80}), False, False, 5242880),
        ({"ATTACHMENT_FETCH_ALLOW_LOOPBACK": "true"}, None, True, False, 5242880),
        ({"ATTACHMENT_FETCH_ALLOW_PRIVATE": "true"}, frozenset({443}), False, True, 5242880),
        # The names that relax webhooks too; the attachment names above still work.
        ({"OUTBOUND_ALLOW_HTTP": "true"}, frozenset({443, 80}), False, False, 5242880),
        ({"OUTBOUND_ALLOW_LOOPBACK": "true"}, None, True, False, 5242880),
        ({"OUTBOUND_ALLOW_PRIVATE": "true"}, frozenset({443}), False, True, 5242880),
        ({"ATTACHMENT_FETCH_MAX_BYTES": "1024"}, frozenset({443}), False, False, 1024),
        ({"ATTACHMENT_FETCH_MAX_BYTES": ""}, frozenset({443}), False, False, 5242880),
    ],
)
def test_each_setting_moves_its_part_of_the_policy(
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    ports: frozenset[int] | None,
    loopback: bool,
    private: bool,
    max_bytes: int,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        policy = FetchPolicy.from_settings(get_settings())
    finally:
        get_settings.cache_clear()

    assert policy.destinations == DestinationPolicy(
        allow_loopback=loopback, allow_private=private, ports=ports
    )
    assert policy.max_bytes == max_bytes


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/pdf", "application/pdf"),
        ('Application/PDF; name="a.pdf"', "application/pdf"),
        ("image/svg+xml", "image/svg+xml"),
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("pdf", "application/octet-stream"),
        ("multipart/mixed; boundary=x", "application/octet-stream"),
        ("message/rfc822", "application/octet-stream"),
        ("text/plain\r\nBcc: x", "application/octet-stream"),
        ("tëxt/plain", "application/octet-stream"),
    ],
)
def test_the_content_type_is_a_bare_media_type_or_octet_stream(
    header: str | None, expected: str
) -> None:
    assert media_type(header) == expected
