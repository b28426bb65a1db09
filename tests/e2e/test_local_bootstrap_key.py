"""The bootstrap admin key through the local stack: listed and rotated over HTTP and with
`mailer`, the old key working through the overlap and not after, and restarts that keep the
rotated key (the banner shows it) or replace it with BOOTSTRAP_ADMIN_KEY."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.api import ApiResponse
from tests.support.stack_process import REPO_ROOT, RunningStack, restart_stack, start_stack

CHOSEN_KEY = "bootstrap-e2e-chosen-key-0123456789"


class Runs:
    """The stack of this test, started again as often as it asks; the last one stops at the end."""

    def __init__(self, first: RunningStack) -> None:
        self.current = first
        self.count = 1

    def restart(self, admin_key: str | None = None) -> RunningStack:
        self.current.stop()
        self.current = restart_stack(self.current, admin_key=admin_key)
        self.count += 1
        return self.current


@pytest.fixture
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """A stack of its own (its key is rotated here), with a generated key, as a plain `make
    dev` has it; key checks never cached, so a rotation shows on the very next request."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTH_CACHE_SECONDS", "0")
        started = Runs(start_stack(tmp_path_factory.mktemp("bootstrap-key"), admin_key=""))
    try:
        yield started
    finally:
        started.current.stop()


def _banner_key(runs: Runs) -> tuple[str, str]:
    """(the admin key, where it came from) as the banner of the latest start printed them."""
    log = runs.current.log_path
    found = re.search(r"Admin API key  (\S+)\n\s+\((.*?)\)\n", log.read_text(), re.DOTALL)
    assert found, log.read_text()
    return found[1], " ".join(found[2].split())


def _call(stack: RunningStack, key: str, method: str, path: str, body: Any = None) -> ApiResponse:
    return stack.request(
        method,
        path,
        body=None if body is None else json.dumps(body),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )


def _works(stack: RunningStack, key: str) -> bool:
    answer = _call(stack, key, "GET", "/api/v2/system/role")
    assert answer.status in (200, 401), answer.body
    return answer.status == 200


def _mailer(stack: RunningStack, key: str, *args: str) -> Any:
    """`mailer ARGS` (this worktree's) with MAILER_URL and MAILER_API_KEY for `stack`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MAILER_")}
    env.update(MAILER_URL=stack.api_url, MAILER_API_KEY=key)
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module, our arguments
        [sys.executable, "-m", "mailer_cli", "--json", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _wait_until(moment: str) -> None:
    time.sleep(max(0.0, (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds()))
    time.sleep(0.05)


def test_rotated_through_the_api_kept_by_a_restart_replaced_by_bootstrap_admin_key(
    runs: Runs,
) -> None:
    stack = runs.current
    first, origin = _banner_key(runs)
    assert "generated" in origin

    listed = _mailer(stack, first, "keys", "list")["resource"]
    (bootstrap,) = [key for key in listed if key["id"] == "bootstrap"]
    assert (bootstrap["role"], bootstrap["enabled"]) == ("bootstrap-admin", True)
    assert first not in json.dumps(listed)

    rotated = _mailer(stack, first, "keys", "rotate", "bootstrap", "--overlap", "30")
    second = rotated["key"]
    assert second != first
    assert _works(stack, first)  # during the overlap
    assert _works(stack, second)

    # The next `make dev` keeps the rotated key and shows it; its own admin call works.
    stack = runs.restart()
    shown, origin = _banner_key(runs)
    assert shown == second
    assert f"rotated through the admin API at {rotated['rotated_at']}" in origin
    assert _works(stack, second)
    assert _call(stack, second, "GET", "/api/v2/system/service/email").status == 200

    # Over HTTP, with a short overlap: the key before stops when it ends.
    again = _call(
        stack, second, "POST", "/api/v2/system/api_key/bootstrap/rotate", {"overlap_seconds": 5}
    )
    assert again.status == 200, again.body
    third = again.body["key"]
    assert _works(stack, second)
    _wait_until(again.body["previous_valid_until"])
    assert not _works(stack, second)
    assert not _works(stack, first)
    assert _works(stack, third)

    # BOOTSTRAP_ADMIN_KEY still chooses the key: the rotated one stops, the chosen one works.
    stack = runs.restart(admin_key=CHOSEN_KEY)
    shown, origin = _banner_key(runs)
    assert shown == CHOSEN_KEY
    assert "replaced the key the admin API had rotated or disabled" in origin
    assert _works(stack, CHOSEN_KEY)
    assert not _works(stack, third)
