"""The local stack's capture server with its mailbox simulator (local_stack.smtp.simulator),
running on loopback with a certificate from its own CA (local_stack.local_ca), as `make dev`
starts it: each simulator address's SMTP outcome through smtplib (and slow@'s past the API's
SMTP timeout through the queue and the worker), STARTTLS and implicit TLS verified against
that CA alone, AUTH offered only over TLS, and the SES-style events the simulator posts after
a message is kept."""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from local_stack.local_ca import LocalAuthority, ca_file_in, local_authority
from local_stack.mail_capture import CapturedMail, MailCapture, MailFolder, read_captured
from local_stack.simulator_events import SimulatorEvents
from local_stack.smtp.capture import Received
from local_stack.smtp.simulator import SimulatorSettings
from tests.support.api import call_api, create_service
from tests.support.network import free_port
from tests.support.queue_worker import SendQueue
from tests.support.web_servers import WebServer, answer

SENDER = "app@example.com"
SLOW_SECONDS = 0.6
# slow@'s wait in the timeout test: three times the API's SMTP timeout there.
PAST_TIMEOUT_SECONDS = 3.0
MAX_ATTEMPTS = 2


def message(message_id: str = "<one@example.com>") -> bytes:
    return (
        f"From: {SENDER}\r\nTo: someone\r\nSubject: simulated\r\nMessage-ID: {message_id}\r\n"
        "\r\nHello.\r\n"
    ).encode()


@dataclass
class Kept:
    """What the mail folder told the simulator's events hook, in order."""

    messages: list[tuple[Received, str]] = field(default_factory=list)

    def __call__(self, received: Received, provider_message_id: str) -> None:
        self.messages.append((received, provider_message_id))


@dataclass
class Simulator:
    capture: MailCapture
    tls_port: int
    authority: LocalAuthority
    mail_dir: Path
    kept: Kept

    @property
    def port(self) -> int:
        return self.capture.port

    def captured(self) -> list[CapturedMail]:
        return read_captured(self.mail_dir)

    def connect(self) -> smtplib.SMTP:
        """A client on the STARTTLS port, encrypted and verified against the local CA."""
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
        client.starttls(context=self.authority.client_context())
        client.ehlo()
        return client


def _start(tmp_path: Path, settings: SimulatorSettings) -> Simulator:
    authority = local_authority(tmp_path / "state")
    kept = Kept()
    mail_dir = tmp_path / "mail"
    tls_port = free_port()
    capture = MailCapture(
        free_port(),
        mail_dir,
        authority=authority,
        tls_port=tls_port,
        simulator=settings,
        folder=MailFolder(mail_dir, on_kept=kept),
    )
    return Simulator(capture, tls_port, authority, mail_dir, kept)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    started = _start(tmp_path, SimulatorSettings(deferrals=2, slow_seconds=SLOW_SECONDS))
    try:
        yield started
    finally:
        started.capture.stop()


# --- each address's outcome -------------------------------------------------------------------


def test_success_is_taken_with_a_queue_id_the_sidecar_keeps(simulator: Simulator) -> None:
    with simulator.connect() as client:
        client.mail(SENDER)
        client.rcpt("success@simulator.example.com")
        code, reply = client.data(message())

    assert code == 250
    assert reply.startswith(b"2.0.0 Ok: queued as ")
    queue_id = reply.decode().rsplit(" ", 1)[1]
    (captured,) = simulator.captured()
    assert captured.rcpt_tos == ["success@simulator.example.com"]
    sidecar = json.loads(captured.eml_path.with_suffix(".json").read_text())
    assert sidecar["provider_message_id"] == queue_id
    ((received, told),) = simulator.kept.messages
    assert (told, received.tls) == (queue_id, True)


def test_bounce_is_refused_at_rcpt_and_nothing_is_kept(simulator: Simulator) -> None:
    with simulator.connect() as client:
        client.mail(SENDER)
        code, reply = client.rcpt("bounce+signup@simulator.example.com")

    assert code == 550
    assert reply.startswith(b"5.1.1 ")
    assert simulator.captured() == []


def test_bounce_beside_another_recipient_leaves_the_other_one_taken(simulator: Simulator) -> None:
    with simulator.connect() as client:
        recipients = ["bounce@simulator.example.com", "kept@example.com"]
        refused = client.sendmail(SENDER, recipients, message())

    assert list(refused) == ["bounce@simulator.example.com"]
    assert refused["bounce@simulator.example.com"][0] == 550
    (captured,) = simulator.captured()
    assert captured.rcpt_tos == ["kept@example.com"]


def test_defer_answers_451_until_the_same_message_came_often_enough(simulator: Simulator) -> None:
    """Two deferrals (as configured) of each Message-ID, then it is taken; another message
    starts its own count."""
    answers = []
    with simulator.connect() as client:
        for message_id in ["<a@example.com>"] * 3 + ["<b@example.com>"]:
            client.mail(SENDER)
            client.rcpt("defer@simulator.example.com")
            code, reply = client.data(message(message_id))
            answers.append((code, reply.decode().split(" (", 1)[0]))

    deferred = (451, "4.7.1 Try again later")
    assert answers[:2] == [deferred, deferred]
    assert answers[2][0] == 250
    assert answers[3] == deferred
    (captured,) = simulator.captured()
    assert captured.message_id == "<a@example.com>"


def test_drop_closes_the_connection_after_the_final_dot_without_a_reply(
    simulator: Simulator,
) -> None:
    """The one point where a sender cannot know: the message arrived (and is kept)."""
    client = simulator.connect()
    client.mail(SENDER)
    client.rcpt("drop@simulator.example.com")

    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.data(message())

    client.close()
    (captured,) = simulator.captured()
    assert captured.rcpt_tos == ["drop@simulator.example.com"]


def test_drop_on_the_implicit_tls_port_too(simulator: Simulator) -> None:
    context = simulator.authority.client_context()
    with smtplib.SMTP_SSL("127.0.0.1", simulator.tls_port, context=context, timeout=10) as client:
        client.ehlo()
        client.mail(SENDER)
        client.rcpt("drop@simulator.example.com")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.data(message())


def test_slow_answers_the_final_dot_late(simulator: Simulator) -> None:
    with simulator.connect() as client:
        client.mail(SENDER)
        client.rcpt("slow@simulator.example.com")
        started = time.monotonic()
        code, _ = client.data(message())
        waited = time.monotonic() - started

    assert code == 250
    assert waited >= SLOW_SECONDS
    assert len(simulator.captured()) == 1


@pytest.mark.parametrize(
    ("unknown_outcome", "attempts"), [("hold", 1), ("retry", MAX_ATTEMPTS)], ids=["hold", "retry"]
)
def test_slow_past_the_smtp_timeout_is_unknown_and_nothing_is_lost(
    tmp_path: Path,
    send_queue: SendQueue,
    configure: Callable[..., None],
    unknown_outcome: str,
    attempts: int,
) -> None:
    """slow@ answering the final dot after the API's SMTP timeout: the sender gave up after
    its dot, so it cannot know whether the message went. The worker settles it `unknown`
    (`hold`: never resent; `retry`: resent until out of attempts, and still `unknown`, since
    the last one may have gone), and nothing is lost: the queue ends empty, the record
    settled."""
    configure(SMTP_TIMEOUT_SECONDS=str(PAST_TIMEOUT_SECONDS / 3), MAX_ATTEMPTS=str(MAX_ATTEMPTS))
    slow = _start(tmp_path, SimulatorSettings(slow_seconds=PAST_TIMEOUT_SECONDS))
    try:
        create_service(
            {
                "host": "127.0.0.1",
                "port": slow.port,
                "encryption": "none",
                "from_email": SENDER,
                "unknown_outcome": unknown_outcome,
            }
        )
        body = {"to": "slow@simulator.example.com", "subject": "Hi", "body_text": "Hi"}
        queued = call_api("POST", "/api/v2/email", body, query="async=true")
        assert queued.status == 202, queued.body
        for _ in range(MAX_ATTEMPTS + 2):
            if not send_queue.run_worker().received:
                break
    finally:
        slow.capture.stop()

    assert send_queue.waiting() == 0
    record = call_api("GET", f"/api/v2/email/messages/{queued.body['id']}").body
    assert (record["status"], record["reason"]) == ("unknown", "smtp_outcome_unknown"), record
    assert record["attempts"] == attempts
    # The sender hung up before the late answer, and the simulator's handler ends with the
    # connection: the message never arrived, which is exactly what the sender cannot tell.
    assert slow.captured() == []


def test_other_domains_are_captured_as_before_even_without_tls(simulator: Simulator) -> None:
    with smtplib.SMTP("127.0.0.1", simulator.port, timeout=10) as client:
        recipients = ["john@example.com", "nobody@simulator.example.com"]
        refused = client.sendmail(SENDER, recipients, message())

    assert refused == {}
    (captured,) = simulator.captured()
    assert captured.rcpt_tos == ["john@example.com", "nobody@simulator.example.com"]


# --- TLS and AUTH -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_starttls_is_verified_against_the_local_ca(simulator: Simulator, host: str) -> None:
    with smtplib.SMTP(host, simulator.port, timeout=10) as client:
        client.starttls(context=simulator.authority.client_context())
        client.ehlo()
        assert client.sock is not None
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.sock.version() is not None


def test_the_system_store_alone_does_not_trust_the_certificate(simulator: Simulator) -> None:
    with (
        smtplib.SMTP("127.0.0.1", simulator.port, timeout=10) as client,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client.starttls(context=ssl.create_default_context())


def test_auth_is_offered_only_after_starttls_and_takes_any_credentials(
    simulator: Simulator,
) -> None:
    with smtplib.SMTP("127.0.0.1", simulator.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        code, _ = client.docmd("AUTH", "PLAIN AGFueW9uZQBhbnl0aGluZw==")
        assert code == 538  # encryption required

        client.starttls(context=simulator.authority.client_context())
        client.ehlo()
        assert client.has_extn("auth")
        code, _ = client.login("whoever", "whatever")
        assert code == 235
        client.sendmail(SENDER, ["success@simulator.example.com"], message())

    ((received, _),) = simulator.kept.messages
    assert (received.tls, received.auth_login) == (True, "whoever")


def test_implicit_tls_offers_auth_from_the_start(simulator: Simulator) -> None:
    context = simulator.authority.client_context()
    with smtplib.SMTP_SSL("127.0.0.1", simulator.tls_port, context=context, timeout=10) as client:
        client.login("someone", "secret")
        client.sendmail(SENDER, ["jane@example.com"], message())

    ((received, _),) = simulator.kept.messages
    assert (received.tls, received.auth_login) == (True, "someone")


def test_the_ca_is_kept_and_a_new_server_certificate_issued_at_each_start(tmp_path: Path) -> None:
    first = local_authority(tmp_path)
    ca = first.ca_file.read_bytes()
    certificate = first.server_cert_file.read_bytes()

    second = local_authority(tmp_path)

    assert second.ca_file == ca_file_in(tmp_path)
    assert second.ca_file.read_bytes() == ca
    assert second.server_cert_file.read_bytes() != certificate
    assert oct((tmp_path / "tls" / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


# --- the events posted after a message is kept --------------------------------------------------


def test_the_events_are_posted_again_until_the_api_knows_the_message(tmp_path: Path) -> None:
    """Right after the server's reply the sender has not yet recorded the id: the first answer
    is `unknown_message`, and the event comes again."""
    outcomes = iter(["unknown_message", "applied", "applied"])
    with WebServer() as api:
        api.routes["/_local/ses-events"] = lambda handler: answer(
            200, json.dumps({"outcomes": [next(outcomes)]}).encode()
        )(handler)
        events = SimulatorEvents(api.url(""))
        received = Received(SENDER, ["complaint@simulator.example.com"], message(), True, None)

        events.after_kept(received, "QUEUE1")
        deadline = time.monotonic() + 10
        while len(api.arrivals) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        events.stop()

    posted = [json.loads(arrival.body) for arrival in api.arrivals]
    assert [event["eventType"] for event in posted] == ["Delivery", "Delivery", "Complaint"]
    assert {event["mail"]["messageId"] for event in posted} == {"QUEUE1"}
    assert posted[0] == posted[1]  # the same event again: its id, and so its effect, once
    complained = posted[2]["complaint"]["complainedRecipients"]
    assert complained == [{"emailAddress": "complaint@simulator.example.com"}]
