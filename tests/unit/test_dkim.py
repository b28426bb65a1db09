"""DKIM's parts without a server: a key read and checked (and never quoted when refused), the
DNS record derived from it, the settings' syntax, and a signature that dkimpy verifies against
the public key served from memory."""

from __future__ import annotations

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization

from core.credentials import ServiceCredentials
from core.dkim.config import DkimInput, DkimSettings
from core.dkim.keys import UnusableKey, parse_key
from core.dkim.signing import RFC_6376_FIELDS, SES_REWRITTEN_FIELDS, MessageSigner, aligned
from core.errors import InvalidRequest
from tests.support.dkim_keys import (
    dns_answering,
    ed25519_key,
    encrypted_rsa_key,
    rsa_key,
    short_rsa_key,
)

SETTINGS = DkimSettings(domain="example.com", selector="mail2026")
MESSAGE = (
    b"From: Shop <shop@example.com>\r\n"
    b"To: john@example.org\r\n"
    b"Subject: Your order\r\n"
    b"Date: Fri, 04 Dec 2026 15:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"X-Campaign: spring\r\n"
    b"\r\n"
    b"Hello,\r\n"
    b".a line that SMTP will dot-stuff\r\n"
)


def _body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _verifies(signed: bytes, key_pem: str, settings: DkimSettings = SETTINGS) -> bool:
    record = parse_key(key_pem).dns_record_value()
    return bool(dkim.verify(signed, dnsfunc=dns_answering({settings.record_name: record})))


# --- the key -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pkcs8", [False, True], ids=["pkcs1", "pkcs8"])
def test_an_rsa_key_is_read_and_its_dns_record_carries_its_public_half(pkcs8: bool) -> None:
    pem = rsa_key(pkcs8=pkcs8)

    key = parse_key(pem)

    public = serialization.load_pem_private_key(pem.encode(), None).public_key()
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key.bits == 2048
    assert key.dns_record_value() == f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"


def test_a_key_pasted_with_windows_line_endings_and_spaces_is_read() -> None:
    pem = rsa_key()

    key = parse_key("  " + pem.replace("\n", " \r\n") + "\r\n")

    assert key.dns_record_value() == parse_key(pem).dns_record_value()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (ed25519_key(), "Ed25519"),
        (encrypted_rsa_key(), "encrypted"),
        (short_rsa_key(), "512 bits"),
        ("not a key", "not a PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a readable"),
        ("ключ", "ASCII"),
        ("-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 9000, "longer than"),
    ],
    ids=["ed25519", "encrypted", "short", "text", "garbage", "non-ascii", "huge"],
)
def test_an_unusable_key_is_refused_with_a_reason_that_quotes_none_of_it(
    text: str, says: str
) -> None:
    with pytest.raises(UnusableKey) as refused:
        parse_key(text)

    assert says in refused.value.message
    assert not any(line in refused.value.message for line in _body_lines(text) if len(line) > 8)


def test_a_key_damaged_in_pasting_is_refused() -> None:
    lines = rsa_key(bits=1024).splitlines()
    # The third line of base64 holds the modulus: a changed character there breaks the key.
    changed = lines[3][:10] + ("B" if lines[3][10] != "B" else "C") + lines[3][11:]
    damaged = "\n".join([*lines[:3], changed, *lines[4:]])

    with pytest.raises(UnusableKey, match="do not agree"):
        parse_key(damaged)


def test_a_key_is_never_in_a_repr() -> None:
    pem = rsa_key()
    given = DkimInput(domain="example.com", selector="s1", private_key=pem)
    shown = repr(given) + repr(parse_key(pem)) + repr(ServiceCredentials(dkim_private_key=pem))

    assert not any(line in shown for line in _body_lines(pem))


# --- the settings --------------------------------------------------------------------------------


def test_the_settings_are_kept_in_lower_case_without_the_key() -> None:
    given = DkimInput(domain="Mail.Example.COM", selector="Mail2026", private_key=rsa_key())

    assert given.stored() == DkimSettings(domain="mail.example.com", selector="mail2026")
    assert given.record_name == "mail2026._domainkey.mail.example.com"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "localhost"),
        ("domain", "example.com."),
        ("domain", "exa mple.com"),
        ("domain", "-example.com"),
        ("domain", "exämple.com"),
        ("selector", "s_1"),
        ("selector", "s1."),
        ("selector", ""),
        ("selector", "a;b"),
    ],
)
def test_a_bad_domain_or_selector_is_a_400_naming_it(field: str, value: str) -> None:
    settings = {"domain": "example.com", "selector": "s1", "private_key": rsa_key(), field: value}

    with pytest.raises(InvalidRequest) as refused:
        DkimInput.model_validate(settings)

    assert refused.value.reason == "invalid_dkim_settings"
    assert refused.value.context == {"field": f"config.dkim.{field}"}


def test_a_bad_key_is_a_400_naming_its_field() -> None:
    with pytest.raises(InvalidRequest) as refused:
        DkimInput(domain="example.com", selector="s1", private_key=ed25519_key())

    assert refused.value.reason == "invalid_dkim_key"
    assert refused.value.context == {"field": "config.dkim.private_key"}


def test_the_key_is_kept_in_the_secret_beside_the_password() -> None:
    credentials = ServiceCredentials(password="hunter2", dkim_private_key="-----BEGIN...")

    read = ServiceCredentials.from_secret_value(credentials.to_json())

    assert read == credentials
    assert not ServiceCredentials(dkim_private_key="k").logs_in
    assert not ServiceCredentials(dkim_private_key="k").empty


# --- signing -------------------------------------------------------------------------------------


def test_the_fields_signed_are_rfc_6376s_as_dkimpy_lists_them() -> None:
    assert {name.decode() for name in dkim.DKIM.SHOULD} == RFC_6376_FIELDS


def test_a_signature_is_relaxed_covers_the_fields_that_matter_and_verifies() -> None:
    pem = rsa_key()
    signer = MessageSigner(SETTINGS, parse_key(pem))

    signed = signer.sign(MESSAGE, sender="shop@example.com")

    assert signed.endswith(MESSAGE)
    field = signed[: -len(MESSAGE)].decode()
    assert field.startswith("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;")
    tags = dict(
        part.strip().split("=", 1)
        for part in "".join(field.split(":", 1)[1].split()).split(";")
        if part.strip()
    )
    assert tags["s"] == "mail2026"
    assert tags["h"].split(":") == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "from",
        "subject",
    ]
    assert _verifies(signed, pem)


def test_a_field_added_or_changed_after_signing_fails_verification() -> None:
    pem = rsa_key()
    signed = MessageSigner(SETTINGS, parse_key(pem)).sign(MESSAGE)
    field_end = len(signed) - len(MESSAGE)

    second_from = signed[:field_end] + b"From: ceo@example.com\r\n" + MESSAGE
    changed_subject = signed.replace(b"Subject: Your order", b"Subject: Your refund")

    assert not _verifies(second_from, pem)
    assert not _verifies(changed_subject, pem)
    assert not _verifies(signed, rsa_key(pkcs8=True))  # another key's record


def test_signing_for_ses_leaves_out_the_fields_ses_rewrites() -> None:
    pem = rsa_key()
    signer = MessageSigner(SETTINGS, parse_key(pem), unsigned=SES_REWRITTEN_FIELDS)

    signed = signer.sign(MESSAGE)
    rewritten = signed.replace(
        b"Message-ID: <1@example.com>", b"Message-ID: <0100abc@email.amazonses.com>"
    )

    assert b"message-id" not in signer.fields_to_sign(MESSAGE)
    assert b"date" not in signer.fields_to_sign(MESSAGE)
    assert _verifies(rewritten, pem)


def test_the_same_bytes_signed_twice_get_the_same_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = MessageSigner(SETTINGS, parse_key(rsa_key()))
    first = signer.sign(MESSAGE)
    monkeypatch.setattr("time.time", lambda: 4102444800.0)  # 2100: `t=` would differ

    assert signer.sign(MESSAGE) == first
    assert signer.sign(MESSAGE + b"more\r\n") != first + b"more\r\n"


def test_the_report_gives_the_dns_record_and_the_senders_alignment() -> None:
    pem = rsa_key()
    signer = MessageSigner(SETTINGS, parse_key(pem), unsigned=SES_REWRITTEN_FIELDS)

    report = signer.report("news@mail.example.com")

    assert report.record_name == "mail2026._domainkey.example.com"
    assert report.record_type == "TXT"
    assert report.record_value == parse_key(pem).dns_record_value()
    assert report.key_bits == 2048
    assert report.unsigned_fields == ["date", "message-id"]
    assert report.sender_aligned is True
    assert signer.report("shop@example.org").sender_aligned is False
    assert signer.report(None).sender_aligned is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("a@example.com", True),
        ("a@EXAMPLE.com", True),
        ("a@mail.example.com", True),
        ("a@badexample.com", False),
        ("a@example.org", False),
    ],
)
def test_alignment_is_the_domain_or_below_it(address: str, expected: bool) -> None:
    assert aligned(address, "example.com") is expected
