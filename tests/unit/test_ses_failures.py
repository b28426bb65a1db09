"""How the SES transport reads botocore's network and credential errors (its answers are read
against a real endpoint in tests/integration/test_ses_transport.py), and the client's budget."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    BotoCoreError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from core.transport.ses.client import budget_for, fits
from core.transport.ses.errors import (
    SesAccessDenied,
    SesConnectFailed,
    SesOutcomeUnknown,
    SesTimeout,
    failure_of,
)

URL = "https://email.us-east-1.amazonaws.com/v2/email/outbound-emails"


def test_no_connection_in_time_is_a_timeout_before_anything_was_sent() -> None:
    failure = failure_of(ConnectTimeoutError(endpoint_url=URL))

    assert isinstance(failure, SesTimeout)
    assert (failure.status, failure.transient, failure.maybe_handed_over) == (504, True, False)


def test_an_endpoint_that_cannot_be_reached_is_tried_again_later() -> None:
    failure = failure_of(EndpointConnectionError(endpoint_url=URL))

    assert isinstance(failure, SesConnectFailed)
    assert failure.transient
    assert not failure.maybe_handed_over


@pytest.mark.parametrize(
    "error",
    [ReadTimeoutError(endpoint_url=URL), ConnectionClosedError(endpoint_url=URL)],
    ids=["read timeout", "closed"],
)
def test_silence_or_a_close_after_sending_leaves_the_outcome_unknown(
    error: BotoCoreError,
) -> None:
    failure = failure_of(error)

    assert isinstance(failure, SesOutcomeUnknown)
    assert failure.maybe_handed_over
    assert not failure.transient
    assert failure.reason == "ses_outcome_unknown"


def test_missing_credentials_are_an_access_problem() -> None:
    failure = failure_of(NoCredentialsError())

    assert isinstance(failure, SesAccessDenied)
    assert not failure.transient


def test_any_other_client_failure_may_have_sent_the_message() -> None:
    failure = failure_of(HTTPClientError(error=OSError("broken")))

    assert isinstance(failure, SesOutcomeUnknown)
    assert not failure.transient


@pytest.mark.parametrize(
    ("remaining", "budget"), [(60.0, 10.0), (19.0, 9.5), (9.97, 4.985), (0.4, 0.2)]
)
def test_a_client_is_built_for_half_the_time_left_at_most_ten_seconds(
    remaining: float, budget: float
) -> None:
    assert budget_for(remaining) == budget


def test_a_client_is_kept_as_the_time_left_shrinks_until_it_no_longer_fits() -> None:
    # An invocation of 28 s: one client until 10 s are left, then a few as the end nears.
    budget, rebuilt = budget_for(28.0), 0
    for tenth in range(280, 1, -1):
        remaining = tenth / 10
        if not fits(budget, remaining):
            budget, rebuilt = budget_for(remaining), rebuilt + 1
        assert budget <= remaining
    assert rebuilt <= 8


def test_a_client_built_near_an_invocations_end_is_not_kept_for_the_next() -> None:
    assert not fits(budget_for(0.8), 28.0)
    assert fits(budget_for(28.0), 27.0)
