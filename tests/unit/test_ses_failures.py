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

from core.transport.ses.client import budget_of
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
    ("remaining", "budget"), [(9.97, 9.0), (10.0, 10.0), (1.2, 1.0), (0.4, 0.4)]
)
def test_a_client_is_built_for_whole_seconds_of_the_time_left(
    remaining: float, budget: float
) -> None:
    assert budget_of(remaining) == budget
