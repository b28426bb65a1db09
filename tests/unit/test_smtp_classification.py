"""Which SMTP failures say that a kept connection was found dead before the handover (the
session then marks them `stale_connection`, and delivery sends once more on a new one)."""

from __future__ import annotations

import pytest

from core.transport.smtp.classification import found_dead
from core.transport.smtp.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
)


def _at(
    stage: str, failure: type[SmtpFailure] = SmtpConnectFailed, **context: object
) -> SmtpFailure:
    return failure("lost", context={"host": "smtp.example.com", "stage": stage, **context})


@pytest.mark.parametrize(
    ("failure", "dead"),
    [
        (_at("mail"), True),
        (SmtpConnectFailed("refused"), True),  # no stage: while connecting
        (_at("data"), True),
        (_at("end_of_data"), False),
        (_at("end_of_data", SmtpOutcomeUnknown), False),
        (SmtpOutcomeUnknown("no stage"), False),
        (_at("rcpt", SmtpDeferred, smtp_code=421), True),
        (_at("end_of_data", SmtpDeferred, smtp_code=421), False),
        (_at("rcpt", SmtpDeferred, smtp_code=452), False),
        (_at("mail", SmtpRejected, smtp_code=550), False),
        (_at("auth", SmtpAuthFailed, smtp_code=535), False),
        (_at("mail", SmtpTimeout), False),
        (_at("some_new_stage"), False),
    ],
)
def test_found_dead_only_before_the_final_dot(failure: SmtpFailure, dead: bool) -> None:
    assert found_dead(failure) is dead
