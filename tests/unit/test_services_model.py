"""Service definitions: encryption values, names, and what is never stored or shown."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import InvalidRequest
from core.services.config import SmtpConfig
from core.services.config_input import SmtpConfigInput, password_of
from core.services.model import Service, ServiceInput
from core.services.service_type import ServiceType
from core.services.smtp_options import Encryption
from core.services.suppression_scope import SuppressionScope
from core.settings import get_settings
from core.suppression.model import bounce_scope
from core.validation import parse_records

CONFIG = {"host": "smtp.example.com"}


def _service(**fields: Any) -> ServiceInput:
    return ServiceInput.model_validate({"name": "email", "config": CONFIG, **fields})


def _smtp_config(**fields: Any) -> SmtpConfigInput:
    config = _service(**fields).config
    assert isinstance(config, SmtpConfigInput)
    return config


def _refused(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        parse_records(ServiceInput, body)
    return raised.value


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("tls", Encryption.TLS),
        ("TLS", Encryption.TLS),
        ("ssl", Encryption.SSL),
        ("Ssl", Encryption.SSL),
        ("none", Encryption.NONE),
        ("NONE", Encryption.NONE),
        ("", Encryption.OPPORTUNISTIC),  # DreamFactory's "leave empty"
        (None, Encryption.OPPORTUNISTIC),
    ],
)
def test_encryption_values(given: str | None, expected: Encryption) -> None:
    config = SmtpConfig.model_validate({"host": "h", "encryption": given})

    assert config.encryption is expected


def test_encryption_defaults_to_starttls_when_offered_on_587() -> None:
    config = SmtpConfig.model_validate(CONFIG)

    assert (config.encryption, config.port, config.verify_tls) == (
        Encryption.OPPORTUNISTIC,
        587,
        True,
    )


def test_a_stored_service_keeps_its_encryption() -> None:
    stored = {"name": "email", "config": {**CONFIG, "encryption": "tls"}}

    assert Service.model_validate(stored).smtp.encryption is Encryption.TLS


@pytest.mark.parametrize("given", ["starttls", "SSL/TLS", "yes", 1])
def test_unknown_encryption(given: Any) -> None:
    error = _refused({"name": "email", "config": {**CONFIG, "encryption": given}})

    assert (error.status, error.reason) == (400, "invalid_encryption")
    assert error.context == {"field": "config.encryption"}


@pytest.mark.parametrize("name", ["email", "e", "mail-2", "mail_eu", "0day", "a" * 64])
def test_valid_names(name: str) -> None:
    assert _service(name=name).name == name


@pytest.mark.parametrize(
    "name", ["Email", "-mail", "_mail", "mail.eu", "mail eu", "", "a" * 65, "système", "system"]
)
def test_invalid_names(name: str) -> None:
    error = _refused({"name": name, "config": CONFIG})

    assert (error.status, error.reason) == (400, "invalid_service_name")


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"host": ""}, "config.host"),
        ({"host": "smtp example.com"}, "config.host"),
        ({**CONFIG, "port": 0}, "config.port"),
        ({**CONFIG, "port": 65536}, "config.port"),
        ({**CONFIG, "smtp_host": "x"}, "config.smtp_host"),
        ({"port": 25}, "config.host"),
        ({**CONFIG, "suppression_scope": "tenant"}, "config.suppression_scope"),
    ],
)
def test_invalid_config(config: dict[str, Any], field: str) -> None:
    error = _refused({"name": "email", "config": config})

    assert error.status == 400
    assert error.context["errors"][0]["field"] == field


@pytest.mark.parametrize("field", ["from_name", "reply_to_name"])
def test_sender_names_refuse_line_breaks(field: str) -> None:
    error = _refused({"name": "email", "config": {**CONFIG, field: "A\r\nBcc: x@example.com"}})

    assert (error.reason, error.context["field"]) == ("header_injection", f"config.{field}")


def test_sender_addresses_are_validated() -> None:
    error = _refused({"name": "email", "config": {**CONFIG, "from_email": "nope"}})

    assert (error.reason, error.context["field"]) == ("invalid_address", "config.from_email")


def test_one_service_or_a_batch() -> None:
    single, batch = parse_records(ServiceInput, {"name": "email", "config": CONFIG})
    many, is_batch = parse_records(
        ServiceInput,
        {"resource": [{"name": "a", "config": CONFIG}, {"name": "b", "config": CONFIG}]},
    )

    assert ([s.name for s in single], batch) == (["email"], False)
    assert ([s.name for s in many], is_batch) == (["a", "b"], True)


@pytest.mark.parametrize(
    "body", [{"resource": []}, {"resource": "x"}, {"resource": [1]}, [1], None]
)
def test_malformed_batch(body: Any) -> None:
    assert _refused(body).status == 400


def test_batch_errors_name_the_record() -> None:
    error = _refused({"resource": [{"name": "a", "config": CONFIG}, {"name": "b", "config": {}}]})

    assert error.context["errors"][0]["field"] == "resource.1.config.host"


def test_password_is_kept_out_of_the_stored_config_and_reprs() -> None:
    service = _service(config={**CONFIG, "username": "u", "password": "hunter2-secret"})

    assert password_of(service.config) == "hunter2-secret"
    assert "hunter2-secret" not in repr(service)
    assert "password" not in service.config.stored().model_dump()


def test_public_view_hides_where_the_secret_lives() -> None:
    service = Service(
        name="email",
        config=SmtpConfig.model_validate(CONFIG),
        secret_id="email-api/services/email",
        secret_version="v1",
    )

    public = service.public()

    assert "secret_id" not in public
    assert "secret_version" not in public
    assert public["config"]["encryption"] == ""


# --- where a service may point ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "stored"),
    [
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("SMTP.example.com", "SMTP.example.com"),
    ],
)
def test_an_ip_literal_is_stored_in_its_canonical_form(host: str, stored: str) -> None:
    assert _smtp_config(config={"host": host}).stored().host == stored


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"host": "169.254.169.254"}, "config.host"),
        ({"host": "metadata.google.internal"}, "config.host"),
        ({"host": "smtp.example.com", "port": 6379}, "config.port"),
    ],
)
def test_a_forbidden_destination_is_refused(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, Any], field: str
) -> None:
    monkeypatch.setenv("SMTP_ALLOWED_PORTS", "25,465,587,2525")
    get_settings.cache_clear()

    error = _refused({"name": "email", "config": config})

    assert (error.status, error.reason, error.context) == (
        400,
        "destination_forbidden",
        {"field": field},
    )


def test_the_settings_are_read_when_validating(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _smtp_config(config={"host": "127.0.0.1"}).host == "127.0.0.1"  # tests allow it

    monkeypatch.setenv("SMTP_ALLOW_LOOPBACK", "false")
    get_settings.cache_clear()

    assert _refused({"name": "email", "config": {"host": "127.0.0.1"}}).reason == (
        "destination_forbidden"
    )


@pytest.mark.parametrize("host", ["smtp.example.com:587", "http://smtp.example.com", "a..b"])
def test_a_host_must_be_a_name_or_an_address(host: str) -> None:
    error = _refused({"name": "email", "config": {"host": host}})

    assert error.context["errors"][0]["field"] == "config.host"


# --- DreamFactory's fields: type, is_active, parameters, nulls ------------------------------------


def test_a_service_stored_before_these_fields_reads_with_their_defaults() -> None:
    service = Service.model_validate({"name": "email", "config": CONFIG})

    assert (service.type, service.is_active) == (ServiceType.SMTP, True)
    assert (service.config.parameters, service.config.escape_html_values) == ([], True)
    assert service.config.suppression_scope is SuppressionScope.ACCOUNT


@pytest.mark.parametrize(
    ("given", "scope"),
    [(None, "*"), ("account", "*"), ("service", "email")],
)
def test_suppression_scope_says_where_a_bounce_suppresses(given: str | None, scope: str) -> None:
    service = Service.model_validate(
        {"name": "email", "config": {**CONFIG, "suppression_scope": given}}
    )

    assert bounce_scope(service) == scope
    assert bounce_scope(None) == "*"  # a service deleted since: every service's


@pytest.mark.parametrize(
    ("given", "expected"),
    [("smtp", ServiceType.SMTP), ("smtp_email", ServiceType.SMTP_EMAIL), (None, ServiceType.SMTP)],
)
def test_service_types(given: str | None, expected: ServiceType) -> None:
    service = _service(type=given)

    assert service.type is expected
    assert service.model_dump(mode="json")["type"] == expected.value  # as given


def test_an_unsupported_type_names_the_accepted_ones() -> None:
    error = _refused({"name": "email", "type": "mailgun_email", "config": CONFIG})

    assert (error.status, error.reason) == (400, "unsupported_service_type")
    assert error.context == {"field": "type", "accepted": ["smtp_email", "smtp", "ses"]}
    assert "'mailgun_email'" in error.message


def test_placeholder_parameters_are_the_active_ones_with_a_value() -> None:
    config = SmtpConfig.model_validate(
        {
            **CONFIG,
            "parameters": [
                {"name": "company", "value": "Acme", "outbound": True},
                {"name": "year", "value": 2026, "active": True},
                {"name": "draft", "value": "yes", "active": False},
                {"name": "unset", "value": None},
                {"name": "company", "value": "Acme Ltd", "active": None},  # the last one wins
            ],
        }
    )

    assert config.placeholder_parameters() == {"company": "Acme Ltd", "year": "2026"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Acme", "Acme"),
        ("", ""),
        (0, "0"),
        (-12, "-12"),
        (2.0, "2"),
        (0.1, "0.1"),
        (True, "true"),
        (False, "false"),
        (None, None),
    ],
)
def test_parameter_values_are_kept_as_text(value: Any, text: str | None) -> None:
    config = SmtpConfig.model_validate({**CONFIG, "parameters": [{"name": "v", "value": value}]})

    assert config.parameters[0].value == text


def test_parameters_keep_only_name_value_and_active() -> None:
    entry = {"id": 4, "service_id": 2, "name": "company", "value": "Acme", "outbound": True}

    config = _service(config={**CONFIG, "parameters": [entry]}).config.stored()

    assert config.model_dump()["parameters"] == [
        {"name": "company", "value": "Acme", "active": True}
    ]


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ([{"name": "a\nb"}], "config.parameters.0.name"),
        ([{"name": "tab\there"}], "config.parameters.0.name"),
        ([{"name": "a\u2028b"}], "config.parameters.0.name"),
        ([{"name": "x" * 256}], "config.parameters.0.name"),
        ([{"name": 5, "value": "x"}], "config.parameters.0.name"),
        ([{"name": "a", "value": float("nan")}], "config.parameters.0.value"),
        ([{"name": "a", "value": {"b": 1}}], "config.parameters.0.value"),
        ([{"name": "a"}, 3], "config.parameters.1"),
        ("company", "config.parameters"),
        ([{"name": "a", "value": "é" * 40_000}], "config.parameters"),  # 80,000 bytes
        ([{"name": f"p{i}"} for i in range(101)], "config.parameters"),
    ],
)
def test_invalid_parameters(parameters: Any, field: str) -> None:
    error = _refused({"name": "email", "config": {**CONFIG, "parameters": parameters}})

    assert (error.status, error.reason, error.context) == (
        400,
        "invalid_parameter",
        {"field": field},
    )


def test_a_hundred_parameters_are_allowed() -> None:
    parameters = [{"name": f"p{i}", "value": "x"} for i in range(100)]

    assert len(_service(config={**CONFIG, "parameters": parameters}).config.parameters) == 100


def test_null_takes_the_default_and_host_stays_required() -> None:
    nulls = dict.fromkeys(["port", "encryption", "verify_tls", "unknown_outcome", "parameters"])

    service = _service(
        label=None, description=None, type=None, is_active=None, config={**CONFIG, **nulls}
    )

    assert service == _service(config=CONFIG)
    error = _refused({"name": "email", "config": {"host": None}})
    assert error.context["errors"][0]["field"] == "config.host"
