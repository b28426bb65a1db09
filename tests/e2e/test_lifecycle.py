"""Starting and stopping `python -m local_stack`: quick to be ready, clean on SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.events import EVENTS_API_KEY
from tests.support.network import free_port, port_is_free
from tests.support.stack_process import (
    REPO_ROOT,
    RunningStack,
    stack_environment,
    start_stack,
)

AUTH = {"X-DreamFactory-API-Key": EVENTS_API_KEY}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stops_cleanly_on_signal(tmp_path: Path, signum: signal.Signals) -> None:
    stack = start_stack(tmp_path, admin_key="lifecycle-test-key")

    exit_code = stack.stop(signum)

    assert exit_code == 0, stack.log()
    assert stack.log().splitlines()[-1] == "stopped"
    assert all(port_is_free(port) for port in stack.ports)


@pytest.mark.parametrize("setting", ["LOCAL_API_PORT", "LOCAL_INVOKE_PORT"])
def test_a_taken_port_fails_fast_and_names_its_setting(
    stack: RunningStack, tmp_path: Path, setting: str
) -> None:
    taken = stack.api_port if setting == "LOCAL_API_PORT" else stack.invoke_port
    env = stack_environment(
        api_port=taken if setting == "LOCAL_API_PORT" else free_port(),
        invoke_port=taken if setting == "LOCAL_INVOKE_PORT" else free_port(),
        smtp_port=free_port(),
        moto_port=free_port(),
        mail_dir=tmp_path / "mail",
        admin_key="second-stack-key",
    )

    second = subprocess.run(
        [sys.executable, "-m", "local_stack"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert second.returncode == 1
    assert f"Port {taken} on 127.0.0.1 is in use: set {setting}" in second.stderr
    assert stack.request("GET", "/api/v2/system/service", headers=AUTH).status == 200
