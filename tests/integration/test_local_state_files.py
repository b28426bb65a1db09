"""The local stack's state at rest: private to its user, and never able to run code when read.

The state holds the admin key and every SMTP password in clear. Each test runs moto's server
as the stack does (`MotoServer` over a `StateStore` in a temporary directory), on loopback,
talks to it with boto3, and looks at what is left on disk, or plants what an attacker would.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.backends import get_backend

from local_stack.environment import LOCAL_ACCESS_KEY_ID, REGION
from local_stack.moto_server import MotoServer
from local_stack.state_store import SERVICES, StateStore

SECRET_ID = "email-api/admin-key"
SECRET_VALUE = "admin-key-kept-private"
ANOTHER_USER = 4242


@pytest.fixture(autouse=True)
def fresh_moto() -> Iterator[None]:
    """moto's backends live in this process: each test starts from none, as a new stack does."""
    _forget_moto()
    yield
    _forget_moto()


def _forget_moto() -> None:
    for service in SERVICES:
        get_backend(service).reset()


def _aws(server: MotoServer) -> dict[str, Any]:
    return {
        "endpoint_url": server.endpoint_url,
        "region_name": REGION,
        "aws_access_key_id": LOCAL_ACCESS_KEY_ID,
        "aws_secret_access_key": LOCAL_ACCESS_KEY_ID,
        "config": Config(retries={"max_attempts": 1}),
    }


def _run_once(directory: Path) -> None:
    """A stack's life: start, keep a secret, stop."""
    state = StateStore(directory)
    server = MotoServer(0, state)
    try:
        secrets = boto3.client("secretsmanager", **_aws(server))
        secrets.create_secret(Name=SECRET_ID, SecretString=SECRET_VALUE)
    finally:
        server.stop()
        state.close()


def _start(directory: Path) -> str:
    """Start over `directory` and read the secret back (SystemExit if the state is refused)."""
    state = StateStore(directory)
    try:
        server = MotoServer(0, state)
        try:
            secrets = boto3.client("secretsmanager", **_aws(server))
            return secrets.get_secret_value(SecretId=SECRET_ID)["SecretString"]
        finally:
            server.stop()
    finally:
        state.close()


def _refusal(path: Path, problem: str) -> str:
    """What a refusal of `path` says, as a pattern."""
    return re.escape(f"{path} {problem}")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_state_folder_and_every_file_in_it_are_private(tmp_path: Path) -> None:
    """0700 and 0600 from the start, an existing 0755 folder tightened, whatever the umask."""
    directory = tmp_path / "state"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    umask = os.umask(0o000)
    try:
        _run_once(directory)
    finally:
        os.umask(umask)

    files = sorted(directory.iterdir())
    assert _mode(directory) == 0o700
    assert {path.name.split("-")[0].split(".")[0] for path in files} == {
        "lock",
        "journal",
        "snapshot",
    }
    assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_a_new_state_folder_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "state"

    _run_once(directory)

    assert _mode(directory) == 0o700


def _snapshot(directory: Path) -> Path:
    (snapshot,) = directory.glob("snapshot.*")
    return snapshot


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_snapshot_others_may_write_is_refused(tmp_path: Path, mode: int) -> None:
    _run_once(tmp_path)
    snapshot = _snapshot(tmp_path)
    snapshot.chmod(mode)

    refusal = _refusal(snapshot, "may be written by its group or others")
    with pytest.raises(SystemExit, match=refusal):
        _start(tmp_path)


def test_a_snapshot_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user takes root")
    _run_once(tmp_path)
    snapshot = _snapshot(tmp_path)
    os.chown(snapshot, ANOTHER_USER, -1)

    with pytest.raises(SystemExit, match=_refusal(snapshot, f"belongs to user id {ANOTHER_USER}")):
        _start(tmp_path)


def test_a_journal_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user takes root")
    _run_once(tmp_path)
    (journal,) = tmp_path.glob("journal-*.jsonl")
    os.chown(journal, ANOTHER_USER, -1)

    with pytest.raises(SystemExit, match=_refusal(journal, f"belongs to user id {ANOTHER_USER}")):
        _start(tmp_path)


def test_a_state_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user takes root")
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    os.chown(directory, ANOTHER_USER, -1)

    with pytest.raises(SystemExit, match=_refusal(directory, f"belongs to user id {ANOTHER_USER}")):
        StateStore(directory)


def test_a_state_folder_others_may_write_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    directory.chmod(0o777)

    with pytest.raises(
        SystemExit, match=_refusal(directory, "may be written by its group or others")
    ):
        StateStore(directory)


def test_a_snapshot_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    _run_once(tmp_path)
    snapshot = _snapshot(tmp_path)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    snapshot.rename(elsewhere)
    snapshot.symlink_to(elsewhere)

    with pytest.raises(SystemExit, match=_refusal(snapshot, "is a symbolic link")):
        _start(tmp_path)


def test_a_lock_file_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    """Opening a planted link would create or truncate whatever it points at, as root too."""
    target = tmp_path.parent / f"{tmp_path.name}-target"
    (tmp_path / "lock").symlink_to(target)

    with pytest.raises(OSError, match="lock"):
        StateStore(tmp_path)
    assert not target.exists()
