"""The local stack under attack: what a web page, a rebound DNS name or a forging caller gets.

Lambda's Invoke API has no authentication locally (in AWS, IAM guards it), so it lives on its
own loopback port and answers only clients that are plainly not a browser: a loopback `Host`
(no DNS rebinding), no `Origin` or `Sec-Fetch-*`, and no content type a page may send without
a preflight. moto's port, which holds every secret, shares that rule and also wants a request
signed with the stack's access key id.
Neither port reads a body over API Gateway's 10 MB, and no log line shows a key from a query.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import pytest

from local_stack.apigateway import MatchedRoute, rest_api_event
from tests.support.api import ApiResponse
from tests.support.events import EVENTS_API_KEY, load_event
from tests.support.stack_process import RunningStack

INVOKE_PATH = "/2015-03-31/functions/InvokeFunction/invocations"
# API Gateway's payload limit; one byte more is refused from the Content-Length alone.
MAX_BODY_BYTES = 10 * 1024 * 1024
ADMIN_KEYS_PATH = "/api/v2/system/api_key"


def _exchange(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
) -> ApiResponse:
    """One request with exactly these headers (http.client adds no Host, length or type)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        answer = connection.getresponse()
        content = answer.read()
        return ApiResponse(
            answer.status, dict(answer.getheaders()), json.loads(content) if content else None
        )
    finally:
        connection.close()


def _invoke(
    stack: RunningStack,
    headers: dict[str, str],
    body: bytes = b"{}",
    *,
    host: str | None = "127.0.0.1:{port}",
) -> ApiResponse:
    """POST to the Invoke API with `host` as Host ({port}: the invoke port; None: no Host)."""
    sent = {"Host": host.format(port=stack.invoke_port)} if host is not None else {}
    sent.update(headers)
    sent.setdefault("Content-Length", str(len(body)))
    return _exchange(stack.invoke_port, "POST", INVOKE_PATH, sent, body)


def _mail(stack: RunningStack) -> list[str]:
    return sorted(path.name for path in stack.mail_dir.glob("*.eml"))


def _send_payload() -> bytes:
    return json.dumps(load_event("invoke-send.json")).encode()


def _raw_head_only(port: int, head: str) -> bytes:
    """Send a request head (no body follows) and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head.encode())
        received = b""
        # A server that waits for the announced body never answers: the timeout fails the test.
        while chunk := connection.recv(65536):
            received += chunk
    return received


# --- the Invoke API has its own port --------------------------------------------------------


def test_the_api_port_no_longer_serves_the_invoke_api(stack: RunningStack) -> None:
    before = _mail(stack)

    answer = stack.request(
        "POST",
        INVOKE_PATH,
        body=_send_payload(),
        headers={"Content-Type": "application/json"},
    )
    unknown = stack.request("POST", "/no/such/route", body=b"{}")

    # API Gateway's own answer for any path outside the API's routes, as the template shapes it.
    assert (answer.status, answer.body) == (unknown.status, unknown.body)
    assert answer.reason == "route_not_found"
    assert _mail(stack) == before


def test_boto3_invokes_on_the_invoke_port(stack: RunningStack) -> None:
    # boto3 labels the payload with no Content-Type at all; that is what must keep working.
    answer = stack.lambda_client().invoke(FunctionName="InvokeFunction", InvocationType="DryRun")

    assert answer["StatusCode"] == 204


# --- only non-browser callers on loopback ---------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "localhost.evil.example",
        "127.0.0.1@evil.example",
        None,  # no Host at all: nothing says the caller meant loopback
    ],
)
def test_a_foreign_host_header_is_refused(stack: RunningStack, host: str | None) -> None:
    before = _mail(stack)

    answer = _invoke(stack, {"Content-Type": "application/json"}, _send_payload(), host=host)

    assert answer.status == 403, answer.body
    assert "Host" in answer.body["message"]
    assert _mail(stack) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:{port}", "[::1]:{port}", "LOCALHOST"])
def test_loopback_host_headers_are_served(stack: RunningStack, host: str) -> None:
    answer = _invoke(stack, {"X-Amz-Invocation-Type": "DryRun"}, host=host)

    assert answer.status == 204


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:3000"])
def test_any_origin_header_is_refused(stack: RunningStack, origin: str) -> None:
    before = _mail(stack)

    answer = _invoke(stack, {"Origin": origin, "Content-Type": "application/json"}, _send_payload())

    assert answer.status == 403, answer.body
    assert "Origin" in answer.body["message"]
    assert _mail(stack) == before


@pytest.mark.parametrize(
    "fetch_metadata",
    [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}],
)
def test_fetch_metadata_is_refused(stack: RunningStack, fetch_metadata: dict[str, str]) -> None:
    """What a browser adds to every request to 127.0.0.1, with or without Origin."""
    before = _mail(stack)

    answer = _invoke(stack, {**fetch_metadata, "Content-Type": "application/json"}, _send_payload())

    assert answer.status == 403, answer.body
    assert "browsers" in answer.body["message"]
    assert _mail(stack) == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "TEXT/PLAIN",
    ],
)
def test_a_browser_s_simple_content_types_are_refused(
    stack: RunningStack, content_type: str
) -> None:
    before = _mail(stack)

    answer = _invoke(stack, {"Content-Type": content_type}, _send_payload())

    assert answer.status == 415, answer.body
    assert answer.headers["x-amzn-ErrorType"] == "UnsupportedMediaTypeException"
    assert _mail(stack) == before


def test_json_content_type_is_served(stack: RunningStack) -> None:
    answer = _invoke(
        stack,
        {"Content-Type": "application/json; charset=utf-8", "X-Amz-Invocation-Type": "DryRun"},
    )

    assert answer.status == 204


# --- the API function believes only the gateway's authorizer ----------------------------------


def _forged_admin_event(body: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway event for `POST /api/v2/system/api_key` with no key, claiming that the
    authorizer vouched for the bootstrap admin."""
    event = rest_api_event(
        "POST",
        ADMIN_KEYS_PATH,
        headers={"Content-Type": "application/json"},
        body=json.dumps(body),
        route=MatchedRoute(ADMIN_KEYS_PATH, {}),
    )
    event["requestContext"]["authorizer"] = {
        "principalId": "bootstrap",
        "key_id": "bootstrap",
        "role": "bootstrap-admin",
    }
    return event


def test_a_forged_authorizer_context_is_ignored(stack: RunningStack) -> None:
    admin = {"X-DreamFactory-API-Key": stack.admin_key, "Content-Type": "application/json"}
    role = {"name": "invoke-forgery", "services": ["email"]}
    created_role = stack.request(
        "POST", "/api/v2/system/role", body=json.dumps(role), headers=admin
    )
    assert created_role.status == 201, created_role.body
    label = "forged through the Invoke API"

    answer = stack.lambda_client().invoke(
        FunctionName="ApiFunction",
        Payload=json.dumps(_forged_admin_event({"label": label, "role": role["name"]})).encode(),
    )

    assert answer["StatusCode"] == 200
    result = json.loads(answer["Payload"].read())
    assert result["statusCode"] == 401, result
    assert json.loads(result["body"])["error"]["reason"] == "unauthorized"
    keys = stack.request("GET", ADMIN_KEYS_PATH, headers=admin)
    assert keys.status == 200
    assert label not in [key["label"] for key in keys.body["resource"]]


# --- bodies over API Gateway's 10 MB ------------------------------------------------------------


@pytest.mark.parametrize("which", ["api", "invoke"])
def test_a_body_over_10_mb_is_refused_unread(stack: RunningStack, which: str) -> None:
    port, path = (
        (stack.api_port, "/api/v2/email") if which == "api" else (stack.invoke_port, INVOKE_PATH)
    )
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"X-DreamFactory-API-Key: {stack.admin_key}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    )

    received = _raw_head_only(port, head)

    status_line, _, rest = received.partition(b"\r\n")
    assert status_line.split()[1] == b"413", received[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {"message": "Request Too Long"}


@pytest.mark.parametrize("which", ["api", "invoke"])
@pytest.mark.parametrize("length", ["ten", "-1", "1e3", "5, 6"])
def test_an_invalid_content_length_is_400(stack: RunningStack, which: str, length: str) -> None:
    port, path = (
        (stack.api_port, "/api/v2/email") if which == "api" else (stack.invoke_port, INVOKE_PATH)
    )
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": "application/json",
        "Content-Length": length,
    }

    answer = _exchange(port, "POST", path, headers)

    assert answer.status == 400, answer.body
    assert "Content-Length" in answer.body["message"]


def test_no_content_length_is_an_empty_body(stack: RunningStack) -> None:
    # HTTP/1.1: a request with neither Content-Length nor Transfer-Encoding has no body.
    answer = _exchange(
        stack.invoke_port,
        "POST",
        INVOKE_PATH,
        {"Host": f"127.0.0.1:{stack.invoke_port}", "X-Amz-Invocation-Type": "DryRun"},
    )

    assert answer.status == 204


# --- keys in query strings stay out of the log --------------------------------------------------


def test_query_string_secrets_never_reach_the_log(stack: RunningStack) -> None:
    # `api_key` last: the API takes a repeated parameter's last value, and `api%5Fkey` is one.
    secrets = {
        "api%5Fkey": "encoded-name-value-0004",
        "X-Amz-Signature": "signature-value-0001",
        "access_token": "token-value-0002",
        "Password": "password-value-0003",
        "api_key": stack.admin_key,
    }
    query = "&".join(f"{name}={value}" for name, value in secrets.items())

    served = stack.request("GET", "/api/v2/system/service", query=f"{query}&page=2")
    # A malformed request line is logged too, by the server's own error path.
    malformed = _raw_head_only(
        stack.api_port, f"GET /api/v2/email?api_key={stack.admin_key} HTTP/1.1 junk\r\n\r\n"
    )
    invoked = _exchange(
        stack.invoke_port,
        "POST",
        f"{INVOKE_PATH}?secret={secrets['access_token']}",
        {"Host": "evil.example", "Content-Length": "0"},
    )

    assert served.status == 200, served.body
    assert b"Error code: 400" in malformed  # http.server answers an odd version bare, as 0.9
    assert invoked.status == 403
    log = stack.log()
    for name, value in secrets.items():
        assert f"{name}={value}" not in log
        assert value not in log.replace(f"Admin API key  {stack.admin_key}", "").replace(
            f"X-DreamFactory-API-Key: {stack.admin_key}", ""
        )
    assert "api_key=***" in log
    assert "page=2" in log  # what is no secret stays readable


# --- moto's port: the AWS stand-in holds every secret ----------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        # A page's fetch(): moto's flask-cors granted it any origin and these headers.
        (
            "POST",
            "/",
            {
                "Origin": "https://evil.example",
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "secretsmanager.ListSecrets",
            },
        ),
        (
            "OPTIONS",
            "/",
            {
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-amz-target",
            },
        ),
        # DNS rebinding: same-origin for the page, so it may send anything but another Host.
        (
            "POST",
            "/",
            {
                "Host": "evil.example:{port}",
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "secretsmanager.ListSecrets",
                "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261204/us-east-1/"
                "secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
            },
        ),
        # An <img> or <script> load: no Origin, no Authorization; moto's dump of every backend.
        ("GET", "/moto-api/data.json", {}),
    ],
)
def test_a_web_page_gets_nothing_from_moto(
    stack: RunningStack, method: str, path: str, headers: dict[str, str]
) -> None:
    """The moto port answers a browser-shaped request with a 403 and no CORS grant, and the
    admin key's secret never appears in it; the stack's own functions are served (the rest
    of the e2e suite), signing with the stack's key."""
    sent = {"Host": "127.0.0.1:{port}", **headers}
    sent["Host"] = sent["Host"].format(port=stack.moto_port)
    sent.setdefault("Content-Length", "2" if method == "POST" else "0")

    answer = _exchange(stack.moto_port, method, path, sent, b"{}" if method == "POST" else b"")

    assert answer.status == 403, answer.body
    assert answer.body["__type"] == "AccessDeniedException"
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    assert "admin-key" not in json.dumps(answer.body)
    assert EVENTS_API_KEY not in json.dumps(answer.body)
