"""One webhook call: a signed POST, bounded in where it goes and how long it takes.

As attachment fetches are (`core.attachments.fetch`): the URL is read again and its host
resolved once, every address judged by the outbound guard under OUTBOUND_ALLOW_*, and the
connection made to a checked address (TLS still verifies the certificate for the name).
One deadline (WEBHOOK_TIMEOUT_SECONDS, at most 10 s) bounds the lookup, the connect, the
handshake and every read. A redirect is an answer like any other non-2xx: never followed,
since it could point the signed body anywhere. Nothing the endpoint says is kept but its
status: an attempt's `error` is in our words.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import InvalidRequest
from core.network.destination import DestinationForbidden, DestinationPolicy
from core.network.lookup import LookupTimedOut, is_loopback, resolve_within
from core.network.pinned_http import PinnedConnection, PinnedTlsConnection, remaining_of
from core.network.tls import client_context
from core.settings import Settings
from core.transport.base import Deadline
from core.webhooks.url import WebhookUrl, destination_refused, parse_webhook_url

USER_AGENT = "email-api-webhooks/1"
# What is read of an answer's body (and then dropped): enough to let the endpoint finish.
_BODY_READ_BYTES = 4096


@dataclass(frozen=True)
class PostPolicy:
    destinations: DestinationPolicy
    allow_http: bool = False
    timeout_seconds: float = 10.0
    ca_file: str = ""  # trusted on top of the system store

    @classmethod
    def from_settings(cls, settings: Settings) -> PostPolicy:
        return cls(
            destinations=DestinationPolicy.for_outbound_http(settings),
            allow_http=settings.outbound_allow_http,
            timeout_seconds=settings.webhook_timeout_seconds,
            ca_file=settings.attachment_fetch_ca_file,
        )

    @property
    def web_ports(self) -> frozenset[int]:
        return frozenset({443, 80}) if self.allow_http else frozenset({443})


@dataclass(frozen=True)
class Answer:
    """What one call came to: the endpoint's status, or what kept it from answering."""

    status: int | None
    error: str | None
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookPoster:
    def __init__(self, policy: PostPolicy) -> None:
        self._policy = policy
        self._tls = client_context(True, policy.ca_file)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST `body` to `url` with `headers`; never raises for what the network does."""
        started = time.monotonic()
        deadline = Deadline.after(self._policy.timeout_seconds)
        status: int | None = None
        error: str | None = None
        try:
            target = parse_webhook_url(url, allow_http=self._policy.allow_http)
            status = self._exchange(target, body, headers, deadline)
            if not 200 <= status < 300:
                error = f"answered HTTP {status}" + (
                    " (a redirect, not followed)" if 300 <= status < 400 else ""
                )
        except InvalidRequest as refused:
            error = refused.message
        except TimeoutError:
            error = "did not answer in time"
        except ssl.SSLError as failed:
            detail = (
                failed.verify_message
                if isinstance(failed, ssl.SSLCertVerificationError)
                else failed.reason or "handshake failed"
            )
            error = f"failed TLS ({detail})"
        except http.client.HTTPException:
            error = "answered something that is not HTTP, or broke off its answer"
        except OSError as failed:
            error = f"could not be reached ({failed.strerror or type(failed).__name__})"
        return Answer(status, error, round(time.monotonic() - started, 3))

    def _exchange(
        self, target: WebhookUrl, body: bytes, headers: Mapping[str, str], deadline: Deadline
    ) -> int:
        addresses = self._addresses(target, deadline)
        connection: PinnedConnection = (
            PinnedTlsConnection(target.host, target.port, addresses, deadline, self._tls)
            if target.scheme == "https"
            else PinnedConnection(target.host, target.port, addresses, deadline)
        )
        try:
            connection.request(
                "POST",
                target.target,
                body=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    "Connection": "close",
                },
            )
            response = connection.getresponse()
            try:
                response.read(_BODY_READ_BYTES)
                return response.status
            finally:
                response.close()
        finally:
            connection.close()

    def _addresses(self, target: WebhookUrl, deadline: Deadline) -> list[str]:
        # The lookup too ends by the call's one deadline.
        seconds = remaining_of(deadline)
        try:
            addresses = resolve_within(seconds, target.host, target.port, self._policy.destinations)
        except LookupTimedOut:
            raise TimeoutError("the DNS lookup did not answer in time") from None
        except DestinationForbidden as refused:
            raise destination_refused(refused.kind, target.port) from None
        except OSError as failed:  # socket.gaierror: no such name
            raise InvalidRequest("The webhook URL's host name does not resolve.") from failed
        if target.port not in self._policy.web_ports and not all(map(is_loopback, addresses)):
            raise destination_refused(None, target.port)
        return addresses
