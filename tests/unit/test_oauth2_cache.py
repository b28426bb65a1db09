"""The token cache: one token for many sends, kept by identity until shortly before it expires,
dropped when the server calls it stale, fetched once for many threads. A fake token source
(checked against `TokenSource` by mypy) and fake clocks; the real client is tested on loopback
(tests/integration/test_oauth2_tokens.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from core.oauth2.cache import ClientOnFirstUse, TokenCache, TokenSource
from core.oauth2.config import Grant, OAuth2Settings
from core.oauth2.errors import OAuth2TokenFailed, OAuth2TokenTimeout
from core.oauth2.tokens import AccessToken, TokenRequest
from core.transport.base import Deadline

SETTINGS = OAuth2Settings(
    token_url="https://login.example.com/token",
    client_id="app-1",
    scope="https://outlook.office365.com/.default",
    grant=Grant.CLIENT_CREDENTIALS,
)
REQUEST = TokenRequest(SETTINGS, client_secret="s3cret", secret_id="svc/email", secret_version="v1")


@dataclass
class FakeTokenSource:
    """Hands out `token-1`, `token-2`, ... living `lifetime` seconds; or raises `failure`."""

    lifetime: float = 3600
    failure: Exception | None = None
    requests: list[TokenRequest] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event | None = None

    def fetch(self, request: TokenRequest, deadline: Deadline) -> AccessToken:
        self.requests.append(request)
        self.entered.set()
        if self.release is not None:
            self.release.wait(5)
        if self.failure is not None:
            raise self.failure
        return AccessToken(f"token-{len(self.requests)}", self.lifetime)


_source: TokenSource = FakeTokenSource()  # the fake keeps the port's shape (mypy checks)


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _eventually(condition: Callable[[], bool]) -> bool:
    give_up = time.monotonic() + 5
    while not condition() and time.monotonic() < give_up:
        time.sleep(0.01)
    return condition()


def _deadline() -> Deadline:
    return Deadline.after(5)


def _cache(source: FakeTokenSource, *clocks: FakeClock) -> TokenCache:
    return TokenCache(source, clocks=clocks or (FakeClock(),))


def test_one_token_request_serves_many_sends() -> None:
    source = FakeTokenSource()
    cache = _cache(source)

    tokens = {cache.token(REQUEST, _deadline()) for _ in range(5)}

    assert (tokens, len(source.requests)) == ({"token-1"}, 1)


@pytest.mark.parametrize(
    ("lifetime", "fresh_until"),
    [(3600, 3540), (100, 50), (30, 15)],  # 60 s before the end, or half a short life
)
def test_a_token_is_fetched_anew_shortly_before_it_expires(
    lifetime: float, fresh_until: float
) -> None:
    source = FakeTokenSource(lifetime=lifetime)
    clock = FakeClock()
    cache = _cache(source, clock)
    cache.token(REQUEST, _deadline())

    clock.now += fresh_until - 0.5
    assert cache.token(REQUEST, _deadline()) == "token-1"
    clock.now += 0.5
    assert cache.token(REQUEST, _deadline()) == "token-2"


def test_either_clock_jumping_ages_the_token() -> None:
    """A Lambda frozen between invocations: its monotonic clock may have stood still."""
    monotonic, wall = FakeClock(), FakeClock(5_000_000.0)
    source = FakeTokenSource(lifetime=3600)
    cache = _cache(source, monotonic, wall)
    cache.token(REQUEST, _deadline())

    wall.now += 3600

    assert cache.token(REQUEST, _deadline()) == "token-2"


@pytest.mark.parametrize(
    "changed",
    [
        replace(REQUEST, secret_version="v2"),
        replace(REQUEST, secret_id="svc/other"),
        replace(REQUEST, settings=SETTINGS.model_copy(update={"client_id": "app-2"})),
        replace(REQUEST, settings=SETTINGS.model_copy(update={"scope": "other"})),
        replace(
            REQUEST,
            settings=SETTINGS.model_copy(update={"token_url": "https://login.example.org/t"}),
        ),
    ],
)
def test_another_identity_gets_a_token_of_its_own(changed: TokenRequest) -> None:
    source = FakeTokenSource()
    cache = _cache(source)
    cache.token(REQUEST, _deadline())

    assert cache.token(changed, _deadline()) == "token-2"
    assert cache.token(REQUEST, _deadline()) == "token-1"


def test_a_stale_token_is_replaced_after_invalidate() -> None:
    source = FakeTokenSource()
    cache = _cache(source)
    stale = cache.token(REQUEST, _deadline())

    cache.invalidate(REQUEST, stale)

    assert cache.token(REQUEST, _deadline()) == "token-2"


def test_invalidating_a_token_already_replaced_keeps_the_new_one() -> None:
    """Two senders met the same stale token: the second invalidate must not cost a request."""
    source = FakeTokenSource()
    cache = _cache(source)
    stale = cache.token(REQUEST, _deadline())
    cache.invalidate(REQUEST, stale)
    fresh = cache.token(REQUEST, _deadline())

    cache.invalidate(REQUEST, stale)

    assert cache.token(REQUEST, _deadline()) == fresh
    assert len(source.requests) == 2


def test_a_failure_is_raised_and_nothing_is_kept() -> None:
    failure = OAuth2TokenFailed("refused", error="invalid_client", status=401, transient=False)
    source = FakeTokenSource(failure=failure)
    cache = _cache(source)

    with pytest.raises(OAuth2TokenFailed):
        cache.token(REQUEST, _deadline())
    source.failure = None

    assert cache.token(REQUEST, _deadline()) == "token-2"


def test_many_threads_one_token_request() -> None:
    source = FakeTokenSource(release=threading.Event())
    cache = _cache(source)
    tokens: list[str] = []

    def send() -> None:
        tokens.append(cache.token(REQUEST, _deadline()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert source.entered.wait(5)
    assert source.release is not None
    source.release.set()
    for thread in threads:
        thread.join(5)

    assert (tokens, len(source.requests)) == (["token-1"] * 8, 1)


def test_a_waiting_sender_gives_up_at_its_deadline() -> None:
    source = FakeTokenSource(release=threading.Event())
    cache = _cache(source)
    first = threading.Thread(target=cache.token, args=(REQUEST, _deadline()))
    first.start()
    assert source.entered.wait(5)
    try:
        with pytest.raises(OAuth2TokenTimeout) as raised:
            cache.token(REQUEST, Deadline.after(0.05))
    finally:
        assert source.release is not None
        source.release.set()
        first.join(5)

    assert (raised.value.status, raised.value.reason, raised.value.transient) == (
        504,
        "oauth_token_failed",
        True,
    )


def test_other_identities_are_not_held_up_by_a_fetch() -> None:
    slow = FakeTokenSource(release=threading.Event())
    cache = _cache(slow)
    first = threading.Thread(target=cache.token, args=(REQUEST, _deadline()))
    first.start()
    assert slow.entered.wait(5)
    other = threading.Thread(
        target=cache.token, args=(replace(REQUEST, secret_version="v9"), _deadline())
    )
    other.start()
    try:
        # The other identity's fetch begins while the first is still under way.
        assert _eventually(lambda: len(slow.requests) == 2)
    finally:
        assert slow.release is not None
        slow.release.set()
        first.join(5)
        other.join(5)


def test_a_lease_says_whether_its_token_was_fetched_for_it() -> None:
    cache = _cache(FakeTokenSource())

    first = cache.lease(REQUEST, _deadline())
    second = cache.lease(REQUEST, _deadline())

    assert (first.value, first.fetched) == ("token-1", True)
    assert (second.value, second.fetched) == ("token-1", False)


def test_the_real_source_is_built_on_the_first_request_only() -> None:
    built: list[FakeTokenSource] = []

    def build() -> FakeTokenSource:
        built.append(FakeTokenSource())
        return built[-1]

    cache = TokenCache(ClientOnFirstUse(build), clocks=(FakeClock(),))
    assert built == []

    cache.token(REQUEST, _deadline())
    cache.token(replace(REQUEST, secret_version="v2"), _deadline())

    assert len(built) == 1
    assert len(built[0].requests) == 2
