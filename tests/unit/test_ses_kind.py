"""`type: ses` in the factory's table: the transport a service gets, its abilities, and what
makes a kept one stale."""

from __future__ import annotations

from core.ports import AnnouncesNext, Probes
from core.services.config import SesConfig
from core.services.model import Service
from core.services.service_type import ServiceType
from core.transport.factory import KINDS, Transports
from core.transport.ses import SesTransport
from tests.support.fake_services import FakeCredentials


def ses_service(**config: object) -> Service:
    return Service(
        name="ses",
        type=ServiceType.SES,
        config=SesConfig.model_validate(
            {"region": "eu-west-1", "from_email": "noreply@example.com", **config}
        ),
    )


def test_an_ses_service_gets_the_ses_transport_with_its_settings() -> None:
    credentials = FakeCredentials()
    transport = Transports(credentials, ehlo_name="test", ca_file="")(
        ses_service(configuration_set="events")
    )

    assert isinstance(transport, SesTransport)
    assert (transport.region, transport.configuration_set) == ("eu-west-1", "events")
    assert transport.sender == "noreply@example.com"
    assert credentials.lookups == []  # the function's IAM role signs: no secret is read


def test_ses_probes_and_has_nothing_to_announce() -> None:
    transport = SesTransport("eu-west-1")

    assert isinstance(transport, Probes)
    assert not isinstance(transport, AnnouncesNext)


def test_a_kept_ses_transport_is_stale_when_its_region_or_set_changes() -> None:
    identity = KINDS[ServiceType.SES].identity

    assert identity(ses_service()) == identity(ses_service(from_email="other@example.com"))
    assert identity(ses_service()) != identity(ses_service(region="us-east-1"))
    assert identity(ses_service()) != identity(ses_service(configuration_set="events"))
