"""`mailer suppression list|add|remove` against the API's own handlers (moto behind them)."""

from __future__ import annotations

import http.client
import io
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from mailer_cli.main import main
from tests.support.api import ADMIN_KEY, call_api

pytestmark = pytest.mark.usefixtures("aws")

URL = "http://api.invalid"


def through_the_api(request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
    """An opener for the CLI: the request (query string and all) as `call_api` makes it."""
    data = request.data
    assert data is None or isinstance(data, bytes)
    parts = urlsplit(request.full_url)
    answer = call_api(
        request.get_method(),
        parts.path,
        json.loads(data) if data else None,
        api_key=request.get_header("X-dreamfactory-api-key"),
        query=parts.query,
    )
    content = json.dumps(answer.body).encode()
    if answer.status >= 400:
        raise urllib.error.HTTPError(
            request.full_url, answer.status, "", http.client.HTTPMessage(), io.BytesIO(content)
        )
    return io.BytesIO(content)


def mailer(*argv: str) -> tuple[int, object, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        [*argv, "--url", URL, "--api-key", ADMIN_KEY, "--json"],
        stdout=out,
        stderr=err,
        opener=through_the_api,
    )
    return status, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def test_an_address_is_added_listed_and_removed() -> None:
    added = mailer("suppression", "add", "gone@example.com", "--reason", "complaint")
    mailer("suppression", "add", "other@example.com")

    assert added[0] == 0, added[2]
    status, page, _ = mailer("suppression", "list", "--reason", "complaint", "--limit", "5")
    assert status == 0
    assert isinstance(page, dict)
    assert [entry["email"] for entry in page["resource"]] == ["gone@example.com"]

    removed = mailer("suppression", "remove", "gone@example.com")
    again = mailer("suppression", "remove", "gone@example.com")

    assert removed[:2] == (0, {"email": "gone@example.com", "scope": "*"})
    assert again[0] == 1
    assert "suppression_not_found" in again[2]
    listed = call_api("GET", "/api/v2/system/suppression").body["resource"]
    assert [entry["email"] for entry in listed] == ["other@example.com"]
