"""`make soak`: load the local stack and break it on purpose, counting every message at the
SMTP servers, so anyone can repeat the run that found issue 8's losses.

It starts `python -m local_stack` on free loopback ports in a temporary directory, then runs:

1. `sync`: synchronous sends from many clients to the stack's capture server;
2. `queued`: the same with `?async=true`, waited for until every message has settled;
3. `faults`: queued sends to a misbehaving server (`bench/fault_smtp.py`) that defers
   recipients, resets connections mid-DATA and drops them after the final dot;
4. `kill`: queued sends to the capture server while the whole stack is killed (SIGKILL to its
   process group) `--kills` times and restarted: mid-flood, and once the last is queued while
   the worker drains.

For each phase it prints what was accepted, what the servers received (delivered, duplicated,
lost), the final statuses the API reports, latency percentiles and throughput; and checks that
every `unknown` is a true unknown (the server did get the message's final dot). The kill phase
also counts the `stuck`: messages still queued, deferred or sending `--stuck-after` seconds
after the last restart (a message a dead poller held, or a dead worker's lease, would wait
minutes). Its false unknowns are shown but accepted: a worker killed between claiming a message
and its final dot leaves it `unknown` (docs/local-stack.md, "What survives a restart"). The
exit code is 0 only when nothing was lost, duplicated or stuck and every other `unknown` was
true. Everything talks to 127.0.0.1 only; the run is bounded by `--deadline` seconds.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

from bench.fault_smtp import SOAK_ID, Faults, FaultSmtpServer
from tests.support.stack_process import RunningStack, restart_stack, start_stack

FINAL = {"sent", "failed", "unknown", "cancelled"}
POLLERS = 4
POLL_SECONDS = 2.0
BODY = ("The quick brown fox jumps over the lazy dog. " * 45)[:2048]  # about 2 KB


@dataclass
class Phase:
    name: str
    accepted: list[str] = field(default_factory=list)  # soak ids the API took
    refused: Counter[str] = field(default_factory=Counter)  # HTTP status of the others
    received: Counter[str] = field(default_factory=Counter)  # soak id -> final dots seen
    statuses: Counter[str] = field(default_factory=Counter)
    unknown_ids: set[str] = field(default_factory=set)
    true_unknowns: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    # Not final `--stuck-after` seconds after the last restart (None: no restart measured).
    stuck: int | None = None
    # Killed workers leave `unknown` where the server may never have had the message.
    false_unknowns_accepted: bool = False

    @property
    def delivered(self) -> int:
        return sum(1 for soak_id in self.accepted if self.received[soak_id] > 0)

    @property
    def duplicated(self) -> int:
        return sum(1 for soak_id in self.accepted if self.received[soak_id] > 1)

    @property
    def lost(self) -> int:
        # Accepted, never received, and not reported as failed to whoever asks; one reported
        # `unknown` is told as it is, and counted as a false unknown instead.
        never = {soak_id for soak_id in self.accepted if self.received[soak_id] == 0}
        return len(never - self.unknown_ids) - (
            self.statuses["failed"] + self.statuses["cancelled"]
        )

    @property
    def false_unknowns(self) -> int:
        return len(self.unknown_ids - self.true_unknowns)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and not self.stuck
            and (self.false_unknowns == 0 or self.false_unknowns_accepted)
        )


class Client:
    """The API as a client sees it: JSON over HTTP with the admin key."""

    def __init__(self, stack: RunningStack) -> None:
        self._base = stack.api_url
        self._key = stack.admin_key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"X-DreamFactory-API-Key": self._key, "Content-Type": "application/json"}
        # Only ever http://127.0.0.1:<port>: the URL is the stack's.
        request = urllib.request.Request(  # noqa: S310
            self._base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except (OSError, HTTPException, ValueError) as error:
            # A reset, a refused connection, an answer cut short (the kill phase): the
            # client's view.
            return 0, {"error": str(error)}


def _message(soak_id: str) -> dict[str, Any]:
    return {"to": "soak@example.com", "subject": f"soak {soak_id}", "body_text": BODY}


def _send_all(
    client: Client,
    phase: Phase,
    path: str,
    count: int,
    clients: int,
    accepted_status: int,
    *,
    keep: bool = False,
) -> dict[str, str]:
    """Send `count` messages from `clients` threads; returns soak id -> record id. With
    `keep`, `phase.seconds` is left for the caller to set."""
    run = secrets.token_hex(3)
    records: dict[str, str] = {}
    lock = threading.Lock()

    def one(index: int) -> None:
        soak_id = f"{phase.name}-{run}-{index:05d}"  # runs differ: rounds of a phase too
        started = time.monotonic()
        status, body = client.call("POST", path, _message(soak_id))
        with lock:
            phase.latencies.append(time.monotonic() - started)
            if status == accepted_status:
                phase.accepted.append(soak_id)
                records[soak_id] = body["id"]
            else:
                phase.refused[str(status)] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(count)))
    if not keep:
        phase.seconds = time.monotonic() - started
    return records


def _settle(
    client: Client, service: str, records: dict[str, str], clients: int, deadline: float
) -> dict[str, str]:
    """Poll every record until it is final (or the deadline passes); soak id -> status."""
    statuses: dict[str, str] = {}
    pending = dict(records)

    def look(item: tuple[str, str]) -> tuple[str, str]:
        soak_id, record_id = item
        _, body = client.call("GET", f"/api/v2/{service}/messages/{record_id}")
        return soak_id, (body or {}).get("status", "?")

    # A few pollers, every couple of seconds: status reads compete with the worker for the
    # same stand-ins, and a soak that polls hard measures its own polling.
    with ThreadPoolExecutor(max_workers=min(clients, POLLERS)) as pool:
        while pending and time.monotonic() < deadline:
            for soak_id, status in pool.map(look, list(pending.items())):
                statuses[soak_id] = status
                if status in FINAL:
                    del pending[soak_id]
            if pending:
                time.sleep(POLL_SECONDS)
    return statuses


def _captured(mail_dir: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for eml in mail_dir.glob("*.eml"):
        match = SOAK_ID.search(eml.read_bytes())
        if match:
            found[match.group(1).decode()] += 1
    return found


def _queue_and_settle(
    client: Client, phase: Phase, service: str, count: int, clients: int, deadline: float
) -> None:
    """Queue `count` messages for `service`, then wait until each has settled."""
    started = time.monotonic()
    records = _send_all(client, phase, f"/api/v2/{service}?async=true", count, clients, 202)
    statuses = _settle(client, service, records, clients, deadline)
    phase.seconds = time.monotonic() - started  # until the last one settled
    phase.statuses.update(statuses.values())
    phase.unknown_ids = {i for i, status in statuses.items() if status == "unknown"}


def run_sync(client: Client, stack: RunningStack, count: int, clients: int) -> Phase:
    phase = Phase("sync")
    _send_all(client, phase, "/api/v2/email", count, clients, 200)
    phase.statuses.update({"sent": len(phase.accepted)})
    phase.received = _captured(stack.mail_dir)
    return phase


def run_queued(
    client: Client, stack: RunningStack, count: int, clients: int, deadline: float
) -> Phase:
    phase = Phase("queued")
    _queue_and_settle(client, phase, "email", count, clients, deadline)
    phase.received = _captured(stack.mail_dir)
    return phase


def run_faults(
    client: Client, server: FaultSmtpServer, count: int, clients: int, deadline: float
) -> Phase:
    phase = Phase("faults")
    status, body = client.call(
        "POST",
        "/api/v2/system/service",
        {
            "name": "faulty",
            "config": {
                "host": "127.0.0.1",
                "port": server.port,
                "encryption": "none",
                "from_email": "soak@example.com",
            },
        },
    )
    if status != 201:
        raise SystemExit(f"could not create the faulty service: {status} {body}")
    _queue_and_settle(client, phase, "faulty", count, clients, deadline)
    phase.received = server.truth.received
    phase.true_unknowns = set(server.truth.unanswered)
    return phase


def run_kill(
    client: Client,
    stacks: list[RunningStack],
    count: int,
    clients: int,
    kills: int,
    stuck_after: float,
    deadline: float,
) -> Phase:
    """Queue `count` messages in `kills` rounds; each round ends with SIGKILL to the stack's
    process group (mid-round, or for the last once all is queued) and a restart."""
    phase = Phase("kill", false_unknowns_accepted=True)
    records: dict[str, str] = {}
    started = time.monotonic()
    per_round = max(1, count // kills)
    for round_number in range(kills):
        last = round_number == kills - 1
        accepted_before = len(phase.accepted)
        sending = threading.Thread(
            target=lambda: records.update(
                _send_all(
                    client, phase, "/api/v2/email?async=true", per_round, clients, 202, keep=True
                )
            )
        )
        sending.start()
        if last:
            sending.join()
        else:
            while sending.is_alive() and len(phase.accepted) - accepted_before < per_round // 2:
                time.sleep(0.01)
        stacks[-1].kill_group()
        sending.join()  # what was still to send is refused (status 0): the stack is gone
        stacks.append(restart_stack(stacks[-1]))
    restarted = time.monotonic()
    statuses = _settle(client, "email", records, clients, min(deadline, restarted + stuck_after))
    phase.stuck = sum(1 for status in statuses.values() if status not in FINAL)
    if phase.stuck:
        statuses = _settle(client, "email", records, clients, deadline)
    phase.seconds = time.monotonic() - started
    phase.statuses.update(statuses.values())
    phase.unknown_ids = {i for i, status in statuses.items() if status == "unknown"}
    phase.received = _captured(stacks[-1].mail_dir)
    phase.true_unknowns = {i for i in phase.unknown_ids if phase.received[i] > 0}
    return phase


def _percentile(values: list[float], share: int) -> str:
    if len(values) < 2:
        return "-"
    return f"{statistics.quantiles(values, n=100)[share - 1] * 1000:.0f}"


def report(phases: Iterable[Phase], faults: Counter[str]) -> str:
    rows = [
        "phase    accepted refused delivered duplicated lost false-unknown stuck"
        "  p50 ms  p95 ms  p99 ms   msg/s  statuses"
    ]
    for phase in phases:
        rate = len(phase.accepted) / phase.seconds if phase.seconds else 0.0
        statuses = ", ".join(f"{name} {n}" for name, n in sorted(phase.statuses.items()))
        refused = sum(phase.refused.values())
        rows.append(
            f"{phase.name:<8} {len(phase.accepted):>8} {refused:>7} {phase.delivered:>9}"
            f" {phase.duplicated:>10} {phase.lost:>4} {phase.false_unknowns:>13}"
            f" {'-' if phase.stuck is None else phase.stuck:>5}"
            f" {_percentile(phase.latencies, 50):>7} {_percentile(phase.latencies, 95):>7}"
            f" {_percentile(phase.latencies, 99):>7} {rate:>7.1f}  {statuses}"
        )
    rows.append("faults dealt: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sync", type=int, default=1000, help="synchronous sends")
    parser.add_argument("--queued", type=int, default=1000, help="queued sends")
    parser.add_argument("--faulty", type=int, default=300, help="queued sends to the fault server")
    parser.add_argument(
        "--killed", type=int, default=300, help="queued sends while the stack is killed"
    )
    parser.add_argument("--kills", type=int, default=3, help="kills of the stack (0: no phase)")
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=30,
        help="seconds after the last restart by which every killed-phase message is settled",
    )
    parser.add_argument("--clients", type=int, default=20, help="parallel clients")
    parser.add_argument("--deadline", type=float, default=900, help="seconds for the whole run")
    parser.add_argument("--reset-mid-data", type=float, default=0.05)
    parser.add_argument("--drop-after-dot", type=float, default=0.02)
    parser.add_argument("--defer", type=float, default=0.03)
    parser.add_argument(
        "--smtp-extensions",
        default="",
        help="what the fault server offers in EHLO, comma-separated (default: nothing,"
        " lockstep). With PIPELINING the worker writes each next envelope behind the previous"
        " dot, so a reset in the middle of such a message leaves it unknown (a false unknown"
        " here) where lockstep would send it again",
    )
    args = parser.parse_args(argv)
    extensions = [word.strip() for word in args.smtp_extensions.split(",") if word.strip()]
    deadline = time.monotonic() + args.deadline
    faults = Faults(
        defer=args.defer, reset_mid_data=args.reset_mid_data, drop_after_dot=args.drop_after_dot
    )

    with (
        tempfile.TemporaryDirectory(prefix="soak-") as workdir,
        FaultSmtpServer(faults, extensions=extensions) as server,
    ):
        stack = start_stack(
            Path(workdir), admin_key=secrets.token_urlsafe(24), own_process_group=True
        )
        # The kill phase restarts it: the last of these is the one running.
        stacks = [stack]
        try:
            client = Client(stack)
            steps: list[Callable[[], Phase]] = [
                lambda: run_sync(client, stack, args.sync, args.clients),
                lambda: run_queued(client, stack, args.queued, args.clients, deadline),
                lambda: run_faults(client, server, args.faulty, args.clients, deadline),
            ]
            if args.kills > 0:
                steps.append(
                    lambda: run_kill(
                        client,
                        stacks,
                        args.killed,
                        args.clients,
                        args.kills,
                        args.stuck_after,
                        deadline,
                    )
                )
            phases = []
            for step in steps:
                phases.append(step())
                print(f"{phases[-1].name}: done", file=sys.stderr, flush=True)
        finally:
            for running in stacks[:-1]:
                if running.process.poll() is None:
                    running.kill_group()
            stacks[-1].stop()
    print(report(phases, server.truth.faults))
    return 0 if all(phase.ok for phase in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
