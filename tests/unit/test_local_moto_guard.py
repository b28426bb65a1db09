"""What moto's port lets through to moto, and what it lets out: `LocalSdksOnly` in front of an
app that answers as flask-cors would, granting every origin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from local_stack.moto_server import LocalSdksOnly
from local_stack.wsgi import StartResponse

SIGNED = "AWS4-HMAC-SHA256 Credential=local/20261204/us-east-1/sqs/aws4_request, Signature=0"


class _GrantsEveryOrigin:
    """An app that answers 200 with the CORS headers moto's flask-cors adds, and counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.calls += 1
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/x-amz-json-1.0"),
                ("Access-Control-Allow-Origin", "https://evil.example"),
                ("access-control-allow-headers", "authorization,x-amz-target"),
                ("Access-Control-Expose-Headers", "*"),
            ],
        )
        return [b"{}"]


def test_a_signed_request_is_served_without_cors_headers() -> None:
    app = _GrantsEveryOrigin()

    answer = Client(LocalSdksOnly(app, "local")).post(
        "/", headers={"Host": "127.0.0.1:5005", "Authorization": SIGNED}
    )

    assert (answer.status_code, app.calls) == (200, 1)
    assert [name for name, _ in answer.headers.items() if name.lower().startswith("access-")] == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Host": "evil.example:5005", "Authorization": SIGNED}, "loopback Host"),
        ({"Authorization": SIGNED, "Origin": "null"}, "browsers (Origin)"),
        ({"Authorization": SIGNED, "Sec-Fetch-Site": "same-site"}, "browsers (Sec-Fetch-Site)"),
        ({}, "AWS4-HMAC-SHA256 Authorization"),
        ({"Authorization": "Bearer local"}, "AWS4-HMAC-SHA256 Authorization"),
        ({"Authorization": SIGNED.replace("local/", "AKIA0/")}, "access key id ('local')"),
    ],
)
def test_anything_else_is_refused_before_moto(headers: dict[str, str], reason: str) -> None:
    app = _GrantsEveryOrigin()

    answer = Client(LocalSdksOnly(app, "local")).post(
        "/", headers={"Host": "localhost:5005", **headers}
    )

    assert (answer.status_code, app.calls) == (403, 0)
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    body = answer.get_json(force=True)
    assert body["__type"] == "AccessDeniedException"
    assert reason in body["message"]
