"""Fetching a file by URL: one GET, bounded in where it goes, how long it takes and how much
it brings back.

A URL in a send request is a sending key telling the function where to connect, and whatever
answers there is mailed to recipients of the sender's choosing: a server-side request forgery
that reads its answers back, unless it is held to what SMTP hosts are held to and more:

- the host is resolved once and every address is judged by the SMTP hosts' guard
  (`core.network.destination`) under the fetch policy (ATTACHMENT_FETCH_*: no loopback, no
  private ranges, ports 443, and 80 when plain http is allowed); the connection goes to an
  address it checked, never to the name again, and TLS verifies the certificate for the name
  (which is also the SNI);
- a redirect is followed at most `MAX_REDIRECTS` times, each hop held to the same URL rules
  and judged again by the guard before anything connects;
- one deadline covers the whole fetch, redirects included: the send's own, or the per-fetch
  ATTACHMENT_FETCH_TIMEOUT_SECONDS if that comes first. It bounds every connect, the TLS
  handshake and each read of the answer, so a server that drips its answer a byte at a time
  runs out of time as surely as one that says nothing;
- the DNS lookup, which has no timeout of its own (getaddrinfo blocks for as long as the
  resolver tries), runs in a thread waited for at most `dns_timeout_seconds` or what the fetch
  has left, whichever is less; a lookup that does not answer by then is a refusal of its own;
- a declared length over the cap is refused before a byte of the body is read, and reading
  stops one byte past the cap; the cap is ATTACHMENT_FETCH_MAX_BYTES, or what the message's
  size limit leaves after the files fetched before;
- nothing the server says is repeated: not its body, not its reason phrase, only its status.
  The URL's query string, which often holds a signature or a token, is in no message or log.

| what happened                                               | reason                           |
| ----------------------------------------------------------- | -------------------------------- |
| plain http, not allowed                                     | attachment_scheme_forbidden      |
| a refused address (by name or after DNS), or a refused port | attachment_destination_forbidden |
| the host name does not resolve; the connection fails        | attachment_fetch_failed          |
| the DNS lookup does not answer in time                      | attachment_dns_timeout           |
| TLS fails: a certificate untrusted or for another host      | attachment_tls_error             |
| the answer is no HTTP, or is cut short                      | attachment_fetch_failed          |
| a status other than 200 (context `status`)                  | attachment_fetch_failed          |
| a redirect without Location, or more than `MAX_REDIRECTS`   | attachment_fetch_failed          |
| a redirect to a URL the rules refuse                        | that URL's reason                |
| a compressed body (a Content-Encoding not asked for)        | attachment_fetch_failed          |
| time ran out                                                | attachment_fetch_timeout         |
| more bytes than the cap (`MessageTooLarge`, 413)            | attachment_too_large             |

All but the last are `InvalidRequest` (400): the URL is the caller's (DreamFactory answers
500). Too large is a 413, the answer a request with the same file inline gets. Each error's
context holds the field and the URL without its query (`Reference.redacted`).
"""

from __future__ import annotations

import http.client
import re
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin

from aws_lambda_powertools import Logger

from core.attachments.references import InlineAttachment, Reference, parse_url
from core.errors import EmailApiError, InvalidRequest, MessageTooLarge
from core.message import Attachment
from core.network.destination import (
    DestinationForbidden,
    DestinationPolicy,
    Kind,
)
from core.network.lookup import LookupTimedOut, is_loopback, resolve_within
from core.network.pinned_http import PinnedConnection, PinnedTlsConnection, remaining_of
from core.network.tls import client_context
from core.settings import DEFAULT_MAX_MESSAGE_BYTES, Settings, get_settings
from core.transport.base import Deadline

logger = Logger(child=True)

MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
_USER_AGENT = "email-api-attachment-fetcher/1"
# A bare type/subtype, as `core.attachments.model` takes for `attachments`.
_MEDIA_TYPE = re.compile(r"[a-z0-9][\w.+-]*/[\w.+-]+", re.ASCII)
_OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class FetchPolicy:
    """Where fetches may connect, how long one may take, and how much they may bring."""

    destinations: DestinationPolicy = field(
        default_factory=lambda: DestinationPolicy(
            allow_loopback=False, allow_private=False, ports=frozenset({443})
        )
    )
    allow_http: bool = False
    timeout_seconds: float = 10.0
    # A lookup gets no longer than this (nor than the fetch has left): resolvers answer in
    # milliseconds, and one that does not is not worth the rest of the fetch's time.
    dns_timeout_seconds: float = 5.0
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # one file
    total_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # every file one message fetches
    ca_file: str = ""  # trusted on top of the system store

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            destinations=DestinationPolicy.for_outbound_http(settings),
            allow_http=settings.outbound_allow_http,
            timeout_seconds=settings.attachment_fetch_timeout_seconds,
            max_bytes=settings.attachment_fetch_max_bytes or settings.max_message_bytes,
            total_bytes=settings.max_message_bytes,
            ca_file=settings.attachment_fetch_ca_file,
        )

    @property
    def web_ports(self) -> frozenset[int]:
        """The ports any allowed address may be fetched from; others only from loopback."""
        return frozenset({443, 80}) if self.allow_http else frozenset({443})


class AttachmentFetcher:
    """Fetches the files one message names by URL; one fetcher a message, as it counts the
    bytes they add up to against `budget` (by default the policy's `total_bytes`)."""

    def __init__(self, policy: FetchPolicy | None = None, *, budget: int | None = None) -> None:
        self._policy = policy or FetchPolicy.from_settings(get_settings())
        self._tls = client_context(True, self._policy.ca_file)
        self._left = self._policy.total_bytes if budget is None else budget

    def gather(
        self, entries: Sequence[Reference | InlineAttachment], deadline: Deadline
    ) -> list[Attachment]:
        """Every entry as it goes out, in order: inline files as given, URLs fetched; the
        inline ones count against the budget too."""
        attachments: list[Attachment] = []
        for entry in entries:
            if isinstance(entry, Reference):
                attachments.append(self.fetch(entry, deadline))
                continue
            if len(entry.content) > self._left:
                raise MessageTooLarge(
                    f"The attachment '{entry.name}' makes the message's attachments larger"
                    f" than the {self._policy.total_bytes} bytes a message may have.",
                    reason="attachment_too_large",
                    context={"field": "attachment", "limit": self._policy.total_bytes},
                )
            self._left -= len(entry.content)
            attachments.append(
                Attachment(
                    name=entry.name,
                    content=entry.content,
                    content_type=entry.content_type,
                    content_id=entry.content_id,
                )
            )
        return attachments

    def fetch(self, reference: Reference, deadline: Deadline) -> Attachment:
        """GET `reference` by `deadline` (or the per-fetch timeout, if sooner): the file as it
        goes out, named after the URL's path; else a 400 (413 if too large), see the table."""
        started = time.monotonic()
        within = Deadline(min(deadline.at, started + self._policy.timeout_seconds))
        cap = min(self._policy.max_bytes, self._left)
        log: dict[str, Any] = {"field": reference.field, "url": reference.redacted}
        try:
            try:
                content, content_type = self._follow(reference, within, cap)
            except (OSError, http.client.HTTPException) as error:
                raise _network_failure(reference, error) from error
        except EmailApiError as error:
            logger.warning("attachment not fetched", extra={**log, "reason": error.reason})
            raise
        self._left -= len(content)
        logger.info(
            "attachment fetched",
            extra={**log, "bytes": len(content), "seconds": round(time.monotonic() - started, 3)},
        )
        return Attachment(
            name=reference.filename,
            content=content,
            content_type=content_type,
            content_id=reference.content_id,
        )

    # --- one hop after another -------------------------------------------------------------

    def _follow(self, reference: Reference, deadline: Deadline, cap: int) -> tuple[bytes, str]:
        hop = reference
        for redirects in range(MAX_REDIRECTS + 1):
            with self._exchange(reference, hop, deadline) as response:
                if response.status in _REDIRECT_STATUSES and redirects < MAX_REDIRECTS:
                    hop = self._redirect(reference, hop, response.getheader("Location"))
                    continue
                if response.status in _REDIRECT_STATUSES:
                    raise _failed(reference, hop, f"redirects more than {MAX_REDIRECTS} times")
                if response.status != 200:
                    raise _failed(
                        reference,
                        hop,
                        f"answered HTTP {response.status}{_phrase(response.status)}",
                        status=response.status,
                    )
                content = self._body(reference, hop, response, cap)
                return content, media_type(response.getheader("Content-Type"))
        raise AssertionError("unreachable: the last hop returns or raises")

    @contextmanager
    def _exchange(
        self, reference: Reference, hop: Reference, deadline: Deadline
    ) -> Iterator[http.client.HTTPResponse]:
        """The answer's status and headers; its connection is closed on leaving."""
        addresses = self._addresses(reference, hop, deadline)
        connection: PinnedConnection = (
            PinnedTlsConnection(hop.host, hop.port, addresses, deadline, self._tls)
            if hop.scheme == "https"
            else PinnedConnection(hop.host, hop.port, addresses, deadline)
        )
        try:
            connection.connect()
            connection.request(
                "GET",
                hop.target,
                headers={"User-Agent": _USER_AGENT, "Accept": "*/*", "Connection": "close"},
            )
            response = connection.getresponse()
            try:
                yield response
            finally:
                # An answer that ends with the connection holds the socket itself: closing the
                # connection alone would leave it open, and the server writing, until collected.
                response.close()
        finally:
            connection.close()

    def _addresses(self, reference: Reference, hop: Reference, deadline: Deadline) -> list[str]:
        """The checked addresses to connect to for `hop`, or a refusal."""
        if hop.scheme == "http" and not self._policy.allow_http:
            raise InvalidRequest(
                f"{_where(reference, hop)} is plain http, which the operator has not allowed.",
                reason="attachment_scheme_forbidden",
                context=_context(reference),
            )
        seconds = min(self._policy.dns_timeout_seconds, remaining_of(deadline))
        try:
            addresses = resolve_within(seconds, hop.host, hop.port, self._policy.destinations)
        except LookupTimedOut:
            raise InvalidRequest(
                f"{_where(reference, hop)} has a host name whose DNS lookup did not answer in"
                " time; it was not attached.",
                reason="attachment_dns_timeout",
                context=_context(reference),
            ) from None
        except DestinationForbidden as error:
            raise _forbidden(reference, hop, error.kind, self._policy) from None
        except OSError as error:  # socket.gaierror: no such name, or no answer
            raise _failed(reference, hop, "has a host name that does not resolve") from error
        if hop.port not in self._policy.web_ports and not all(map(is_loopback, addresses)):
            raise _forbidden(reference, hop, None, self._policy)
        return addresses

    def _redirect(self, reference: Reference, hop: Reference, location: str | None) -> Reference:
        if not location:
            raise _failed(reference, hop, "answered a redirect without a Location")
        try:
            return parse_url(
                reference.field,
                urljoin(hop.full_url, location.strip()),
                allow_http=self._policy.allow_http,
            )
        except InvalidRequest as error:
            raise InvalidRequest(
                f"{_where(reference, hop)} redirects to a URL that is refused: {error.message}",
                reason=error.reason,
                context=_context(reference),
            ) from None

    def _body(
        self, reference: Reference, hop: Reference, response: http.client.HTTPResponse, cap: int
    ) -> bytes:
        """The body, refused as soon as it is known to be over `cap`: before reading it when
        the length is declared, one byte past it otherwise."""
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            # We asked for none; a compressed file would be attached as garbage.
            raise _failed(reference, hop, "answered a compressed body, which was not asked for")
        declared = response.length
        if declared is not None and declared > cap:
            raise self._too_large(reference, cap)
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(min(_CHUNK_BYTES, cap + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise self._too_large(reference, cap)
        if declared is not None and size < declared:
            raise _failed(reference, hop, "closed the connection before the whole file arrived")
        return b"".join(chunks)

    def _too_large(self, reference: Reference, cap: int) -> MessageTooLarge:
        if cap >= self._policy.max_bytes:
            why = f"is larger than the {cap} bytes an attachment URL may bring"
        else:
            why = (
                "would make the message's attachments larger than the"
                f" {self._policy.total_bytes} bytes a message may have"
            )
        return MessageTooLarge(
            f"{_where(reference, reference)} {why}; it was not fetched in full.",
            reason="attachment_too_large",
            context={**_context(reference), "limit": cap},
        )


def media_type(header: str | None) -> str:
    """A Content-Type header's bare media type, lower-cased; else application/octet-stream
    (no parameters, and no multipart or message type: the MIME structure is ours to write)."""
    bare = (header or "").partition(";")[0].strip().lower()
    if _MEDIA_TYPE.fullmatch(bare) and not bare.startswith(("multipart/", "message/")):
        return bare
    return _OCTET_STREAM


# --- failures -----------------------------------------------------------------------------------


def _context(reference: Reference, **extra: Any) -> dict[str, Any]:
    return {"field": reference.field, "url": reference.redacted, **extra}


def _where(reference: Reference, hop: Reference) -> str:
    where = f"The attachment URL '{reference.redacted}' (in '{reference.field}')"
    return where if hop is reference else f"{where}, redirected to '{hop.redacted}',"


def _failed(reference: Reference, hop: Reference, what: str, **extra: Any) -> InvalidRequest:
    return InvalidRequest(
        f"{_where(reference, hop)} {what}; it was not attached.",
        reason="attachment_fetch_failed",
        context=_context(reference, **extra),
    )


def _forbidden(
    reference: Reference, hop: Reference, kind: Kind | None, policy: FetchPolicy
) -> InvalidRequest:
    if kind is None:
        ports = " or ".join(str(port) for port in sorted(policy.web_ports))
        why = f"uses port {hop.port}; attachment URLs may use port {ports} only"
    elif kind is Kind.LOOPBACK:
        why = f"points at {kind.value}, allowed only if OUTBOUND_ALLOW_LOOPBACK=true"
    elif kind is Kind.PRIVATE:
        why = f"points at {kind.value}, allowed only if OUTBOUND_ALLOW_PRIVATE=true"
    else:
        why = f"points at {kind.value}, which is never allowed"
    return InvalidRequest(
        f"{_where(reference, hop)} {why}; it was not fetched.",
        reason="attachment_destination_forbidden",
        context=_context(reference),
    )


def _network_failure(
    reference: Reference, error: OSError | http.client.HTTPException
) -> InvalidRequest:
    """What went wrong on the wire, in words of ours: what the server sent is not repeated."""
    if isinstance(error, TimeoutError):
        return InvalidRequest(
            f"{_where(reference, reference)} did not answer in time; it was not attached.",
            reason="attachment_fetch_timeout",
            context=_context(reference),
        )
    if isinstance(error, ssl.SSLError):
        detail = (
            error.verify_message
            if isinstance(error, ssl.SSLCertVerificationError)
            else error.reason or "handshake failed"
        )
        return InvalidRequest(
            f"{_where(reference, reference)} failed TLS ({detail}); it was not attached.",
            reason="attachment_tls_error",
            context=_context(reference),
        )
    if isinstance(error, http.client.HTTPException):  # RemoteDisconnected is one too
        what = "answered something that is not HTTP, or broke off its answer"
    else:
        what = f"could not be reached ({error.strerror or type(error).__name__})"
    return _failed(reference, reference, what)


def _phrase(status: int) -> str:
    try:
        return f" {HTTPStatus(status).phrase}"
    except ValueError:
        return ""
