"""The boto3 SES v2 client a transport sends with: built once, with botocore's retries off and
its timeouts cut to the send's time budget.

botocore keeps the HTTPS connection of a client alive between calls (urllib3's pool), so a
transport keeps one client for as long as it lives: each message then costs one request on a
warm connection. Its own retries are off (one attempt a call): a throttled or failed send goes
back to the queue, which spaces its retries and honours the service's retry window, instead of
botocore sleeping inside the function.

botocore fixes its timeouts when the client is built and bounds each wait with them (the
connect, and each read), not the call as a whole; so a client's budget is split between the
two. A client is built for half the time a send has left (at most `MAX_BUDGET_SECONDS`) and
kept while it `fits`: until the time left is less than its budget (near an invocation's end:
the next client gets half of what is left, so the last seconds cost a few rebuilds, not one a
second), or much more than it (the next invocation, after a short one's end).
"""

from __future__ import annotations

from typing import Any, Protocol

# The smallest budget a client is built for: below it, sending is not worth starting.
MIN_BUDGET_SECONDS = 0.05
# The longest a client waits for SES, connect and read together: SES answers a SendEmail well
# within a second, so a wait this long means a broken connection, not a slow one.
MAX_BUDGET_SECONDS = 10.0


class SesApi(Protocol):
    """The part of botocore's `sesv2` client the transport and its probe call."""

    def send_email(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_account(self) -> dict[str, Any]: ...

    def get_email_identity(self, *, EmailIdentity: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


def budget_for(remaining: float) -> float:
    """The budget a new client is built for when a send has `remaining` seconds left."""
    return min(MAX_BUDGET_SECONDS, remaining / 2)


def fits(budget: float, remaining: float) -> bool:
    """Whether a client built for `budget` may send with `remaining` seconds left: its waits
    end in time, and it was not built for far less time than there is now."""
    return budget <= remaining and budget >= min(MAX_BUDGET_SECONDS, remaining / 4)


def build_client(region: str, budget: float, *, endpoint_url: str | None = None) -> SesApi:
    """An `sesv2` client for `region` whose connect and read together fit in `budget` seconds.

    `endpoint_url` is for tests and the benchmark; otherwise boto3 finds the endpoint (and
    honours AWS_ENDPOINT_URL, as the local stack sets it)."""
    import boto3  # here, not at import: only an SES service's first send pays for it
    from botocore.config import Config

    from core.aws_session import CREATING_CLIENTS

    config = Config(
        region_name=region,
        connect_timeout=budget / 2,
        read_timeout=budget / 2,
        retries={"total_max_attempts": 1},
        # One connection: a transport is lent to one sender at a time.
        max_pool_connections=1,
    )
    with CREATING_CLIENTS:
        client: SesApi = boto3.client("sesv2", config=config, endpoint_url=endpoint_url)
    return client
