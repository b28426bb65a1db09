"""moto's write-ahead journal: every accepted change is on disk before moto answers.

moto keeps everything in memory. In front of its WSGI app sits `JournalingApp`, which lets a
request through and, before the answer leaves, appends what it changed to `journal-<n>.jsonl`
and syncs it (`fdatasync`): an answer a client has seen survives the process being killed.
A restart loads the last snapshot (`local_stack.state_store`) and replays the journal on top.

Two kinds of entry, because moto's own recorder (which replays raw requests) cannot bring a
queue back:

- `http`: a successful changing request to DynamoDB, Secrets Manager or S3, replayed as it came
  (boto3 puts its idempotency tokens in the body, so replaying it yields the same state). Reads
  are not written.
- `sqs`: for SQS, the *effect* instead: the messages that appeared or changed (as JSON of
  every field moto holds, `local_stack.moto_state.message_json`, their absolute
  `delayed_until` and `visible_at` among them) and the ones deleted.
  Replaying SendMessage would restart its delay from the replay, ReceiveMessage would mint new
  receipt handles, and DeleteMessage names a handle that no longer exists; the effect, like a
  Redis AOF rewriting EXPIRE into PEXPIREAT, means the same thing whenever it is applied.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from moto.backends import get_backend
from werkzeug.test import Client

from local_stack.moto_state import dumps, loads, message_from_json, message_json
from local_stack.private_files import open_private
from local_stack.wsgi import Answer, StartResponse, WsgiApp, answer_of, take_body

# WSGI's callables, spelled out once.
# A finished request: status line, headers, body.

# (account, region, queue name)
QueueKey = tuple[str, str, str]
# What tells one state of a queued message from another.
Fingerprint = tuple[str | None, float, float, int]

# The services the stack uses; a request to any other is not journaled.
JOURNALED_SERVICES = frozenset({"dynamodb", "secretsmanager", "s3", "sqs"})
# Actions that change nothing: never written.
READ_ACTIONS = frozenset(
    {
        # DynamoDB
        "BatchGetItem",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeLimits",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        "Scan",
        "TransactGetItems",
        # Secrets Manager
        "BatchGetSecretValue",
        "DescribeSecret",
        "GetRandomPassword",
        "GetResourcePolicy",
        "GetSecretValue",
        "ListSecretVersionIds",
        "ListSecrets",
    }
)
# SQS actions about queues rather than messages: deterministic, so replayed as requests.
SQS_QUEUE_ACTIONS = frozenset(
    {
        "AddPermission",
        "CreateQueue",
        "DeleteQueue",
        "RemovePermission",
        "SetQueueAttributes",
        "TagQueue",
        "UntagQueue",
    }
)
# How often a ReceiveMessage waiting for messages looks again for one that became visible
# with time (its delay or a visibility timeout over); a queue call wakes it at once. moto's own
# long poll looked once a second.
RECEIVE_POLL_SECONDS = 0.2
# What SQS takes as a ReceiveMessage's WaitTimeSeconds.
MAX_WAIT_SECONDS = 20
# Headers a replay does without: recomputed, or about the connection.
_DROPPED_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "user-agent"})


@dataclass(frozen=True)
class Call:
    """Which service and action a request to moto is (from its SigV4 scope and target)."""

    service: str
    action: str
    method: str

    @property
    def changes_state(self) -> bool:
        if self.service == "s3":
            return self.method not in ("GET", "HEAD", "OPTIONS")
        return self.action not in READ_ACTIONS


def classify(environ: dict[str, Any], body: bytes) -> Call | None:
    """The call `environ` makes, or None when it is not for a journaled service."""
    scope = environ.get("HTTP_AUTHORIZATION", "").split(",")[0].split()
    try:
        _, _, _, service, _ = scope[1].removeprefix("Credential=").split("/")
    except (IndexError, ValueError):
        return None
    if service not in JOURNALED_SERVICES:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    action = target.rpartition(".")[2]
    if not action and b"Action=" in body:  # the query protocol
        action = body.split(b"Action=", 1)[1].split(b"&", 1)[0].decode()
    return Call(service, action, environ.get("REQUEST_METHOD", "GET"))


class SharedExclusiveLock:
    """Requests hold it shared; a snapshot holds it alone, so none is half-applied in it.

    A waiting snapshot goes first: new requests wait behind it instead of starving it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive and not self._exclusive_waiting)
            self._shared += 1
        try:
            yield
        finally:
            with self._condition:
                self._shared -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._exclusive_waiting += 1
            self._condition.wait_for(lambda: not self._exclusive and not self._shared)
            self._exclusive_waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


@dataclass
class SqsTracker:
    """What the journal last wrote about each queued message, to write only what changed.

    `received` holds the messages whose invisibility comes from a receive by the poller (not
    a delay the worker chose): when the stack restarts, that poller is gone, so they need
    not sit out the queue's visibility timeout (12 minutes) before anyone may take them."""

    seen: dict[QueueKey, dict[str, Fingerprint]] = field(default_factory=dict)
    received: set[str] = field(default_factory=set)

    @classmethod
    def of_current_state(cls, received: Iterable[str] = ()) -> SqsTracker:
        tracker = cls()
        tracker.seen = {key: _fingerprints(queue) for key, queue in _queues()}
        tracker.received = set(received)
        return tracker

    def changes(self, action: str) -> list[dict[str, Any]]:
        """Entries for every message put, changed or deleted since the last call."""
        changes: list[dict[str, Any]] = []
        for key, queue in _queues():
            before = self.seen.get(key, {})
            now = _fingerprints(queue)
            by_id = {message.id: message for message in list(queue._messages)}
            for message_id, fingerprint in now.items():
                previous = before.get(message_id)
                if previous == fingerprint:
                    continue
                if action != "ReceiveMessage":
                    self.received.discard(message_id)
                elif previous is not None and fingerprint[3] > previous[3]:
                    # Received (its receive count rose), not moved to a dead-letter queue.
                    self.received.add(message_id)
                changes.append(
                    {
                        "queue": list(key),
                        "message": message_json(by_id[message_id]),
                        "received": message_id in self.received,
                    }
                )
            for message_id in before.keys() - now.keys():
                self.received.discard(message_id)
                changes.append({"queue": list(key), "delete": message_id})
            self.seen[key] = now
        return changes


class Journal:
    """The append-only file of changes since the last snapshot, one JSON object a line."""

    def __init__(self, path: Path, tracker: SqsTracker) -> None:
        self.lock = SharedExclusiveLock()
        self.tracker = tracker
        self.entries = 0
        self._write = threading.Lock()
        self._fd = _open_append(path)

    def switch_to(self, path: Path) -> None:
        """Write from now on to `path` (the caller holds `lock` exclusively)."""
        with self._write:
            os.close(self._fd)
            self._fd = _open_append(path)
            self.entries = 0

    def close(self) -> None:
        with self._write:
            os.close(self._fd)

    def record(self, call: Call, environ: dict[str, Any], body: bytes, status: int) -> None:
        """Write what the finished request changed, if anything, and sync it to disk."""
        with self._write:
            if call.service == "sqs" and call.action not in SQS_QUEUE_ACTIONS:
                changes = self.tracker.changes(call.action)
                if changes:
                    self._append({"sqs": changes})
            elif 200 <= status < 300 and call.changes_state:
                self._append({"http": _request_entry(environ, body)})

    def _append(self, entry: dict[str, Any]) -> None:
        os.write(self._fd, dumps(entry) + b"\n")
        os.fdatasync(self._fd)
        self.entries += 1


class JournalingApp:
    """moto's WSGI app, with each request's changes journaled before its answer is sent.

    Requests run one at a time, each with its journal entry: DynamoDB applies a conditional
    write atomically, moto's in-memory backends do not (they read, check and write in Python),
    and the functions call it side by side from several container processes. Serialising also
    keeps the journal in the order the changes were made, and makes each entry the work of
    the request that wrote it: a receive is journaled as such (`SqsTracker.received`), never
    by another request that happened to look at the queue before it did.

    A ReceiveMessage that may wait for messages (a long poll) does not hold the others up: it
    runs as receives that wait for nothing, one at a time like every request, and between
    them waits here, outside the lock, until the queue changes or `RECEIVE_POLL_SECONDS` pass.
    """

    def __init__(self, app: WsgiApp, journal: Journal) -> None:
        self._app = app
        self._journal = journal
        self._one_at_a_time = threading.Lock()
        # Counts the queue calls that may have made a message available, and wakes waiting
        # receives when it moves.
        self._queue_changed = threading.Condition()
        self._queue_changes = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        body = take_body(environ)
        call = classify(environ, body)
        if call is not None and call.service == "sqs" and call.action == "ReceiveMessage":
            line, headers, content = self._receive(environ, body, call)
        else:
            line, headers, content = self._serially(environ, body, call)
            if call is not None and call.service == "sqs":
                with self._queue_changed:
                    self._queue_changes += 1
                    self._queue_changed.notify_all()
        start_response(line, headers)
        return content

    def _serially(self, environ: dict[str, Any], body: bytes, call: Call | None) -> Answer:
        """Run one request and journal what it changed, with no other request in between."""
        with self._journal.lock.shared(), self._one_at_a_time:
            # Nothing reaches the client before the body is returned from here.
            line, headers, content = answer_of(self._app, environ)
            if call is not None:
                self._journal.record(call, environ, body, int(line.split()[0]))
        return line, headers, content

    def _receive(self, environ: dict[str, Any], body: bytes, call: Call) -> Answer:
        """A ReceiveMessage, its wait for messages spent outside the lock."""
        polled = _receive_without_wait(environ, body)
        if polled is None:  # parameters moto refuses: let it say so
            return self._serially(environ, body, call)
        wait_seconds, once = polled
        deadline = time.monotonic() + wait_seconds
        while True:
            with self._queue_changed:
                seen = self._queue_changes
            attempt = {**environ, "wsgi.input": io.BytesIO(once), "CONTENT_LENGTH": str(len(once))}
            line, headers, content = self._serially(attempt, once, call)
            left = deadline - time.monotonic()
            if not line.startswith("200") or _has_messages(content) or left <= 0:
                return line, headers, content
            self._wait_for_queue_change(seen, min(RECEIVE_POLL_SECONDS, left))

    def _wait_for_queue_change(self, seen: int, timeout: float) -> None:
        with self._queue_changed:
            self._queue_changed.wait_for(lambda: self._queue_changes != seen, timeout)


@dataclass
class Replayed:
    entries: int = 0
    refused: list[str] = field(default_factory=list)


class RefusedEntry(Exception):
    """A journal entry that is not applied."""


def replay(path: Path, app: WsgiApp, received: set[str]) -> Replayed:
    """Apply the journal at `path` to moto's backends (in this process, not over HTTP);
    `received` is updated with the messages a dead poller held when the entry was written.
    A torn last line (the process died mid-write, before answering) is ignored."""
    client = Client(app)
    replayed = Replayed()
    for line in path.read_bytes().splitlines():
        try:
            entry = loads(line)
        except ValueError:
            continue
        replayed.entries += 1
        if "http" in entry:
            request = entry["http"]
            answer = client.open(
                request["path"],
                method=request["method"],
                headers=request["headers"],
                data=_decode(request["body"]),
            )
            if answer.status_code >= 300:
                replayed.refused.append(f"{request['method']} {request['path']}: {answer.status}")
        for change in entry.get("sqs", ()):
            try:
                _apply_sqs_change(change, received)
            except RefusedEntry as refused:
                replayed.refused.append(str(refused))
    return replayed


def release_received(received: set[str], now_millis: float) -> int:
    """Make the messages a dead poller held visible again; returns how many."""
    released = 0
    for _key, queue in _queues():
        for message in list(queue._messages):
            if message.id in received and message.visible_at > now_millis:
                message.visible_at = 0.0
                queue.pending_messages.discard(message)
                released += 1
    received.clear()
    return released


def _apply_sqs_change(change: dict[str, Any], received: set[str]) -> None:
    if "message" in change and not isinstance(change["message"], dict):
        # Earlier versions pickled the message: reading it could run code, so it is never read.
        raise RefusedEntry(f"a pickled SQS message for {change['queue']}: not loaded")
    account, region, name = change["queue"]
    queue = get_backend("sqs")[account][region].queues.get(name)
    if queue is None:
        return  # deleted later in the journal's own history
    if "delete" in change:
        queue._messages = [m for m in queue._messages if m.id != change["delete"]]
        received.discard(change["delete"])
        return
    message = message_from_json(change["message"])
    queue._messages = [m if m.id != message.id else message for m in queue._messages]
    if all(m is not message for m in queue._messages):
        queue._messages.append(message)
    if change.get("received"):
        received.add(message.id)
    else:
        received.discard(message.id)


def _queues() -> Iterator[tuple[QueueKey, Any]]:
    for account, backends in list(get_backend("sqs").items()):
        for region, backend in list(backends.items()):
            for name, queue in list(backend.queues.items()):
                yield (account, region, name), queue


def _fingerprints(queue: Any) -> dict[str, Fingerprint]:
    return {
        m.id: (m.receipt_handle, m.visible_at, m.delayed_until, m.approximate_receive_count)
        for m in list(queue._messages)
    }


def _receive_without_wait(environ: dict[str, Any], body: bytes) -> tuple[int, bytes] | None:
    """How long a ReceiveMessage may wait for messages, and the same request waiting for none;
    None when its parameters are not ones to change (moto then refuses or answers it)."""
    json_protocol = environ.get("CONTENT_TYPE", "").startswith("application/x-amz-json")
    try:
        params: dict[str, Any] = (
            json.loads(body) if json_protocol else dict(parse_qsl(body.decode(), True))
        )
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(params, dict):
        return None
    wait = params.get("WaitTimeSeconds")
    if wait is None:
        wait = _queue_default_wait(str(params.get("QueueUrl") or environ.get("PATH_INFO", "")))
    try:
        seconds = int(wait)
    except (TypeError, ValueError):
        return None
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        return None
    params["WaitTimeSeconds"] = 0 if json_protocol else "0"
    once = json.dumps(params).encode() if json_protocol else urlencode(params).encode()
    return seconds, once


def _queue_default_wait(queue_url: str) -> int:
    """The queue's ReceiveMessageWaitTimeSeconds (0 when there is no such queue: moto says so)."""
    account, _, name = queue_url.rstrip("/").rpartition("/")
    account = account.rpartition("/")[2]
    for (queue_account, _region, queue_name), queue in _queues():
        if (queue_account, queue_name) == (account, name):
            return int(queue.receive_message_wait_time_seconds or 0)
    return 0


def _has_messages(content: list[bytes]) -> bool:
    """Whether a ReceiveMessage's answer (JSON, or the query protocol's XML) holds a message."""
    text = b"".join(content)
    if text.startswith(b"{"):
        try:
            return bool(json.loads(text).get("Messages"))
        except (ValueError, AttributeError):
            return False
    return b"<Message>" in text


def _request_entry(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    if "?" not in path and environ.get("QUERY_STRING"):
        path = f"{path}?{environ['QUERY_STRING']}"
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _DROPPED_HEADERS
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    # moto reads the service, region and account from the credential scope; the signature,
    # made with the stack's fake credentials, is of no use to a replay.
    headers["Authorization"] = headers.get("Authorization", "").split(",")[0]
    return {
        "method": environ.get("REQUEST_METHOD", "GET"),
        "path": path,
        "headers": headers,
        "body": _encode(body),
    }


def _open_append(path: Path) -> int:
    return open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decode(text: str) -> bytes:
    return base64.b64decode(text)
