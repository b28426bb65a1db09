"""`make bench` runs no test of its own in `make test`: its settings must still be all that
core requires, or the first setting added to a deployment breaks the benchmark unnoticed."""

from __future__ import annotations

from bench.environment import BENCH_SETTINGS
from core.settings import Settings


def test_the_benchmarks_settings_are_all_core_requires() -> None:
    settings = Settings.model_validate(BENCH_SETTINGS)

    assert settings.smtp_allow_loopback
