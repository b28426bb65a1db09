"""Which transport a service gets, and the endpoint it is built on: the service's own server
and, only when it has a secret, its password."""

from __future__ import annotations

from core.services.service_type import ServiceType
from core.services.smtp_options import Encryption
from core.transport.factory import KINDS, SMTP, Transports
from core.transport.smtp import SmtpTransport
from core.transport.smtp.kind import smtp_endpoint
from tests.support.fake_services import FakeCredentials, smtp_service

SECRET_ID = "email-api/services/email"


def _transports(credentials: FakeCredentials) -> Transports:
    return Transports(credentials, ehlo_name="mailer.example.com", ca_file="")


def test_endpoint_comes_from_the_service_and_its_secret() -> None:
    credentials = FakeCredentials(passwords={SECRET_ID: "s3cret"})
    service = smtp_service(secret_id=SECRET_ID, username="mailer")

    endpoint = smtp_endpoint(service, credentials)

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

    endpoint = smtp_endpoint(service, credentials)

    assert (endpoint.port, endpoint.encryption, endpoint.verify_tls) == (25, Encryption.NONE, False)
    assert (endpoint.username, endpoint.password) == (None, None)
    assert credentials.lookups == []


def test_an_smtp_service_gets_a_closed_smtp_transport_for_its_endpoint() -> None:
    credentials = FakeCredentials(passwords={SECRET_ID: "s3cret"})
    service = smtp_service(secret_id=SECRET_ID, username="mailer")
    transports = _transports(credentials)

    transport = transports(service)

    assert isinstance(transport, SmtpTransport)
    assert transport.endpoint == smtp_endpoint(service, credentials)
    transport.close()  # never opened: nothing to end, and no socket was made


def test_both_smtp_type_names_map_to_the_smtp_kind() -> None:
    assert KINDS[ServiceType.SMTP] is KINDS[ServiceType.SMTP_EMAIL] is SMTP


def test_the_identity_of_an_smtp_connection_is_its_server_tls_and_username() -> None:
    transports = _transports(FakeCredentials())
    service = smtp_service(username="mailer")
    same_but_for_the_sender = smtp_service(username="mailer", from_email="other@example.com")

    assert transports.identity(service) == transports.identity(same_but_for_the_sender)
    for changed in (
        smtp_service(username="other"),
        smtp_service(username="mailer", port=465, encryption="ssl"),
        smtp_service(username="mailer", host="smtp2.example.com"),
        smtp_service(username="mailer", verify_tls=False),
    ):
        assert transports.identity(changed) != transports.identity(service)
