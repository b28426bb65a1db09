"""A service's `config` is of the class its `type` names: SMTP's for `smtp_email`, `smtp`, null
and missing; SES's (`region`, `configuration_set`) for `ses`, which the API still refuses until
its transport is served."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.errors import InvalidRequest
from core.services.config import SesConfig, SmtpConfig, config_class
from core.services.config_input import SmtpConfigInput
from core.services.model import Service, ServiceInput
from core.services.service_type import ACCEPTED_SERVICE_TYPES, ServiceType
from core.transport.factory import KINDS

SMTP_CONFIG = {"host": "smtp.example.com", "from_email": "shop@example.com"}


@pytest.mark.parametrize(
    "given", [{"type": "smtp_email"}, {"type": "smtp"}, {"type": None}, {}], ids=repr
)
def test_every_smtp_spelling_gets_an_smtp_config(given: dict[str, Any]) -> None:
    stored = Service.model_validate({"name": "email", "config": SMTP_CONFIG, **given})
    sent = ServiceInput.model_validate({"name": "email", "config": SMTP_CONFIG, **given})

    assert isinstance(stored.config, SmtpConfig)
    assert stored.smtp.host == "smtp.example.com"
    assert isinstance(sent.config, SmtpConfigInput)


def test_the_api_takes_ses_now_its_transport_is_served() -> None:
    service = ServiceInput.model_validate(
        {"name": "email", "type": "ses", "config": {"region": "eu-west-1"}}
    )

    assert service.type is ServiceType.SES
    assert isinstance(service.config, SesConfig)


def test_another_type_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(InvalidRequest) as raised:
        ServiceInput.model_validate(
            {"name": "email", "type": "mailgun_email", "config": {"region": "eu-west-1"}}
        )

    assert raised.value.reason == "unsupported_service_type"
    assert raised.value.context["accepted"] == ["smtp_email", "smtp", "ses"]


def test_the_accepted_types_are_those_the_factory_serves() -> None:
    assert set(ACCEPTED_SERVICE_TYPES) == set(KINDS)


def test_an_ses_config_has_a_region_and_maybe_a_configuration_set() -> None:
    config = config_class(ServiceType.SES).model_validate(
        {"region": "us-gov-west-1", "configuration_set": "Marketing_2024-q1"}
    )

    assert isinstance(config, SesConfig)
    assert (config.region, config.configuration_set) == ("us-gov-west-1", "Marketing_2024-q1")
    assert config.unknown_outcome == "hold"  # the shared fields, with their defaults


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({}, id="no-region"),
        pytest.param({"region": "Europe"}, id="not-a-region"),
        pytest.param({"region": "eu-west-1\n"}, id="trailing-newline"),
        pytest.param({"region": "eu-west-1", "configuration_set": "a b"}, id="bad-set-name"),
        pytest.param({"region": "eu-west-1", "configuration_set": "x" * 65}, id="set-too-long"),
        pytest.param({"region": "eu-west-1", "host": "smtp.example.com"}, id="no-host"),
    ],
)
def test_a_bad_ses_config_is_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SesConfig.model_validate(config)


def test_an_smtp_service_is_not_read_as_ses() -> None:
    assert config_class(None) is SmtpConfig
    assert config_class(ServiceType.SMTP_EMAIL) is SmtpConfig
    assert config_class(ServiceType.SES) is SesConfig
