"""The local stack's moto port against a web page: what a browser-shaped request gets from it.

moto's server, as the stack runs it (`local_stack.moto_server`, its state in a temporary
directory), on loopback, holding a secret. A page open in the developer's browser can send it
preflights, cross-origin POSTs, forms, image and script loads, and, with a DNS name re-pointed
at 127.0.0.1, requests under its own origin; none of them may read or change anything, or be
granted CORS. boto3, signing with the stack's access key id, is served.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_stack.environment import LOCAL_ACCESS_KEY_ID, REGION
from local_stack.moto_server import MotoServer
from local_stack.state_store import StateStore
from tests.support.local_moto import forget_moto

SECRET_ID = "email-api/admin-key"
SECRET_VALUE = "the-admin-key-a-page-must-never-read"
# What boto3 sends, signed with the stack's key (moto reads the service from the scope).
SIGNED = (
    f"AWS4-HMAC-SHA256 Credential={LOCAL_ACCESS_KEY_ID}/20261204/{REGION}/secretsmanager/"
    "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + "0" * 64
)
LIST_SECRETS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "secretsmanager.ListSecrets",
}
GET_SECRET = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "secretsmanager.GetSecretValue",
}


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    """The stack's moto server, holding the admin key's secret (and nothing of earlier tests)."""
    forget_moto()
    state = StateStore(tmp_path)
    server = MotoServer(0, state)
    try:
        boto3.client("secretsmanager", **_aws(server)).create_secret(
            Name=SECRET_ID, SecretString=SECRET_VALUE
        )
        yield server
    finally:
        server.stop()
        state.close()


def _aws(server: MotoServer, access_key_id: str = LOCAL_ACCESS_KEY_ID) -> dict[str, Any]:
    """boto3's client arguments for `server`, as the stack's functions have them."""
    return {
        "endpoint_url": server.endpoint_url,
        "region_name": REGION,
        "aws_access_key_id": access_key_id,
        "aws_secret_access_key": access_key_id,
        "config": Config(retries={"max_attempts": 1}),
    }


def _exchange(
    server: MotoServer, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (Host: the server's own, unless given)."""
    port = int(server.endpoint_url.rpartition(":")[2])
    sent = {"Host": f"127.0.0.1:{port}", **headers}
    if body or method in ("POST", "PUT"):
        sent["Content-Length"] = str(len(body))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def _assert_refused(answer: tuple[int, dict[str, str], bytes]) -> None:
    """A 403 in AWS's error shape, granting no CORS and telling nothing of the secret."""
    status, headers, body = answer
    assert status == 403, body
    assert not [name for name in headers if name.startswith("access-control-")], headers
    assert SECRET_VALUE.encode() not in body
    assert SECRET_ID.encode() not in body
    assert json.loads(body)["__type"] == "AccessDeniedException"
    assert headers["x-amzn-errortype"] == "AccessDeniedException"


def _secret_body() -> bytes:
    return json.dumps({"SecretId": SECRET_ID}).encode()


def test_a_cors_preflight_is_refused_and_grants_nothing(moto: MotoServer) -> None:
    """A page's fetch() with x-amz-target or Authorization needs this preflight first: moto's
    flask-cors answered it with the page's origin and every header asked for."""
    answer = _exchange(
        moto,
        "OPTIONS",
        "/",
        {
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-amz-target",
        },
    )

    _assert_refused(answer)


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:3000"])
@pytest.mark.parametrize("headers", [LIST_SECRETS, GET_SECRET])
def test_a_request_with_an_origin_reads_no_secret(
    moto: MotoServer, origin: str, headers: dict[str, str]
) -> None:
    """Even signed (a page may copy a header it saw), a request carrying Origin is a browser's."""
    sent = {**headers, "Origin": origin, "Authorization": SIGNED}

    _assert_refused(_exchange(moto, "POST", "/", sent, _secret_body()))


@pytest.mark.parametrize(
    "fetch_metadata",
    [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
        {"Sec-Fetch-Mode": "navigate"},
    ],
)
def test_a_request_with_fetch_metadata_is_refused(
    moto: MotoServer, fetch_metadata: dict[str, str]
) -> None:
    """Browsers label every request they send to 127.0.0.1 with Sec-Fetch-*; SDKs never do."""
    sent = {**GET_SECRET, **fetch_metadata, "Authorization": SIGNED}

    _assert_refused(_exchange(moto, "POST", "/", sent, _secret_body()))


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "localhost.evil.example"])
def test_a_rebound_host_reads_no_secret(moto: MotoServer, host: str) -> None:
    """DNS rebinding: a page whose own name now points at 127.0.0.1 is same-origin with the
    port, so it may send any header; only the Host it names tells it apart."""
    port = moto.endpoint_url.rpartition(":")[2]
    sent = {**GET_SECRET, "Host": host.format(port=port), "Authorization": SIGNED}

    _assert_refused(_exchange(moto, "POST", "/", sent, _secret_body()))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        # moto's dashboard and its dump of every backend: an <img> or <script> can load them.
        ("GET", "/moto-api/"),
        ("GET", "/moto-api/data.json"),
        # The query protocol takes its action from the URL: an <img src> could send it.
        ("GET", "/?Action=ListQueues"),
        ("GET", "/123456789012/queue?Action=SendMessage&MessageBody=x"),
        ("POST", "/moto-api/reset"),
    ],
)
def test_an_unsigned_request_is_refused(moto: MotoServer, method: str, path: str) -> None:
    """Without Origin or Sec-Fetch-* (an old browser, a tag's load): no Authorization, no answer."""
    _assert_refused(_exchange(moto, method, path, {}))


def test_a_form_post_is_refused(moto: MotoServer) -> None:
    """A form's POST needs no preflight; it carries no Authorization header, whatever it says."""
    form = b"Action=CreateQueue&QueueName=planted&X-Amz-Credential=local%2F20261204"
    answer = _exchange(
        moto, "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, form
    )

    _assert_refused(answer)
    assert "planted" not in str(boto3.client("sqs", **_aws(moto)).list_queues())


def test_a_presigned_query_is_refused(moto: MotoServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A URL's signature is something a page can write into an <img src> (the stack's secret
    is no secret), and nothing of the stack presigns: only the header counts. The refusal's
    log line names the method and path, never the query or a header."""
    signature = "5e" * 32
    query = (
        "Action=ListQueues&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={LOCAL_ACCESS_KEY_ID}%2F20261204%2F{REGION}%2Fsqs%2Faws4_request"
        f"&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
    )

    _assert_refused(_exchange(moto, "GET", f"/?{query}", {"X-Api-Key": signature}))
    logged = capsys.readouterr().err
    assert "moto: refused GET /: " in logged
    assert signature not in logged


def test_another_access_key_id_is_refused(moto: MotoServer) -> None:
    """Only the stack's own key id: a request signed otherwise was not meant for this stack."""
    with pytest.raises(ClientError) as refused:
        boto3.client("secretsmanager", **_aws(moto, "AKIAEXAMPLE")).list_secrets()

    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_boto3_with_the_stack_s_key_is_served(moto: MotoServer) -> None:
    secrets = boto3.client("secretsmanager", **_aws(moto))
    sqs = boto3.client("sqs", **_aws(moto))
    dynamodb = boto3.client("dynamodb", **_aws(moto))
    s3 = boto3.client("s3", **_aws(moto))

    assert secrets.get_secret_value(SecretId=SECRET_ID)["SecretString"] == SECRET_VALUE
    queue_url = sqs.create_queue(QueueName="served")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello")
    assert dynamodb.list_tables()["TableNames"] == []
    s3.create_bucket(Bucket="served")
    s3.put_object(Bucket="served", Key="k", Body=b"v")
    assert s3.get_object(Bucket="served", Key="k")["Body"].read() == b"v"


def test_no_answer_carries_a_cors_header(moto: MotoServer) -> None:
    """flask-cors adds Access-Control-* to moto's answers; a served answer carries none either."""
    port = int(moto.endpoint_url.rpartition(":")[2])
    answer = _exchange(
        moto,
        "POST",
        "/",
        {**LIST_SECRETS, "Authorization": SIGNED, "Host": f"localhost:{port}"},
        b"{}",
    )

    status, headers, _ = answer
    assert status == 200
    assert not [name for name in headers if name.startswith("access-control-")], headers
