"""The stages of an SMTP session: what a failure means depends on the one it happened at."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where in the session a failure happened."""

    GREETING = "greeting"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    # An XOAUTH2 login getting its token, before AUTH. (A stage's name, not a token.)
    OAUTH2_TOKEN = "oauth2_token"  # noqa: S105
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command, its 354, and the message until its final dot is read
    END_OF_DATA = "end_of_data"  # the final dot is written: waiting for the verdict
