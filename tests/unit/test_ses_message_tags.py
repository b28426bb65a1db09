"""A message's tags and metadata as SES message tags: the mapping, what SES cannot carry (a
400 before anything is sent), and which services send SES's header fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.composition.compose import compose
from core.composition.ses_fields import ses_fields
from core.errors import InvalidRequest
from core.send_request import parse_send_request
from core.services.config import SesConfig
from core.services.model import Service
from core.ses_message_tags import header_value, ses_tags, tag_pairs
from tests.support.fake_services import smtp_service

SES_HOST = "email-smtp.eu-west-1.amazonaws.com"


def test_tags_are_true_valued_and_metadata_goes_as_it_is() -> None:
    pairs = ses_tags(["invoice", "eu-1"], {"campaign": "spring_2026"})

    assert pairs == [("invoice", "true"), ("eu-1", "true"), ("campaign", "spring_2026")]
    assert header_value(pairs) == "invoice=true, eu-1=true, campaign=spring_2026"


@pytest.mark.parametrize(
    ("tags", "metadata", "field"),
    [
        (["customer:1042"], {}, "tags"),
        (["a.b"], {}, "tags"),
        ([], {"order.id": "1"}, "metadata.order.id"),
        ([], {"note": "two words"}, "metadata.note"),
        ([], {"note": "Grüße"}, "metadata.note"),
        ([], {"empty": ""}, "metadata.empty"),
        (["campaign"], {"campaign": "x"}, "metadata.campaign"),
    ],
    ids=["colon", "dot", "key-dot", "space", "non-ascii", "empty-value", "both"],
)
def test_what_ses_cannot_carry_is_refused(
    tags: list[str], metadata: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        ses_tags(tags, metadata)

    assert refused.value.reason == "invalid_ses_tag"
    assert refused.value.context["field"] == field


def test_the_transports_mapping_checks_nothing_ses_refuses_what_composing_did_not() -> None:
    # A message queued before its service sent SES tags: SES's refusal fails it, no 400.
    assert tag_pairs(["customer:1042"], {"a": "b c"}) == [("customer:1042", "true"), ("a", "b c")]


def test_an_smtp_service_sends_no_ses_fields_by_default_even_with_odd_tags() -> None:
    assert ses_fields(smtp_service(), ["customer:1042"], {"note": "two words"}) == []


@pytest.mark.parametrize(
    "host",
    [SES_HOST, "email-smtp-fips.us-gov-west-1.amazonaws.com", "EMAIL-SMTP.us-east-1.amazonaws.com"],
)
def test_an_ses_smtp_host_sends_them_unless_told_not_to(host: str) -> None:
    service = smtp_service(host=host, ses_configuration_set="events")

    assert ses_fields(service, ["invoice"], {"campaign": "spring"}) == [
        ("X-SES-MESSAGE-TAGS", "invoice=true, campaign=spring"),
        ("X-SES-CONFIGURATION-SET", "events"),
    ]
    assert ses_fields(smtp_service(host=host, ses_message_tags=False), ["invoice"], {}) == []


@pytest.mark.parametrize(
    "host", ["smtp.example.com", "email-smtp.eu-west-1.amazonaws.com.evil.example", "127.0.0.1"]
)
def test_another_host_sends_them_only_when_told_to(host: str) -> None:
    assert ses_fields(smtp_service(host=host), ["invoice"], {}) == []
    assert ses_fields(smtp_service(host=host, ses_message_tags=True), ["invoice"], {}) == [
        ("X-SES-MESSAGE-TAGS", "invoice=true")
    ]


def test_without_tags_only_the_configuration_set_is_named() -> None:
    service = smtp_service(host=SES_HOST, ses_configuration_set="events")

    assert ses_fields(service, [], {}) == [("X-SES-CONFIGURATION-SET", "events")]


def test_an_ses_api_service_gets_no_header_but_its_tags_are_checked() -> None:
    service = Service(name="ses", type="ses", config=SesConfig(region="eu-west-1"))

    assert ses_fields(service, ["invoice"], {"campaign": "spring"}) == []
    with pytest.raises(InvalidRequest) as refused:
        ses_fields(service, ["customer:1042"], {})
    assert refused.value.reason == "invalid_ses_tag"


def test_a_service_that_sends_ses_fields_refuses_a_tag_ses_cannot_carry_when_composing() -> None:
    request = parse_send_request(
        {"to": "john@example.com", "body_text": "Hi", "tags": ["customer:1042"]}
    )

    with pytest.raises(InvalidRequest) as refused:
        compose(request, smtp_service(host=SES_HOST), now=datetime.now(UTC), size_limit=10**6)
    assert refused.value.reason == "invalid_ses_tag"
    assert refused.value.context == {"field": "tags", "tag": "customer:1042"}
