"""Which transport a service gets, and the endpoint it is built on: the service's own server
and, only when it has a secret, its password."""

from __future__ import annotations

from core.services.model import Encryption
from core.transport.factory import Transports
from core.transport.smtp import SmtpTransport
from tests.support.fake_services import FakeCredentials, smtp_service

SECRET_ID = "email-api/services/email"


def _transports(credentials: FakeCredentials) -> Transports:
    return Transports(credentials, ehlo_name="mailer.example.com", ca_file="")


def test_endpoint_comes_from_the_service_and_its_secret() -> None:
    credentials = FakeCredentials(passwords={SECRET_ID: "s3cret"})
    service = smtp_service(secret_id=SECRET_ID, username="mailer")

    endpoint = _transports(credentials).smtp_endpoint(service)

    assert (endpoint.host, endpoint.port, endpoint.encryption) == (
        "smtp.example.com",
        587,
        Encryption.TLS,
    )
    assert (endpoint.verify_tls, endpoint.username, endpoint.password) == (True, "mailer", "s3cret")
    assert credentials.lookups == [(SECRET_ID, "v1")]
    assert "s3cret" not in repr(endpoint)


def test_service_without_a_secret_has_no_password() -> None:
    credentials = FakeCredentials(passwords={SECRET_ID: "s3cret"})
    service = smtp_service("open", encryption="none", port=25, verify_tls=False)

    endpoint = _transports(credentials).smtp_endpoint(service)

    assert (endpoint.port, endpoint.encryption, endpoint.verify_tls) == (25, Encryption.NONE, False)
    assert (endpoint.username, endpoint.password) == (None, None)
    assert credentials.lookups == []


def test_an_smtp_service_gets_a_closed_smtp_transport_for_its_endpoint() -> None:
    credentials = FakeCredentials(passwords={SECRET_ID: "s3cret"})
    service = smtp_service(secret_id=SECRET_ID, username="mailer")
    transports = _transports(credentials)

    transport = transports(service)

    assert isinstance(transport, SmtpTransport)
    assert transport.endpoint == transports.smtp_endpoint(service)
    transport.close()  # never opened: nothing to end, and no socket was made
