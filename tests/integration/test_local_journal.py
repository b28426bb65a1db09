"""The journal's SQS entries: a message a dead poller held is released at once on restart,
whatever else talked to the queue while it was being received.

Each test runs moto's server as the stack does (`MotoServer` over a `StateStore` in a temporary
directory) on loopback, and talks to it with boto3. A kill is played by copying the state
folder as it is at that moment (every answered change is synced before its answer) and
starting a second server on the copy.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from moto.sqs.models import Message

from local_stack.environment import LOCAL_ACCESS_KEY_ID, REGION
from local_stack.moto_server import MotoServer
from local_stack.state_store import StateStore
from tests.support.local_moto import forget_moto

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# The send queue's: what a held message would sit out after a restart, were it not released.
VISIBILITY_TIMEOUT = "720"
# How long the forced interleaving gives the other call to finish while the receive is held
# mid-way; the journal either lets it through (and must still journal the receive right) or
# makes it wait its turn. Either way the outcome is the same: only the test's length varies.
OTHER_CALL_SECONDS = 1.0


# moto's backends live in this process: each test starts from none, as a new stack does.
pytestmark = pytest.mark.usefixtures("fresh_moto")


def _sqs(endpoint: str) -> SQSClient:
    client: SQSClient = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_ACCESS_KEY_ID,
        config=Config(retries={"max_attempts": 1}),
    )
    return client


def _as_killed(state_dir: Path, copy: Path) -> Path:
    """What a `kill -9` at this instant leaves on disk."""
    shutil.copytree(state_dir, copy)
    (copy / "lock").unlink()
    return copy


def _restart(state_dir: Path) -> tuple[StateStore, MotoServer]:
    forget_moto()
    state = StateStore(state_dir)
    return state, MotoServer(0, state)


def test_a_message_received_while_another_call_journals_is_released_on_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, finding 1: a ReceiveMessage is held just after moto marked the message
    received, while another queue call (a SendMessage, as the API makes during a flood) is
    let run. Whatever order the journal lets them finish in, the message must be journaled
    as held by the poller, so that a restart makes it visible at once instead of after the
    queue's 720 s visibility timeout."""
    state = StateStore(tmp_path / "state")
    server = MotoServer(0, state)
    try:
        sqs = _sqs(server.endpoint_url)
        url = sqs.create_queue(
            QueueName="work", Attributes={"VisibilityTimeout": VISIBILITY_TIMEOUT}
        )["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="held")

        marked = threading.Event()
        go_on = threading.Event()
        mark_received = Message.mark_received

        def held_mid_receive(message: Message, *args: Any, **kwargs: Any) -> None:
            mark_received(message, *args, **kwargs)
            marked.set()
            go_on.wait(10)

        monkeypatch.setattr(Message, "mark_received", held_mid_receive)
        received: list[Any] = []
        receive = threading.Thread(
            target=lambda: received.extend(
                _sqs(server.endpoint_url)
                .receive_message(QueueUrl=url, WaitTimeSeconds=1)
                .get("Messages", [])
            )
        )
        receive.start()
        assert marked.wait(10)
        other = threading.Thread(
            target=lambda: _sqs(server.endpoint_url).send_message(QueueUrl=url, MessageBody="other")
        )
        other.start()
        other.join(OTHER_CALL_SECONDS)
        go_on.set()
        receive.join(10)
        other.join(10)
        monkeypatch.undo()
        assert [m["Body"] for m in received] == ["held"]

        killed = _as_killed(tmp_path / "state", tmp_path / "killed")
    finally:
        server.stop()
        state.close()
    restarted_state, restarted = _restart(killed)
    try:
        assert restarted.restored.released == 1
        again = _sqs(restarted.endpoint_url).receive_message(
            QueueUrl=url.replace(server.endpoint_url, restarted.endpoint_url),
            MaxNumberOfMessages=10,
        )
        assert sorted(m["Body"] for m in again.get("Messages", [])) == ["held", "other"]
    finally:
        restarted.stop()
        restarted_state.close()


def test_a_waiting_receive_holds_up_neither_a_snapshot_nor_a_send(tmp_path: Path) -> None:
    """A long poll waits outside the one-at-a-time lock: while it waits (20 s at most) a
    snapshot is taken and a message sent, and the send's message is what it returns."""
    state = StateStore(tmp_path / "state")
    server = MotoServer(0, state)
    try:
        sqs = _sqs(server.endpoint_url)
        url = sqs.create_queue(QueueName="work")["QueueUrl"]
        received: list[Any] = []
        receive = threading.Thread(
            target=lambda: received.extend(
                _sqs(server.endpoint_url)
                .receive_message(QueueUrl=url, WaitTimeSeconds=20)
                .get("Messages", [])
            )
        )
        receive.start()
        # Its first look finds nothing: from then on it waits.
        receive.join(0.5)

        state.snapshot()
        assert receive.is_alive()
        sqs.send_message(QueueUrl=url, MessageBody="woken")
        receive.join(20)

        assert [m["Body"] for m in received] == ["woken"]
    finally:
        server.stop()
        state.close()
