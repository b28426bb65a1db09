"""Fetching attachments by URL over real sockets: a web server on loopback, the test CA.

Every test here starts its own server on 127.0.0.1; the module's settings trust the test CA
(ATTACHMENT_FETCH_CA_FILE) and allow loopback (ATTACHMENT_FETCH_ALLOW_LOOPBACK=true), as a
deployment never does. The tests of the guard turn loopback off again, to see what a
deployment refuses, and aim at port 443, where nothing listens: a fetch the guard let through
would fail otherwise (refused, or no answer), not be refused as a forbidden destination.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from core.attachments.fetch import AttachmentFetcher, FetchPolicy
from core.attachments.references import Reference, parse_references
from core.errors import EmailApiError, InvalidRequest, MessageTooLarge
from core.message import Attachment
from core.settings import get_settings
from core.transport.base import Deadline
from tests.support.smtp_servers import LOOPBACK, Authorities, Authority, SilentServer
from tests.support.web_servers import (
    Stream,
    WebServer,
    answer,
    declare_length,
    drip,
    endless,
    not_http,
    redirect,
    serve_file,
    stall,
)

Configure = Callable[..., None]
StartServer = Callable[..., WebServer]

REBOUND = "files.rebind.example"  # a name whose DNS answer the test controls
SECRET = "X-Amz-Signature=0123456789abcdef-secret"
PDF = os.urandom(150_000)  # binary, and longer than one read


@pytest.fixture(autouse=True)
def fetch_settings(configure: Configure, authorities: Authorities) -> None:
    configure(
        ATTACHMENT_FETCH_CA_FILE=str(authorities.trusted.bundle),
        ATTACHMENT_FETCH_ALLOW_LOOPBACK="true",
        ATTACHMENT_FETCH_TIMEOUT_SECONDS="2",
    )


@pytest.fixture
def web(authorities: Authorities) -> Iterator[StartServer]:
    """Starts web servers (HTTPS with the trusted certificate unless told); all stop at teardown."""
    with ExitStack() as running:

        def start(*, tls: bool = True, authority: Authority | None = None) -> WebServer:
            chosen = authority or (authorities.trusted if tls else None)
            return running.enter_context(WebServer(authority=chosen))

        yield start


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Makes REBOUND resolve to the addresses given; returns the names looked up."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def answer_with(*addresses: str) -> list[str]:
        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            lookups.append(host)
            if host != REBOUND:
                return real_getaddrinfo(host, port, *args, **kwargs)
            return [
                info
                for address in addresses
                for info in real_getaddrinfo(address, port, *args, **kwargs)
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return lookups

    return answer_with


def fetch(url: str, *, field: str = "attachment", seconds: float = 10) -> Attachment:
    """What the send path does with one URL: parse it, fetch it under the settings."""
    [reference] = parse_references(field, url)
    assert isinstance(reference, Reference)
    return AttachmentFetcher().fetch(reference, Deadline.after(seconds))


def refused(url: str, *, seconds: float = 10) -> EmailApiError:
    with pytest.raises(EmailApiError) as raised:
        fetch(url, seconds=seconds)
    return raised.value


# --- what arrives -----------------------------------------------------------------------------


def test_a_file_arrives_byte_identical_with_its_name_and_type(web: StartServer) -> None:
    server = web()
    server.routes["/files/Q1%20report.pdf"] = serve_file(PDF, "Application/PDF; name=x.pdf")

    attachment = fetch(server.url("/files/Q1%20report.pdf"))

    assert attachment == Attachment(
        name="Q1 report.pdf", content=PDF, content_type="application/pdf"
    )
    [arrival] = server.arrivals
    assert arrival.headers["Host"] == f"{LOOPBACK}:{server.port}"
    assert arrival.headers["Accept-Encoding"] == "identity"


def test_a_url_with_a_query_is_named_by_its_path_and_sent_whole(web: StartServer) -> None:
    server = web()
    server.routes["/download/invoice.pdf"] = serve_file(b"%PDF-1.7", "application/pdf")

    attachment = fetch(server.url(f"/download/invoice.pdf?{SECRET}&id=7"), seconds=5)

    assert attachment.name == "invoice.pdf"
    assert server.arrivals[0].target == f"/download/invoice.pdf?{SECRET}&id=7"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "application/octet-stream"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("multipart/mixed; boundary=x", "application/octet-stream"),
        ("not a type", "application/octet-stream"),
    ],
)
def test_the_type_is_the_bare_media_type_or_octet_stream(
    web: StartServer, header: str | None, expected: str
) -> None:
    server = web()
    server.routes["/data"] = serve_file(b"a,b\n", header)

    assert fetch(server.url("/data")).content_type == expected


def test_an_unnamed_path_gets_a_generic_name(web: StartServer) -> None:
    server = web()
    server.routes["/"] = serve_file(b"index")

    assert fetch(server.url("/")).name == "attachment"


def test_redirects_are_followed_and_the_file_keeps_its_given_name(web: StartServer) -> None:
    server = web()
    server.routes["/old/report.pdf"] = redirect("/moved", 301)
    server.routes["/moved"] = redirect(server.url("/storage/4f1c?sig=1"), 307)
    server.routes["/storage/4f1c"] = serve_file(PDF, "application/pdf")

    attachment = fetch(server.url("/old/report.pdf"))

    assert (attachment.name, attachment.content) == ("report.pdf", PDF)
    assert [arrival.target for arrival in server.arrivals] == [
        "/old/report.pdf",
        "/moved",
        "/storage/4f1c?sig=1",
    ]


# --- plain http -------------------------------------------------------------------------------


def test_plain_http_is_refused_by_default(web: StartServer) -> None:
    server = web(tls=False)
    server.routes["/a.txt"] = serve_file(b"plain")

    with pytest.raises(InvalidRequest) as raised:
        parse_references("import_url", server.url("/a.txt"))

    assert raised.value.reason == "attachment_scheme_forbidden"
    assert raised.value.context == {"field": "import_url"}
    # And by the fetcher itself, whatever built the reference.
    reference = Reference("import_url", "http", LOOPBACK, server.port, "/a.txt")
    with pytest.raises(InvalidRequest) as raised:
        AttachmentFetcher().fetch(reference, Deadline.after(5))
    assert raised.value.reason == "attachment_scheme_forbidden"
    assert server.arrivals == []


def test_plain_http_is_fetched_when_the_operator_allows_it(
    web: StartServer, configure: Configure
) -> None:
    configure(ATTACHMENT_FETCH_ALLOW_HTTP="true")
    server = web(tls=False)
    server.routes["/a.txt"] = serve_file(b"plain", "text/plain")

    assert fetch(server.url("/a.txt"), field="import_url").content == b"plain"


# --- the guard --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("169.254.169.254", "a cloud metadata endpoint"),
        ("2852039166", "a cloud metadata endpoint"),  # 169.254.169.254 in decimal
        ("0xa9fea9fe", "a cloud metadata endpoint"),  # and in hex
        ("0251.0376.0251.0376", "a cloud metadata endpoint"),  # and in octal
        ("[fd00:ec2::254]", "a cloud metadata endpoint"),
        ("metadata.google.internal", "a cloud metadata endpoint"),
        ("169.254.1.1", "a link-local address"),
        ("[fe80::1]", "a link-local address"),
        ("127.0.0.1", "a loopback address"),
        ("2130706433", "a loopback address"),
        ("0x7f000001", "a loopback address"),
        ("127.1", "a loopback address"),
        ("[::1]", "a loopback address"),
        ("[::ffff:127.0.0.1]", "a loopback address"),
        ("localhost", "a loopback address"),
        ("10.0.0.1", "a private network address"),
        ("167772161", "a private network address"),  # 10.0.0.1 in decimal
        ("0xa000001", "a private network address"),  # and in hex
        ("192.168.1.1", "a private network address"),
        ("172.16.0.1", "a private network address"),
        ("100.64.0.1", "a private network address"),
        ("[fd12:3456::1]", "a private network address"),
        ("0", "an unspecified address"),  # 0.0.0.0, which Linux connects to loopback
        ("[::]", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
    ],
)
def test_internal_targets_are_refused_by_default(
    configure: Configure, host: str, kind: str
) -> None:
    configure(ATTACHMENT_FETCH_ALLOW_LOOPBACK="false")

    error = refused(f"https://{host}/latest/meta-data/?{SECRET}")

    assert isinstance(error, InvalidRequest)
    assert error.reason == "attachment_destination_forbidden"
    assert kind in error.message
    assert error.context == {"field": "attachment", "url": error.context["url"]}
    assert SECRET not in error.message + str(error.context)


def test_a_name_that_resolves_to_loopback_is_refused(
    configure: Configure, resolver: Callable[..., list[str]]
) -> None:
    configure(ATTACHMENT_FETCH_ALLOW_LOOPBACK="false")
    lookups = resolver("127.0.0.1")

    error = refused(f"https://{REBOUND}/file.pdf")

    assert error.reason == "attachment_destination_forbidden"
    assert "a loopback address" in error.message
    assert lookups == [REBOUND]


def test_a_name_with_one_forbidden_address_among_others_is_refused_whole(
    resolver: Callable[..., list[str]],
) -> None:
    resolver("93.184.215.14", "10.1.2.3")

    error = refused(f"https://{REBOUND}/file.pdf")

    assert error.reason == "attachment_destination_forbidden"
    assert "a private network address" in error.message


def test_the_checked_address_is_connected_to_and_the_certificate_checked_for_the_name(
    web: StartServer, authorities: Authorities, resolver: Callable[..., list[str]]
) -> None:
    server = web(authority=authorities.trusted.issued_for(REBOUND))
    server.routes["/file.pdf"] = serve_file(PDF)
    lookups = resolver(LOOPBACK)

    assert fetch(server.url("/file.pdf", host=REBOUND)).content == PDF

    # One lookup of the name: the connection went to the address it gave (create_connection
    # reads that literal through getaddrinfo too, but a literal is never sent to DNS).
    assert lookups.count(REBOUND) == 1
    assert set(lookups) == {REBOUND, LOOPBACK}
    assert server.arrivals[0].headers["Host"] == f"{REBOUND}:{server.port}"


def test_other_ports_only_on_loopback_even_when_loopback_is_allowed(
    resolver: Callable[..., list[str]],
) -> None:
    resolver("93.184.215.14")

    error = refused(f"https://{REBOUND}:8443/file.pdf")

    assert error.reason == "attachment_destination_forbidden"
    assert "port 8443" in error.message


def test_a_port_other_than_443_is_refused_by_default(configure: Configure) -> None:
    configure(ATTACHMENT_FETCH_ALLOW_LOOPBACK="false")

    error = refused("https://files.example.com:6379/file.pdf")

    assert error.reason == "attachment_destination_forbidden"
    assert "port 6379" in error.message


@pytest.mark.parametrize(
    ("location", "reason", "says"),
    [
        (
            "https://169.254.169.254/latest/meta-data/iam/",
            "attachment_destination_forbidden",
            "a cloud metadata endpoint",
        ),
        ("https://10.0.0.1/admin", "attachment_destination_forbidden", "a private network"),
        ("https://metadata.google.internal/", "attachment_destination_forbidden", "metadata"),
        ("http://127.0.0.1/plain", "attachment_scheme_forbidden", "'http'"),
        ("file:///etc/passwd", "attachment_scheme_forbidden", "'file'"),
        ("https://user:pw@example.com/", "attachment_userinfo_forbidden", "user name"),
    ],
)
def test_a_redirect_to_a_forbidden_target_is_refused(
    web: StartServer, location: str, reason: str, says: str
) -> None:
    server = web()
    server.routes["/go"] = redirect(location)

    error = refused(server.url("/go"))

    assert (error.reason, error.context["url"]) == (reason, server.url("/go"))
    assert says in error.message
    assert "redirect" in error.message
    assert "pw" not in error.message
    assert len(server.arrivals) == 1


def test_redirects_stop_after_three(web: StartServer) -> None:
    server = web()
    server.routes["/loop"] = redirect("/loop")

    error = refused(server.url("/loop"))

    assert error.reason == "attachment_fetch_failed"
    assert "more than 3" in error.message
    assert len(server.arrivals) == 4  # the URL, then three redirects followed


# --- size -------------------------------------------------------------------------------------


def test_a_body_over_the_cap_is_refused_without_reading_it_all(
    web: StartServer, configure: Configure
) -> None:
    configure(ATTACHMENT_FETCH_MAX_BYTES="65536")
    server = web()
    stream = Stream()
    server.routes["/huge.bin"] = endless(stream, offer=512 * 1024 * 1024)

    error = refused(server.url("/huge.bin"))

    assert isinstance(error, MessageTooLarge)
    assert (error.status, error.reason) == (413, "attachment_too_large")
    assert error.context["limit"] == 65536
    assert stream.stopped.wait(5)  # the client hung up: the server could write no more
    # What it wrote fills socket buffers at most, a tiny part of what it had to give.
    assert stream.written < stream.offered / 16


def test_a_declared_length_over_the_cap_is_refused_before_the_body(
    web: StartServer, configure: Configure
) -> None:
    configure(ATTACHMENT_FETCH_MAX_BYTES="65536", ATTACHMENT_FETCH_TIMEOUT_SECONDS="5")
    server = web()
    server.routes["/huge.bin"] = declare_length(10**12)

    started = time.monotonic()
    error = refused(server.url("/huge.bin"))

    assert error.reason == "attachment_too_large"
    assert time.monotonic() - started < 2  # no wait for a body that never comes


def test_the_files_of_one_message_share_its_size_limit(web: StartServer) -> None:
    server = web()
    server.routes["/a.bin"] = serve_file(b"a" * 40_000)
    server.routes["/b.bin"] = serve_file(b"b" * 40_000)
    first, second = parse_references("attachment", [server.url("/a.bin"), server.url("/b.bin")])
    assert isinstance(first, Reference)
    assert isinstance(second, Reference)
    fetcher = AttachmentFetcher(FetchPolicy.from_settings(get_settings()), budget=60_000)

    assert len(fetcher.fetch(first, Deadline.after(5)).content) == 40_000
    with pytest.raises(MessageTooLarge) as raised:
        fetcher.fetch(second, Deadline.after(5))

    assert "bytes a message may have" in raised.value.message


def test_gather_keeps_the_order_and_counts_inline_files_too(web: StartServer) -> None:
    server = web()
    server.routes["/b.bin"] = serve_file(b"b" * 30_000, "application/octet-stream")
    entries = parse_references(
        "attachment", [{"name": "a.txt", "content": "aGk="}, server.url("/b.bin")]
    )

    gathered = AttachmentFetcher().gather(entries, Deadline.after(5))

    assert [(a.name, len(a.content)) for a in gathered] == [("a.txt", 2), ("b.bin", 30_000)]
    with pytest.raises(MessageTooLarge):
        AttachmentFetcher(budget=30_001).gather(entries, Deadline.after(5))


# --- time -------------------------------------------------------------------------------------


def test_a_server_that_never_answers_hits_the_time_limit(
    web: StartServer, configure: Configure
) -> None:
    configure(ATTACHMENT_FETCH_TIMEOUT_SECONDS="1")
    server = web()
    server.routes["/slow.pdf"] = stall

    started = time.monotonic()
    error = refused(server.url("/slow.pdf"))

    assert error.reason == "attachment_fetch_timeout"
    assert 0.9 < time.monotonic() - started < 2.5  # ATTACHMENT_FETCH_TIMEOUT_SECONDS=1


@pytest.fixture
def hanging_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A resolver that never answers for the name it returns (there is no DNS server here to
    make slow): getaddrinfo blocks until the test ends, then fails as a resolver would. The
    threads it held are joined before the test's thread check."""
    name = "files.hanging-dns.example"
    real_getaddrinfo = socket.getaddrinfo
    release = threading.Event()
    held: list[threading.Thread] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real_getaddrinfo(host, port, *args, **kwargs)
        held.append(threading.current_thread())
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield name
    release.set()
    for thread in held:
        if thread is not threading.current_thread():
            thread.join(5)


def test_a_dns_lookup_that_hangs_ends_at_the_fetch_deadline(
    hanging_dns: str, configure: Configure
) -> None:
    """getaddrinfo has no timeout: a lookup left to the resolver held the fetch past its own
    deadline. It waits at most what the fetch has left, and says what timed out."""
    configure(ATTACHMENT_FETCH_TIMEOUT_SECONDS="1")

    started = time.monotonic()
    error = refused(f"https://{hanging_dns}/file.pdf")

    assert error.reason == "attachment_dns_timeout"
    assert hanging_dns in error.message
    assert 0.9 < time.monotonic() - started < 2


def test_a_dns_lookup_has_a_deadline_of_its_own(hanging_dns: str) -> None:
    """Within a longer fetch, a lookup still gives up after the policy's DNS timeout."""
    [reference] = parse_references("attachment", f"https://{hanging_dns}/file.pdf")
    assert isinstance(reference, Reference)
    fetcher = AttachmentFetcher(FetchPolicy(timeout_seconds=30, dns_timeout_seconds=0.5))

    started = time.monotonic()
    with pytest.raises(InvalidRequest) as raised:
        fetcher.fetch(reference, Deadline.after(30))

    assert raised.value.reason == "attachment_dns_timeout"
    assert time.monotonic() - started < 1.5


def test_a_server_that_drips_its_body_hits_the_same_limit(
    web: StartServer, configure: Configure
) -> None:
    configure(ATTACHMENT_FETCH_TIMEOUT_SECONDS="1")
    server = web()
    server.routes["/drip.pdf"] = drip(every=0.2)  # each read succeeds, the whole never ends

    started = time.monotonic()
    error = refused(server.url("/drip.pdf"))

    assert error.reason == "attachment_fetch_timeout"
    assert time.monotonic() - started < 2.5


def test_the_send_deadline_wins_when_it_comes_first(web: StartServer) -> None:
    server = web()
    server.routes["/slow.pdf"] = stall

    started = time.monotonic()
    error = refused(server.url("/slow.pdf"), seconds=0.5)

    assert error.reason == "attachment_fetch_timeout"
    assert time.monotonic() - started < 1.5


def test_a_server_that_never_starts_tls_hits_the_time_limit(
    silent_server: SilentServer, configure: Configure
) -> None:
    configure(ATTACHMENT_FETCH_TIMEOUT_SECONDS="1")
    started = time.monotonic()
    error = refused(f"https://{LOOPBACK}:{silent_server.port}/file.pdf")

    assert error.reason == "attachment_fetch_timeout"
    assert time.monotonic() - started < 2.5


# --- the server's refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500])
def test_an_error_status_is_refused_with_the_status_and_not_the_body(
    web: StartServer, function_logs: Callable[[], str], status: int
) -> None:
    server = web()
    server.routes["/report.pdf"] = answer(status, b"db password is hunter2")

    error = refused(server.url(f"/report.pdf?{SECRET}"))

    assert isinstance(error, InvalidRequest)
    assert error.reason == "attachment_fetch_failed"
    assert str(status) in error.message
    assert error.context == {
        "field": "attachment",
        "url": server.url("/report.pdf"),
        "status": status,
    }
    shown = error.message + str(error.context)
    assert "hunter2" not in shown
    assert SECRET not in shown
    logs = function_logs()
    assert "attachment not fetched" in logs
    assert SECRET not in logs


def test_an_answer_that_is_not_http_is_not_repeated(web: StartServer) -> None:
    server = web()
    server.routes["/file"] = not_http

    error = refused(server.url("/file"))

    assert error.reason == "attachment_fetch_failed"
    assert "banner" not in error.message


def test_a_compressed_body_is_refused(web: StartServer) -> None:
    server = web()
    server.routes["/file.pdf"] = serve_file(b"\x1f\x8b...", Content_Encoding="gzip")

    error = refused(server.url("/file.pdf"))

    assert error.reason == "attachment_fetch_failed"
    assert "compressed" in error.message


def test_a_closed_port_is_a_fetch_failure(closed_port: Any) -> None:
    error = refused(f"https://{LOOPBACK}:{closed_port.port}/file.pdf")

    assert error.reason == "attachment_fetch_failed"
    assert "could not be reached" in error.message


def test_a_name_that_does_not_resolve_is_a_fetch_failure() -> None:
    error = refused("https://no-such-host.invalid/file.pdf")

    assert error.reason == "attachment_fetch_failed"
    assert "does not resolve" in error.message


# --- TLS --------------------------------------------------------------------------------------


def test_a_certificate_for_another_name_is_refused(
    web: StartServer, authorities: Authorities
) -> None:
    server = web(authority=authorities.trusted.issued_for("files.example.com"))
    server.routes["/file.pdf"] = serve_file(PDF)

    error = refused(server.url("/file.pdf"))

    assert error.reason == "attachment_tls_error"
    assert "mismatch" in error.message.lower()
    assert server.arrivals == []


def test_a_certificate_from_an_unknown_authority_is_refused(
    web: StartServer, authorities: Authorities
) -> None:
    server = web(authority=authorities.untrusted)
    server.routes["/file.pdf"] = serve_file(PDF)

    error = refused(server.url("/file.pdf"))

    assert error.reason == "attachment_tls_error"
    assert server.arrivals == []
