"""The local stack's state at rest: private to its user, and never able to run code when read.

The state holds the admin key and every SMTP password in clear. Each test runs moto's server
as the stack does (`MotoServer` over a `StateStore` in a temporary directory), on loopback,
talks to it with boto3, and looks at what is left on disk, or plants what an attacker would.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.backends import get_backend
from moto.sqs.models import Message
from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

from local_stack.environment import LOCAL_ACCESS_KEY_ID, REGION
from local_stack.moto_server import MotoServer
from local_stack.moto_state import dump_resources
from local_stack.state_store import StateStore
from tests.support.local_moto import forget_moto

SECRET_ID = "email-api/admin-key"
SECRET_VALUE = "admin-key-kept-private"
ANOTHER_USER = 4242


# moto's backends live in this process: each test starts from none, as a new stack does.
pytestmark = pytest.mark.usefixtures("fresh_moto")


def _aws(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
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
        secrets = boto3.client("secretsmanager", **_aws(server.endpoint_url))
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
            secrets = boto3.client("secretsmanager", **_aws(server.endpoint_url))
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

    with pytest.raises(SystemExit, match=_refusal(tmp_path / "lock", "is a symbolic link")):
        StateStore(tmp_path)
    assert not target.exists()


class _RunsCode:
    """What an attacker plants: unpickling it calls `marker.touch()`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Path.touch, (str(self.marker),))


def test_a_planted_pickle_is_never_loaded(tmp_path: Path) -> None:
    """A `snapshot.pickle` (what earlier versions wrote, or an attacker's) is never unpickled:
    the start stops, saying to reset, and a reset starts clean without reading it."""
    marker = tmp_path.parent / f"{tmp_path.name}-ran"
    planted = tmp_path / "snapshot.pickle"
    fd = os.open(planted, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, pickle.dumps({"backends": _RunsCode(marker)}))
    os.close(fd)

    with pytest.raises(SystemExit, match=r"snapshot\.pickle.*make dev-reset"):
        _start(tmp_path)
    assert not marker.exists()

    state = StateStore(tmp_path)
    state.reset()
    MotoServer(0, state).stop()
    state.close()
    assert not marker.exists()
    assert not planted.exists()


# --- every resource kind, through the JSON snapshot and through the journal ---------------------

ITEM: dict[str, AttributeValueTypeDef] = {
    "pk": {"S": "service#email"},
    "sk": {"N": "1"},
    "owner": {"S": "role-a"},
    "size": {"N": "42.5"},
    "blob": {"B": b"\x00\xffbytes"},
    "names": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "config": {"M": {"host": {"S": "127.0.0.1"}, "ports": {"L": [{"N": "25"}, {"N": "587"}]}}},
    "enabled": {"BOOL": True},
    "nothing": {"NULL": True},
    "expires": {"N": "4102444800"},
}
ATTRIBUTES: dict[str, Any] = {
    "kind": {"DataType": "String", "StringValue": "send"},
    "raw": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
}
DELAY_SECONDS = 600


def _fill(endpoint: str) -> None:
    """One of each thing the stack keeps, in each of its forms."""
    dynamodb = boto3.client("dynamodb", **_aws(endpoint))
    dynamodb.create_table(
        TableName="things",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "size", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-owner",
                "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-size",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "size", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        Tags=[{"Key": "stack", "Value": "local"}],
    )
    dynamodb.update_time_to_live(
        TableName="things",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    dynamodb.put_item(TableName="things", Item=ITEM)
    dynamodb.put_item(TableName="things", Item={"pk": {"S": "other"}, "sk": {"N": "2"}})
    dynamodb.create_table(
        TableName="provisioned",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
    )

    secrets = boto3.client("secretsmanager", **_aws(endpoint))
    secrets.create_secret(Name=SECRET_ID, SecretString=SECRET_VALUE)
    secrets.create_secret(
        Name="email-api/service/smtp",
        SecretString="first",
        Description="SMTP password",
        Tags=[{"Key": "service", "Value": "email"}],
    )
    secrets.put_secret_value(SecretId="email-api/service/smtp", SecretString="rotated")
    secrets.create_secret(Name="email-api/binary", SecretBinary=b"\x00\x01binary")

    sqs = boto3.client("sqs", **_aws(endpoint))
    dead = sqs.create_queue(QueueName="dead", Attributes={"MessageRetentionPeriod": "1209600"})
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead["QueueUrl"], AttributeNames=["QueueArn"])
    work = sqs.create_queue(
        QueueName="work",
        Attributes={
            "VisibilityTimeout": "720",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": 8}
            ),
        },
        tags={"stack": "local"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=work, MessageBody="now", MessageAttributes=ATTRIBUTES)
    sqs.send_message(QueueUrl=work, MessageBody="later", DelaySeconds=DELAY_SECONDS)
    ordered = sqs.create_queue(QueueName="ordered.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    sqs.send_message(
        QueueUrl=ordered, MessageBody="first", MessageGroupId="g", MessageDeduplicationId="d1"
    )

    s3 = boto3.client("s3", **_aws(endpoint))
    s3.create_bucket(Bucket="email-api-staging")
    s3.put_object(Bucket="email-api-staging", Key="staged/1", Body=b"\x00staged message")


def _check(endpoint: str) -> None:
    """What a client of the restarted stack sees of `_fill`'s resources."""
    dynamodb = boto3.client("dynamodb", **_aws(endpoint))
    assert dynamodb.get_item(TableName="things", Key={"pk": ITEM["pk"], "sk": ITEM["sk"]})[
        "Item"
    ] == {**ITEM, "blob": {"B": ITEM["blob"]["B"]}}
    by_owner = dynamodb.query(
        TableName="things",
        IndexName="by-owner",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "role-a"}},
    )
    assert by_owner["Count"] == 1
    ttl = dynamodb.describe_time_to_live(TableName="things")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    secrets = boto3.client("secretsmanager", **_aws(endpoint))
    smtp = secrets.get_secret_value(SecretId="email-api/service/smtp")
    assert smtp["SecretString"] == "rotated"
    binary = secrets.get_secret_value(SecretId="email-api/binary")
    assert binary["SecretBinary"] == b"\x00\x01binary"
    s3 = boto3.client("s3", **_aws(endpoint))
    staged = s3.get_object(Bucket="email-api-staging", Key="staged/1")
    assert staged["Body"].read() == b"\x00staged message"


def _receive(endpoint: str, queue: str) -> list[Any]:
    sqs = boto3.client("sqs", **_aws(endpoint))
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    answer = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    return list(answer.get("Messages", []))


def _delayed(queue: str) -> list[Message]:
    """The messages of `queue` still in their delay, as moto holds them."""
    for regions in get_backend("sqs").values():
        for backend in regions.values():
            if queue in backend.queues:
                return [m for m in backend.queues[queue]._messages if m.delayed]
    raise AssertionError(f"no queue {queue}")


def test_every_resource_kind_survives_a_stop_and_start(tmp_path: Path) -> None:
    """Through the JSON snapshot: moto holds exactly what it held, field for field, and a
    client sees it (boto3 checks each message's MD5 of body and attributes)."""
    state = StateStore(tmp_path)
    server = MotoServer(0, state)
    try:
        _fill(server.endpoint_url)
        before = dump_resources()
    finally:
        server.stop()
        state.close()
    forget_moto()

    state = StateStore(tmp_path)
    server = MotoServer(0, state)
    try:
        assert dump_resources() == before
        _check(server.endpoint_url)
        (message,) = _receive(server.endpoint_url, "work")
        assert (message["Body"], message["MessageAttributes"]["raw"]["BinaryValue"]) == (
            "now",
            b"\x01\x02",
        )
        assert [m.body for m in _delayed("work")] == ["later"]
        (first,) = _receive(server.endpoint_url, "ordered.fifo")
        assert first["Attributes"]["MessageGroupId"] == "g"
    finally:
        server.stop()
        state.close()


_KILLED_STACK = """
import sys, time
from pathlib import Path
from local_stack.moto_server import MotoServer
from local_stack.state_store import StateStore

server = MotoServer(0, StateStore(Path(sys.argv[1])))
print(server.endpoint_url, flush=True)
time.sleep(600)
"""


def test_a_kill_loses_nothing_that_was_answered(tmp_path: Path) -> None:
    """Through the journal only (the start's snapshot was empty): after `kill -9`, every
    resource is back, a delayed message keeps its original due time, a deleted one stays
    gone, and the one a dead poller held is visible again at once."""
    child = subprocess.Popen(  # noqa: S603  # this interpreter, our own script
        [sys.executable, "-c", _KILLED_STACK, str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        endpoint = child.stdout.readline().strip()
        _fill(endpoint)
        sqs = boto3.client("sqs", **_aws(endpoint))
        work = sqs.get_queue_url(QueueName="work")["QueueUrl"]
        sqs.send_message(QueueUrl=work, MessageBody="gone")
        held = _receive(endpoint, "work")
        assert sorted(m["Body"] for m in held) == ["gone", "now"]
        gone = next(m for m in held if m["Body"] == "gone")
        sqs.delete_message(QueueUrl=work, ReceiptHandle=gone["ReceiptHandle"])
        sent_at = time.time()
    finally:
        child.kill()
        child.wait()
    forget_moto()

    state = StateStore(tmp_path)
    server = MotoServer(0, state)
    try:
        assert server.restored.journal_entries > 0
        assert server.restored.released == 1
        _check(server.endpoint_url)
        (again,) = _receive(server.endpoint_url, "work")
        assert again["Body"] == "now"
        assert again["Attributes"]["ApproximateReceiveCount"] == "2"
        (later,) = _delayed("work")
        assert later.body == "later"
        assert abs(later.delayed_until / 1000 - (sent_at + DELAY_SECONDS)) < 5
    finally:
        server.stop()
        state.close()


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b'{"generation": 1}', b'{"resources": {"format": 99}, "received": []}'],
)
def test_a_snapshot_that_cannot_be_read_stops_the_start(tmp_path: Path, content: bytes) -> None:
    snapshot = tmp_path / "snapshot.json"
    fd = os.open(snapshot, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)

    with pytest.raises(SystemExit, match=_refusal(snapshot, "cannot be read")):
        _start(tmp_path)


def test_a_pickled_message_in_an_old_journal_is_never_loaded(tmp_path: Path) -> None:
    """Earlier journals kept SQS messages pickled; such an entry is reported, not unpickled."""
    marker = tmp_path.parent / f"{tmp_path.name}-ran"
    _run_once(tmp_path)
    (journal,) = tmp_path.glob("journal-*.jsonl")
    message = base64.b64encode(pickle.dumps(_RunsCode(marker))).decode()
    entry = {"sqs": [{"queue": ["123456789012", REGION, "work"], "message": message}]}
    with journal.open("a") as file:
        file.write(json.dumps(entry) + "\n")
    forget_moto()

    state = StateStore(tmp_path)
    server = MotoServer(0, state)
    server.stop()
    state.close()

    assert not marker.exists()
    assert len(server.restored.refused) == 1
    assert "pickled" in server.restored.refused[0]


def test_a_reset_removes_a_planted_link_and_nothing_it_points_at(tmp_path: Path) -> None:
    """`make dev-reset` is what a refusal tells the user to run: it must get rid of a planted
    symbolic link (to a folder or a file) without following it."""
    directory = tmp_path / "state"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_text("kept")
    directory.mkdir(mode=0o700)
    (directory / "journal-1.jsonl").symlink_to(elsewhere)
    (directory / "snapshot.json").symlink_to(elsewhere / "precious")

    state = StateStore(directory)
    state.reset()
    state.close()

    assert sorted(path.name for path in directory.iterdir()) == ["lock"]
    assert (elsewhere / "precious").read_text() == "kept"
