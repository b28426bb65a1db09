"""The local stack's Amazon SES: moto answers the SES v2 API, with the identities the developer
names verified at start, and every message it accepts is kept in the mail folder exactly as the
capture server keeps SMTP mail (`<stamp>.eml` as sent, `<stamp>.json` its envelope, here with
SES's message id as `provider_message_id`).

moto keeps SES's state in memory only, and the stack's state directory does not keep it: the
identities are verified again at every start (LOCAL_SES_IDENTITIES, by default the domain of
the local `email` service's sender), in the stack's region. A service of type `ses` sends as an
address of a verified domain, or a verified address; any other sender is refused, as SES
refuses an unverified one (moto words it differently: the reason is `ses_rejected`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import boto3

from local_stack.mail_capture import MailFolder
from local_stack.moto_journal import StartResponse, WsgiApp, take_body
from local_stack.smtp.capture import Received

SEND_EMAIL_PATH = "/v2/email/outbound-emails"


def verify_identities(identities: Sequence[str]) -> None:
    """Verify each identity (a domain or an address) in moto's SES; boto3 must point at moto."""
    client = boto3.client("sesv2")
    for identity in identities:
        client.create_email_identity(EmailIdentity=identity)


class SesCapture:
    """moto's WSGI app, with every SES v2 `SendEmail` it accepts kept in `folder`."""

    def __init__(self, app: WsgiApp, folder: MailFolder) -> None:
        self._app = app
        self._folder = folder

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != SEND_EMAIL_PATH:
            return self._app(environ, start_response)
        body = take_body(environ)
        started: list[tuple[str, list[tuple[str, str]]]] = []
        written: list[bytes] = []

        def remember(line: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], Any]:
            started[:] = [(line, list(headers))]
            return written.append

        answer = self._app(environ, remember)
        try:
            content = written + list(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        line, headers = started[0]
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
