"""Per-role rate limits: the headers a client sees, 429 when a window is used up, windows that
reset, and the guarantee that matters most: concurrent senders never get past the limit."""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from core.access.model import RateLimits
from core.access.quota import Quota
from core.access.rate_limit import RateLimiter
from core.errors import RateLimited
from core.storage import ItemTable
from handlers.responses import error_headers
from local_stack.template_tables import table_schemas
from tests.conftest import TABLE_NAMES
from tests.support.access import create_key, create_role, send
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer

DAY = 86_400
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def server(aws: None, smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    server = smtp_server()
    create_service(
        {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@example.com"}
    )
    return server


def _key(**rate_limits: int) -> str:
    create_role("app", services=["email"], rate_limits=rate_limits)
    return create_key("app").token


def _next_midnight() -> int:
    return (math.floor(time.time() / DAY) + 1) * DAY


def _rate_headers(response: ApiResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name in RATE_HEADERS}


def _clear_of_the_minute_edge(margin: float = 3.0) -> None:
    """A test that counts within one clock minute should not start just before it ends."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


# --- over the API ---------------------------------------------------------------------------------


def test_successful_sends_carry_the_headers(server: CaptureServer) -> None:
    key = _key(per_day=3)

    answers = [send(key), send(key)]

    assert [answer.status for answer in answers] == [200, 200]
    midnight = str(_next_midnight())
    assert [_rate_headers(answer) for answer in answers] == [
        {
            "X-RateLimit-Limit": "3",
            "X-RateLimit-Remaining": remaining,
            "X-RateLimit-Reset": midnight,
        }
        for remaining in ("2", "1")
    ]
    assert len(server.messages) == 2


@pytest.mark.usefixtures("one_connection_per_send")
def test_over_the_limit(server: CaptureServer) -> None:
    key = _key(per_day=2)
    assert [send(key).status, send(key).status] == [200, 200]

    response = send(key)

    assert (response.status, response.reason) == (429, "rate_limited"), response.body
    assert response.body["error"]["context"] == {"window": "day", "limit": 2}
    assert _rate_headers(response) == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(_next_midnight()),
    }
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= DAY
    assert abs(time.time() + retry_after - _next_midnight()) <= 2
    assert len(server.messages) == 2
    assert server.sessions == 2  # the refused one never connected


def test_per_minute_limit(server: CaptureServer) -> None:
    key = _key(per_minute=1, per_day=100)
    _clear_of_the_minute_edge()

    sent, refused = send(key), send(key)

    # The headers speak of the tighter window: the minute.
    reset = int(sent.headers["X-RateLimit-Reset"])
    assert (sent.status, sent.headers["X-RateLimit-Remaining"]) == (200, "0")
    assert reset % 60 == 0
    assert 0 < reset - time.time() <= 60
    assert (refused.status, refused.reason) == (429, "rate_limited")
    assert refused.body["error"]["context"] == {"window": "minute", "limit": 1}
    assert refused.headers["X-RateLimit-Reset"] == str(reset)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(server.messages) == 1


def test_keys_of_one_role_share_its_limit(server: CaptureServer) -> None:
    first = _key(per_day=2)
    second = create_key("app").token

    answers = [send(first), send(second), send(first), send(second)]

    assert [answer.status for answer in answers] == [200, 200, 429, 429]
    assert [answer.headers.get("X-RateLimit-Remaining") for answer in answers] == [
        "1",
        "0",
        "0",
        "0",
    ]
    assert len(server.messages) == 2


def test_roles_do_not_share_a_limit(server: CaptureServer) -> None:
    first = _key(per_day=1)
    create_role("other", services=["email"], rate_limits={"per_day": 1})
    second = create_key("other").token

    assert [send(first).status, send(second).status] == [200, 200]
    assert [send(first).status, send(second).status] == [429, 429]


def test_refused_sends_do_not_use_up_the_allowance(server: CaptureServer) -> None:
    create_role(
        "app",
        services=["email"],
        senders=["a@example.com"],
        max_recipients=1,
        rate_limits={"per_day": 1},
    )
    key = create_key("app").token

    refusals = [
        send(key, from_email="b@example.com"),
        send(key, cc="jane@example.com"),
        send(key, "other"),
        send(key, to="not-an-address"),
        send(key, body_text=""),
        send(key, subject="Hi\r\nBcc: x@example.com"),
    ]
    sent = send(key)
    limited = send(key)

    assert [(r.status, r.reason) for r in refusals] == [
        (403, "sender_forbidden"),
        (403, "too_many_recipients"),
        (403, "service_forbidden"),
        (400, "invalid_address"),
        (400, "no_body"),
        (400, "header_injection"),
    ]
    assert (sent.status, sent.headers["X-RateLimit-Remaining"]) == (200, "0")
    assert (limited.status, limited.reason) == (429, "rate_limited")
    assert len(server.messages) == 1


def test_raising_the_limit_takes_effect_at_once(server: CaptureServer) -> None:
    key = _key(per_day=1)
    assert [send(key).status, send(key).status] == [200, 429]

    call_api("PATCH", "/api/v2/system/role/app", {"rate_limits": {"per_day": 3}})

    response = send(key)
    assert (response.status, response.headers["X-RateLimit-Remaining"]) == (200, "1")


def test_no_limits_no_headers(server: CaptureServer) -> None:
    key = _key()

    for response in (
        send(key),
        call_api("POST", "/api/v2/email", {"to": "j@example.com", "body_text": "Hi"}),
    ):
        assert response.status == 200, response.body
        assert _rate_headers(response) == {}


# --- windows, with a clock the test turns --------------------------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# 2023-11-14T22:13:20Z plus a bit: inside a minute and a day, away from both edges.
START = 1_700_000_010.5


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def limiter(aws: None, clock: FakeClock) -> RateLimiter:
    return RateLimiter(ItemTable(TABLE_NAMES["RateLimitsTable"], "id"), clock=clock)


def _counters(table_name: str = TABLE_NAMES["RateLimitsTable"], **client: Any) -> list[int]:
    table = boto3.resource("dynamodb", **client).Table(table_name)
    return sorted(_number(item["hits"]) for item in table.scan(ConsistentRead=True)["Items"])


def _number(value: object) -> int:
    assert isinstance(value, Decimal)  # how boto3 reads every DynamoDB number
    return int(value)


def _refusal(limiter: RateLimiter, limits: RateLimits, subject: str = "app") -> RateLimited:
    with pytest.raises(RateLimited) as raised:
        limiter.consume(subject, limits)
    return raised.value


def test_the_minute_window_resets(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = RateLimits(per_minute=2)
    minute_end = 1_700_000_040  # the next multiple of 60

    assert limiter.consume("app", limits).quota == Quota(2, 1, minute_end)
    assert limiter.consume("app", limits).quota == Quota(2, 0, minute_end)
    error = _refusal(limiter, limits)
    assert error_headers(error) == {
        "Retry-After": "30",  # 29.5 s, rounded up
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(minute_end),
    }
    clock.now = minute_end - 0.001
    assert error_headers(_refusal(limiter, limits))["Retry-After"] == "1"

    clock.now = minute_end

    assert limiter.consume("app", limits).quota == Quota(2, 1, minute_end + 60)


def test_the_day_window_resets_at_midnight_utc(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = RateLimits(per_day=1)
    midnight = 1_700_006_400  # 2023-11-15T00:00:00Z

    assert limiter.consume("app", limits).quota == Quota(1, 0, midnight)
    clock.now = midnight - 1
    assert error_headers(_refusal(limiter, limits))["Retry-After"] == "1"

    clock.now = midnight + 5

    assert limiter.consume("app", limits).quota == Quota(1, 0, midnight + DAY)


def test_the_tightest_window_is_reported(limiter: RateLimiter) -> None:
    limits = RateLimits(per_minute=10, per_day=3)

    assert limiter.consume("app", limits).quota == Quota(3, 2, 1_700_006_400)


def test_a_refusal_gives_back_what_it_took(limiter: RateLimiter) -> None:
    # The minute is taken first; the day then refuses, so the minute must get its hit back.
    limits = RateLimits(per_minute=5, per_day=1)
    limiter.consume("app", limits)

    for _ in range(3):
        assert _refusal(limiter, limits).context == {"window": "day", "limit": 1}

    assert _counters() == [1, 1]


def test_a_release_gives_back_exactly_what_was_taken(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    limits = RateLimits(per_minute=1, per_day=2)
    taken = limiter.consume("app", limits)
    clock.now = 1_700_000_040  # the next minute: a new counter, the same day

    taken.release()
    taken.release()  # once only, however often called
    again = limiter.consume("app", limits)

    # The old minute's counter got its hit back, not the new one's.
    assert again.quota == Quota(1, 0, 1_700_000_100)
    assert _counters() == [0, 1, 1]
    assert limiter.consume("app", RateLimits()).counters == ()


def test_subjects_are_counted_apart(limiter: RateLimiter) -> None:
    limits = RateLimits(per_minute=1)

    limiter.consume("app", limits)
    limiter.consume("other", limits)

    assert _refusal(limiter, limits, "app").context["window"] == "minute"


def test_counters_expire_after_their_window(limiter: RateLimiter) -> None:
    limiter.consume("app", RateLimits(per_minute=1, per_day=1))

    table = boto3.resource("dynamodb").Table(TABLE_NAMES["RateLimitsTable"])
    expiries = sorted(_number(item["expires_at"]) for item in table.scan()["Items"])
    minute_end, midnight = 1_700_000_040, 1_700_006_400
    assert minute_end < expiries[0] <= minute_end + DAY
    assert midnight < expiries[1] <= midnight + DAY


# --- concurrency ----------------------------------------------------------------------------------


@pytest.fixture
def serial_dynamodb() -> Iterator[str]:
    """moto as a server that answers one request at a time, on loopback; yields its URL.

    DynamoDB applies each conditional update to an item atomically. moto's in-process mock
    runs concurrent calls on the callers' threads with no such guarantee; a single-threaded
    server serializes them, which is the behaviour the limiter relies on.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(LOOPBACK, 0, app, threaded=False, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="serial-moto", daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def shared_table(serial_dynamodb: str) -> Iterator[str]:
    """The template's rate-limit table on the serial server; yields its name."""
    name = f"rate-limits-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", endpoint_url=serial_dynamodb)
    client.create_table(TableName=name, **table_schemas()["RateLimitsTable"])
    yield name
    client.delete_table(TableName=name)


PARALLEL = 40
LIMIT = 7


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param(RateLimits(per_minute=LIMIT), id="one-window"),
        # The minute refuses first: the day is never touched by a refused request.
        pytest.param(RateLimits(per_minute=LIMIT, per_day=100), id="minute-binds"),
        # The day refuses after the minute was taken: each refusal must give its minute back.
        pytest.param(RateLimits(per_minute=100, per_day=LIMIT), id="day-binds"),
    ],
)
def test_parallel_senders_get_exactly_the_limit(
    serial_dynamodb: str, shared_table: str, limits: RateLimits
) -> None:
    # Each sender is its own "Lambda": its own boto3 resource, table and limiter.
    session = boto3.session.Session()
    limiters = [
        RateLimiter(
            ItemTable(
                shared_table,
                "id",
                table=session.resource("dynamodb", endpoint_url=serial_dynamodb).Table(
                    shared_table
                ),
            ),
            clock=lambda: START,
        )
        for _ in range(PARALLEL)
    ]
    outcomes = _race(limiters, lambda limiter: limiter.consume("app", limits))

    assert outcomes == ["limited"] * (PARALLEL - LIMIT) + ["sent"] * LIMIT
    # Every counter holds exactly the successes: refusals took nothing, or gave it back.
    windows = len(limits.windows())
    assert _counters(shared_table, endpoint_url=serial_dynamodb) == [LIMIT] * windows


# --- a provider's limits: sliding windows ---------------------------------------------------------

SECOND, DAY_MS = 1000, DAY * 1000
START_MS = round(START * 1000)  # in the 100 ms slice 17_000_000_105, the 15 min slice 1_888_888


def _at(clock: FakeClock, ms: int) -> None:
    clock.now = ms / 1000


def _overfull(admitted_ms: list[int], window_ms: int, limit: int) -> list[tuple[int, int]]:
    """Every closed window [t, t + window_ms] holding more than `limit` admissions, as (t, n).

    A window holds the most when it starts at an admission, so starting one at each admission
    checks every window there is, not only those on calendar boundaries."""
    times = sorted(admitted_ms)
    return [
        (start, held)
        for index, start in enumerate(times)
        if (held := bisect.bisect_right(times, start + window_ms) - index) > limit
    ]


def _held(admitted_ms: list[int], first: int, last: int) -> int:
    return sum(first <= ms <= last for ms in admitted_ms)


def _run(limiter: RateLimiter, clock: FakeClock, limits: RateLimits, at_ms: list[int]) -> list[int]:
    """Try once at each of these times; the times that were let through."""
    admitted = []
    for ms in at_ms:
        _at(clock, ms)
        try:
            limiter.consume_sliding("service:email", limits)
        except RateLimited:
            continue
        admitted.append(ms)
    return admitted


def _sliding_refusal(limiter: RateLimiter, limits: RateLimits) -> RateLimited:
    with pytest.raises(RateLimited) as raised:
        limiter.consume_sliding("service:email", limits)
    return raised.value


def test_a_second_boundary_does_not_reset_the_send_rate(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    # The finding: 5 at the end of one second and 5 more at the start of the next.
    limits = RateLimits(per_second=5)
    end_of_second = START_MS + 450

    admitted = _run(limiter, clock, limits, [end_of_second] * 5 + [end_of_second + 60] * 5)

    assert admitted == [end_of_second] * 5


@pytest.mark.parametrize("limit", [1, 2, 5])
@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([37], id="every-37ms"),
        pytest.param([0, 0, 0, 250], id="bursts"),
        pytest.param([1, 99, 1, 899, 3, 997], id="on-slice-edges"),
    ],
)
def test_no_sliding_second_lets_more_than_max_send_rate_through(
    limiter: RateLimiter, clock: FakeClock, limit: int, steps: list[int]
) -> None:
    attempts = list(itertools.accumulate(itertools.islice(itertools.cycle(steps), 400), initial=0))
    at_ms = [START_MS + offset for offset in attempts if offset <= 8 * SECOND]

    admitted = _run(limiter, clock, RateLimits(per_second=limit), at_ms)

    assert _overfull(admitted, SECOND, limit) == []
    # And not much stricter than that: a refusal only when the last 1.2 s hold `limit`.
    for refused in set(at_ms) - set(admitted):
        assert _held(admitted, refused - 1200, refused) >= limit, refused


def test_no_sliding_day_lets_more_than_the_daily_quota_through(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    at_ms = [START_MS + minutes * 60_000 for minutes in range(0, 3 * 24 * 60, 7)]

    admitted = _run(limiter, clock, RateLimits(per_day=4), at_ms)

    assert _overfull(admitted, DAY_MS, 4) == []
    for refused in set(at_ms) - set(admitted):
        assert _held(admitted, refused - DAY_MS - 2 * 900_000, refused) >= 4, refused


def test_both_provider_limits_in_one_item(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = RateLimits(per_second=2, per_day=3)

    admitted = _run(limiter, clock, limits, [START_MS + 10 * n for n in range(5)])
    later = _run(limiter, clock, limits, [START_MS + 5 * SECOND])

    assert (admitted, later) == ([START_MS, START_MS + 10], [START_MS + 5 * SECOND])
    assert _sliding_refusal(limiter, limits).context == {"window": "day", "limit": 3}
    items = boto3.resource("dynamodb").Table(TABLE_NAMES["RateLimitsTable"]).scan()["Items"]
    assert [item["id"] for item in items] == ["service:email#sliding"]


def test_a_refusal_says_when_a_slot_frees_up(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = RateLimits(per_second=2)
    assert _run(limiter, clock, limits, [START_MS, START_MS + 30]) == [START_MS, START_MS + 30]
    # Both are counted in slice [10.5, 10.6): it leaves the window (and its guard slice) at 11.7.
    frees_up = START_MS + 1200

    _at(clock, START_MS + 60)
    refusal = _sliding_refusal(limiter, limits)

    assert refusal.context == {"window": "second", "limit": 2}
    assert error_headers(refusal) == {
        "Retry-After": "2",  # 1.14 s, rounded up
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(math.ceil(frees_up / 1000)),
    }
    assert _run(limiter, clock, limits, [frees_up - 1, frees_up, frees_up]) == [frees_up] * 2


def test_a_daily_quota_refusal_says_when_a_slot_frees_up(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    limits = RateLimits(per_day=3)
    hour = 3_600_000
    _run(limiter, clock, limits, [START_MS, START_MS + hour, START_MS + 2 * hour])
    # The first is counted in the 15 minutes from 1_699_999_200: a day and a guard later, it
    # leaves, at the end of the slice after the one that ends the day.
    frees_up = (1_699_999_200 + DAY + 2 * 900) * 1000

    _at(clock, START_MS + 3 * hour)
    refusal = _sliding_refusal(limiter, limits)

    assert error_headers(refusal)["Retry-After"] == str(
        math.ceil((frees_up - clock.now * 1000) / 1000)
    )
    assert _run(limiter, clock, limits, [frees_up - 1, frees_up, frees_up]) == [frees_up]


def test_a_released_admission_gives_its_slot_back(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = RateLimits(per_second=1, per_day=5)
    _at(clock, START_MS)
    taken = limiter.consume_sliding("service:email", limits)
    _sliding_refusal(limiter, limits)

    taken.release()
    taken.release()  # once only, however often called
    again = limiter.consume_sliding("service:email", limits)

    assert again.quota == Quota(1, 0, math.ceil((START_MS + 1200) / 1000))
    _sliding_refusal(limiter, limits)
    # The day counted the released one out too: four more fit today, not three.
    assert len(_run(limiter, clock, limits, [START_MS + n * 2 * SECOND for n in range(1, 9)])) == 4


def test_a_lagging_clock_does_not_slip_in_behind_the_latest(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    limits = RateLimits(per_second=1)
    assert _run(limiter, clock, limits, [START_MS]) == [START_MS]

    # A worker whose clock is 1.5 s behind counts as late as the latest write, not earlier.
    assert _run(limiter, clock, limits, [START_MS - 1500]) == []


def test_no_provider_limits_touch_nothing(limiter: RateLimiter) -> None:
    reservation = limiter.consume_sliding("service:email", RateLimits())

    reservation.release()
    assert (reservation.quota, reservation.counters) == (None, ())
    assert boto3.client("dynamodb").scan(TableName=TABLE_NAMES["RateLimitsTable"])["Count"] == 0


def test_sliding_counters_expire_after_their_windows(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    limiter.consume_sliding("service:email", RateLimits(per_second=1, per_day=1))

    table = boto3.resource("dynamodb").Table(TABLE_NAMES["RateLimitsTable"])
    (item,) = table.scan()["Items"]
    expires_at = _number(item["expires_at"])
    assert START + DAY < expires_at <= START + 2 * DAY


def _limiters(
    url: str, table_name: str, clock: Callable[[], float], count: int
) -> list[RateLimiter]:
    """`count` senders, each its own "Lambda": its own boto3 session, table and limiter."""
    return [
        RateLimiter(
            ItemTable(
                table_name,
                "id",
                table=boto3.session.Session()
                .resource("dynamodb", endpoint_url=url)
                .Table(table_name),
            ),
            clock=clock,
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param(RateLimits(per_second=LIMIT), id="max-send-rate"),
        pytest.param(RateLimits(per_second=100, per_day=LIMIT), id="daily-quota"),
    ],
)
def test_parallel_senders_get_exactly_the_provider_limit(
    serial_dynamodb: str, shared_table: str, limits: RateLimits
) -> None:
    limiters = _limiters(serial_dynamodb, shared_table, lambda: START, PARALLEL)
    outcomes = _race(limiters, lambda limiter: limiter.consume_sliding("service:email", limits))

    assert outcomes == ["limited"] * (PARALLEL - LIMIT) + ["sent"] * LIMIT
    table = boto3.resource("dynamodb", endpoint_url=serial_dynamodb).Table(shared_table)
    (item,) = table.scan(ConsistentRead=True)["Items"]
    windows = item["windows"]
    assert isinstance(windows, dict)
    assert {name: sum(map(_number, counts.values())) for name, counts in windows.items()} == {
        name: LIMIT for name, _, _ in limits.windows()
    }


def test_parallel_senders_never_exceed_the_send_rate_in_any_window(
    serial_dynamodb: str, shared_table: str
) -> None:
    # Senders try together at each tick of a shared clock; ticks come at uneven steps, some
    # on the 100 ms slices' edges, over some six seconds.
    senders, limit = 8, 3
    steps = itertools.cycle([0, 40, 60, 100, 1, 199, 330, 17])
    ticks = list(itertools.accumulate(itertools.islice(steps, 40), initial=START_MS))
    now = {"ms": ticks[0]}
    limiters = _limiters(serial_dynamodb, shared_table, lambda: now["ms"] / 1000, senders)
    together = threading.Barrier(senders + 1)
    admitted: list[int] = []
    failures: list[str] = []

    def sender(limiter: RateLimiter) -> None:
        for _ in ticks:
            together.wait()  # the tick has been set
            try:
                limiter.consume_sliding("service:email", RateLimits(per_second=limit))
            except RateLimited:
                pass
            except Exception as error:  # reported by the assertion below
                failures.append(repr(error))
            else:
                admitted.append(now["ms"])
            together.wait()  # every sender is done with this tick

    threads = [threading.Thread(target=sender, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for tick in ticks:
        now["ms"] = tick
        together.wait()
        together.wait()
    for thread in threads:
        thread.join()

    assert failures == []
    assert _overfull(admitted, SECOND, limit) == []
    for tick in ticks:
        if admitted.count(tick) < senders:  # someone was refused at this tick
            assert _held(admitted, tick - 1200, tick) >= limit, tick


def _race(limiters: list[RateLimiter], take: Callable[[RateLimiter], object]) -> list[str]:
    """Every limiter takes once, all released together; the sorted outcomes ("sent",
    "limited", or the repr of anything else raised)."""
    start = threading.Barrier(len(limiters))
    outcomes: list[str] = []

    def sender(limiter: RateLimiter) -> None:
        start.wait()
        try:
            take(limiter)
        except RateLimited:
            outcomes.append("limited")
        except Exception as error:  # reported by the caller's assertion
            outcomes.append(repr(error))
        else:
            outcomes.append("sent")

    threads = [threading.Thread(target=sender, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)
