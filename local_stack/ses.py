"""The local stack's Amazon SES: moto answers the SES v2 API, with the identities the developer
names verified at start, and every message it accepts is kept in the mail folder exactly as the
capture server keeps SMTP mail (`<stamp>.eml` as sent, `<stamp>.json` its envelope, here with
SES's message id as `provider_message_id`).

moto keeps SES's state in memory only, and the stack's state directory does not keep it: the
identities are verified again at every start (LOCAL_SES_IDENTITIES, by default the domain of
the local `email` service's sender), in the stack's region. A service of type `ses` sends as an
address of a verified domain, or a verified address; any other sender is refused, as SES
refuses an unverified one (moto words it differently: the reason is `ses_rejected`). moto has
no GetAccount: it is answered here, as an account that may send, so a local SES service's
connection test passes once its sender is verified.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

import boto3
from moto.backends import get_backend

from local_stack.environment import MOTO_ACCOUNT, REGION
from local_stack.mail_capture import MailFolder
from local_stack.smtp.capture import Received
from local_stack.wsgi import StartResponse, WsgiApp, answer_of, take_body

SEND_EMAIL_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
# What GetAccount answers locally (moto has no GetAccount): an account out of the sandbox, as
# the stack's identities can send to anyone.
LOCAL_ACCOUNT = {
    "SendingEnabled": True,
    "ProductionAccessEnabled": True,
    "EnforcementStatus": "HEALTHY",
    "DedicatedIpAutoWarmupEnabled": False,
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0},
}


def verify_identities(identities: Sequence[str]) -> None:
    """Verify each identity (a domain or an address) in moto's SES, which runs in this process;
    boto3 must point at it."""
    client = boto3.client("sesv2")
    verified = get_backend("ses")[MOTO_ACCOUNT][REGION].email_identities
    for identity in identities:
        client.create_email_identity(EmailIdentity=identity)
        # moto makes it `VerificationStatus: SUCCESS` yet not `VerifiedForSendingStatus`, which
        # SES never answers together (the connection test reads the latter): as SES would.
        verified[identity].verified_for_sending_status = True


class SesCapture:
    """moto's WSGI app, with every SES v2 `SendEmail` it accepts kept in `folder`, and
    GetAccount answered (moto has none) as a healthy account out of the sandbox."""

    def __init__(self, app: WsgiApp, folder: MailFolder) -> None:
        self._app = app
        self._folder = folder

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        if method == "GET" and path == ACCOUNT_PATH:
            return _account(start_response)
        if method != "POST" or path != SEND_EMAIL_PATH:
            return self._app(environ, start_response)
        body = take_body(environ)
        line, headers, content = answer_of(self._app, environ)
        if line.startswith("200"):
            self._keep(body, b"".join(content))
        start_response(line, headers)
        return content

    def _keep(self, request_body: bytes, answer_body: bytes) -> None:
        request = json.loads(request_body)
        raw = request.get("Content", {}).get("Raw", {}).get("Data")
        if raw is None:
            return  # a Simple or templated message: the email API sends raw ones only
        destination = request.get("Destination", {})
        recipients = [
            address
            for field in ("ToAddresses", "CcAddresses", "BccAddresses")
            for address in destination.get(field, [])
        ]
        sent = Received(
            mail_from=str(request.get("FromEmailAddress", "")),
            rcpt_tos=recipients,
            data=base64.b64decode(raw),
            tls=False,
            auth_login=None,
        )
        self._folder.keep(sent, provider_message_id=str(json.loads(answer_body)["MessageId"]))


def _account(start_response: StartResponse) -> list[bytes]:
    """GetAccount's answer, for the connection test of a local SES service."""
    body = json.dumps(LOCAL_ACCOUNT).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
