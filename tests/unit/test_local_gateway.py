"""The local gateway's pure checks: what the Invoke API takes, body lengths, log redaction."""

from __future__ import annotations

import pytest

from local_stack.gateway import (
    MAX_BODY_BYTES,
    declared_length,
    is_invoke_content_type,
    redact_query_secrets,
)

# --- Content-Type: JSON or none, never what a page sends without a preflight -------------------


@pytest.mark.parametrize(
    "types",
    [
        None,
        [],
        ["application/json"],
        ["Application/JSON; charset=utf-8"],
        ["application/octet-stream"],
    ],
)
def test_invocation_content_types(types: list[str] | None) -> None:
    assert is_invoke_content_type(types)


@pytest.mark.parametrize(
    "types",
    [
        ["text/plain"],
        ["text/plain;charset=UTF-8"],
        ["application/x-www-form-urlencoded"],
        ["multipart/form-data; boundary=----x"],
        ["text/html"],
        ["application/json", "text/plain"],
    ],
)
def test_browser_content_types(types: list[str]) -> None:
    assert not is_invoke_content_type(types)


# --- Content-Length ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "length"),
    [
        (None, 0),
        ([], 0),
        (["0"], 0),
        (["17"], 17),
        ([" 42 "], 42),
        ([str(MAX_BODY_BYTES + 1)], MAX_BODY_BYTES + 1),
    ],
)
def test_declared_length(values: list[str] | None, length: int) -> None:
    assert declared_length(values) == length


@pytest.mark.parametrize(
    "values", [[""], ["ten"], ["-1"], ["+5"], ["1e3"], ["5, 5"], ["5", "5"], ["٣"], ["0x10"]]
)
def test_invalid_declared_length(values: list[str]) -> None:
    with pytest.raises(ValueError, match="Content-Length"):
        declared_length(values)


def test_the_cap_is_api_gateway_s_10_mb() -> None:
    assert MAX_BODY_BYTES == 10_485_760


# --- the log -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            '"GET /api/v2/email?api_key=s3cret HTTP/1.1" 200 -',
            '"GET /api/v2/email?api_key=*** HTTP/1.1" 200 -',
        ),
        (
            "GET /x?page=2&API_KEY=a&X-Amz-Signature=b&access_token=c&Password=d&mySecretThing=e",
            "GET /x?page=2&API_KEY=***&X-Amz-Signature=***&access_token=***&Password=***"
            "&mySecretThing=***",
        ),
        ("GET /x?api%5Fkey=a&api+key=b;token=c#f", "GET /x?api%5Fkey=***&api+key=***;token=***#f"),
        ("GET /x?api_key=&q=1", "GET /x?api_key=***&q=1"),
        # The closing quote goes with the value: better than a value with a quote cut short.
        ("Bad request version ('/x?key=abc')", "Bad request version ('/x?key=***"),
        # Nothing named like a credential: left as it was, path segments included.
        ("GET /api/v2/system/api_key/k-1?fields=role HTTP/1.1", None),
        ("GET /monkey=1?donkey HTTP/1.1", None),
    ],
)
def test_query_secrets_are_redacted(line: str, shown: str | None) -> None:
    assert redact_query_secrets(line) == (line if shown is None else shown)
