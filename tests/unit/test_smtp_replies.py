"""The provider's id for a message, read from the SMTP server's final reply."""

from __future__ import annotations

import pytest

from core.transport.smtp.replies import provider_message_id

SES_ID = "0100018c5a7e1234-abcdef12-3456-7890-abcd-ef1234567890-000000"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param("250 2.0.0 Ok: queued as 4ZxYz1AbcDz", "4ZxYz1AbcDz", id="postfix"),
        pytest.param(f"250 Ok {SES_ID}", SES_ID, id="ses-smtp"),
        pytest.param(
            "250 2.0.0 OK <AM0PR01MB1234.eurprd01.prod.outlook.com@example.com>"
            " [Hostname=AM0PR01MB1234.eurprd01.prod.outlook.com]",
            "AM0PR01MB1234.eurprd01.prod.outlook.com@example.com",
            id="exchange",
        ),
        pytest.param(
            "250 2.0.0 OK  1701234567 a1-20020a17090a000100b00286a8e4a9e1si1234567pjb.123 - gsmtp",
            "a1-20020a17090a000100b00286a8e4a9e1si1234567pjb.123",
            id="gmail",
        ),
        pytest.param(
            "250 2.0.0 OK 1701234567 a1-20020a05600c1234gsmtp",
            "a1-20020a05600c1234gsmtp",
            id="gmail-token-ending-in-gsmtp",
        ),
        pytest.param("250 2.0.0 Ok: queued as 4Zx\nsecond line", "4Zx", id="multi-line"),
    ],
)
def test_the_id_in_each_servers_shape(reply: str, expected: str) -> None:
    assert provider_message_id(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "250 2.0.0 OK: queued",
        "250 OK",
        "250 Ok not-an-ses-id",
        "250 2.0.0 OK <no-at-sign>",
        "250 2.0.0 OK 1701234567 token-without-the-mark",
        "550 5.7.1 rejected; would have been queued as 4Zx",
        "",
        "250 queued as ",
    ],
)
def test_odd_replies_name_no_id(reply: str) -> None:
    assert provider_message_id(reply) is None
