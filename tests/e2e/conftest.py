"""One local stack per test session (per xdist worker): `python -m local_stack` on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.events import EVENTS_API_KEY
from tests.support.stack_process import RunningStack, start_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The stack, its admin key being the events' fake key so `events/` replay unchanged."""
    running = start_stack(tmp_path_factory.mktemp("local-stack"), admin_key=EVENTS_API_KEY)
    try:
        yield running
    finally:
        running.stop()
