"""The SES connection test against a stand-in SES endpoint on loopback: each stage (the account,
the sender's identity), and the failure a send would meet when one does not pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.transport.base import Deadline
from core.transport.ses import SesTransport
from tests.support.ses_endpoint import Accept, Refuse, SesEndpoint

REGION = "eu-west-1"
SENDER = "noreply@example.com"
ACCOUNT = {
    "SendingEnabled": True,
    "ProductionAccessEnabled": True,
    "EnforcementStatus": "HEALTHY",
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 12.0},
}


def identity(kind: str = "DOMAIN", *, verified: bool = True, status: str = "SUCCESS") -> Accept:
    body: dict[str, Any] = {
        "IdentityType": kind,
        "VerifiedForSendingStatus": verified,
        "VerificationStatus": status,
    }
    return Accept(body=body)


NOT_FOUND = Refuse(404, "NotFoundException", "Email identity <x> does not exist.")


@pytest.fixture
def endpoint() -> Iterator[SesEndpoint]:
    with SesEndpoint() as running:
        yield running


def inspect(endpoint: SesEndpoint, sender: str | None = SENDER) -> Any:
    transport = SesTransport(REGION, "events", sender=sender, endpoint_url=endpoint.url)
    return transport.inspect(Deadline.after(5))


def test_a_healthy_account_and_a_verified_sender_pass_both_stages(endpoint: SesEndpoint) -> None:
    endpoint.answer(Accept(body=ACCOUNT), identity("EMAIL_ADDRESS"))

    log = inspect(endpoint)

    assert log.failure is None
    assert [stage for stage, _ in log.marks] == ["account", "identity"]
    assert log.account.production_access
    assert log.account.max_send_rate == 14.0
    assert log.identity.identity == SENDER
    assert [request.path for request in endpoint.requests] == [
        "/v2/email/account",
        "/v2/email/identities/noreply%40example.com",
    ]
    assert endpoint.sent() == []  # nothing was sent


def test_a_sender_of_a_verified_domain_passes_through_the_domain(endpoint: SesEndpoint) -> None:
    endpoint.answer(Accept(body=ACCOUNT), NOT_FOUND, identity("DOMAIN"))

    log = inspect(endpoint)

    assert log.failure is None
    assert log.identity.identity == "example.com"
    assert log.identity.identity_type == "DOMAIN"


def test_the_sandbox_is_reported_but_passes(endpoint: SesEndpoint) -> None:
    endpoint.answer(Accept(body={**ACCOUNT, "ProductionAccessEnabled": False}), identity())

    log = inspect(endpoint)

    assert log.failure is None
    assert not log.account.production_access


def test_an_account_that_may_not_send_fails_as_a_send_would(endpoint: SesEndpoint) -> None:
    endpoint.answer(Accept(body={**ACCOUNT, "SendingEnabled": False}))

    log = inspect(endpoint)

    assert log.failed_stage == "account"
    assert log.failure.reason == "ses_sending_paused"
    assert len(endpoint.requests) == 1


@pytest.mark.parametrize(
    "answers",
    [[NOT_FOUND, NOT_FOUND], [identity(verified=False, status="PENDING")]],
    ids=["no identity", "pending"],
)
def test_an_unverified_sender_fails_as_a_send_would(
    endpoint: SesEndpoint, answers: list[Any]
) -> None:
    endpoint.answer(Accept(body=ACCOUNT), *answers)

    log = inspect(endpoint)

    assert log.failed_stage == "identity"
    assert log.failure.reason == "ses_identity_not_verified"
    assert not log.failure.transient


def test_a_role_without_the_permission_is_told_so(endpoint: SesEndpoint) -> None:
    endpoint.answer(
        Refuse(403, "AccessDeniedException", "not authorized to perform ses:GetAccount")
    )

    log = inspect(endpoint)

    assert log.failed_stage == "account"
    assert log.failure.reason == "ses_access_denied"


def test_a_service_without_a_default_sender_checks_the_account_only(
    endpoint: SesEndpoint,
) -> None:
    endpoint.answer(Accept(body=ACCOUNT))

    log = inspect(endpoint, sender=None)

    assert log.failure is None
    assert [stage for stage, _ in log.marks] == ["account"]
