"""`make bench` (`python -m bench`): what an SMTP send costs in round trips, in CPU and in
memory, this project's beside the naive smtplib baseline measured in the same run.

The network figures go through `bench.delay_proxy` (one-way delay d each way, RTT = 2d) to
Postfix's smtp-sink (PIPELINING), a private Postfix smtpd (STARTTLS, PIPELINING, CHUNKING)
and aiosmtpd (STARTTLS + AUTH, no PIPELINING: as SES's SMTP endpoint), and are wall time /
RTT: the median of several repetitions. "Cold" is a new connection: open, send, close; "warm" a
second send on an open one. Beside the last, the SES API transport to moto's SES through the
same proxy (`bench.ses_api`): one request a message on a kept-alive connection. Prints a table
and writes it as JSON. Speed is measured here, never asserted in a test.

Two rows go through the product's entry points rather than its transport: a batch of queued
messages through the worker Lambda's handler over moto (`bench.worker_batch`), and a send on a
fresh API function container of the local stack against a floor script (`bench.cold_start`).
Each row's `method` in the JSON says how it was measured.

Last, the AWS calls one mail makes and their cost per 1,000 mails (`bench.aws_calls`).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import environment
from bench.delay_proxy import DEFAULT_DELAY_SECONDS, DelayProxy
from bench.servers import (
    AuthServer,
    Certificates,
    PostfixSmtpd,
    ServerUnavailable,
    SmtpSink,
)

if TYPE_CHECKING:
    from bench.product import Server

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / ".local" / "bench" / "results.json"
NOT_MEASURED = "not measured yet"
LAMBDA_MEMORY_MB = 256


@dataclass
class Row:
    """One figure: this project's and the baseline's, in `unit` (RTT or x), and the issue's."""

    figure: str
    unit: str
    target: str
    floor: str
    product: float | None = None
    baseline: float | None = None
    baseline_name: str = "naive smtplib"
    note: str = NOT_MEASURED
    samples: dict[str, list[float]] = field(default_factory=dict)
    # How the figure was made, where the table's note cannot say it.
    method: str = ""
    details: dict[str, Any] = field(default_factory=dict)


Measure = Callable[[], float]


def median_of(measure: Measure, repeats: int) -> tuple[float, list[float]]:
    samples = [measure() for _ in range(repeats)]
    return statistics.median(samples), samples


# --- the network rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    short: str
    starttls: bool
    login: bool


def network_rows(
    target: Target, port: int, ca_file: str, rtt: float, repeats: int, figures: dict[str, str]
) -> list[Row]:
    """Cold and warm sends through the proxy at `port`; `figures` names the rows the issue
    lists for this server, with their target and floor as "target|floor"."""
    from bench.product import Naive, Product, Server

    server: Server = Server(port, starttls=target.starttls, login=target.login)
    product, naive = Product(server, ca_file), Naive(server, ca_file)
    rows = []
    for kind, (ours, theirs) in {
        "warm": (product.warm, naive.warm),
        "cold": (product.cold, naive.cold),
    }.items():
        if kind not in figures:
            continue
        target_text, floor = figures[kind].split("|")
        row = Row(f"{kind} send, {target.name}", "RTT", target_text, floor, note="")
        ours_median, ours_samples = median_of(ours, repeats)
        theirs_median, theirs_samples = median_of(theirs, repeats)
        row.product, row.baseline = ours_median / rtt, theirs_median / rtt
        row.samples = {"product_s": ours_samples, "baseline_s": theirs_samples}
        rows.append(row)
        if kind == "warm":
            deliverer = Row(
                f"  warm, 2nd message through Deliverer ({target.short})",
                "RTT",
                target_text,
                floor,
                note="through the connection pool the API and the worker use",
            )
            second, samples = median_of(product.delivered_second, repeats)
            deliverer.product, deliverer.baseline = second / rtt, theirs_median / rtt
            deliverer.samples = {"product_s": samples}
            rows.append(deliverer)
    return rows


# --- CPU and memory ----------------------------------------------------------------------------


def cpu_row(sink_port: int, ca_file: str, sends: int) -> Row:
    """CPU per warm send straight to smtp-sink (no proxy, no delay), against bare smtplib's
    `sendmail` on a reused connection; smtp-sink's own CPU is another process's."""
    from bench.product import RECIPIENTS, SENDER, Naive, Product, Server
    from core.transport.base import Deadline

    server = Server(sink_port)
    product, naive = Product(server, ca_file), Naive(server, ca_file)
    with product.transports(product.service) as transport:
        transport.open(Deadline.after(60))
        transport.send(product.sealed.raw, product.envelope, Deadline.after(60))
        started = time.process_time()
        for _ in range(sends):
            transport.send(product.sealed.raw, product.envelope, Deadline.after(60))
        ours = (time.process_time() - started) / sends
    client = naive.connect()
    client.sendmail(SENDER, RECIPIENTS, naive.raw)
    started = time.process_time()
    for _ in range(sends):
        client.sendmail(SENDER, RECIPIENTS, naive.raw)
    theirs = (time.process_time() - started) / sends
    client.quit()
    return Row(
        "CPU per warm send, loopback, no delay",
        "x",
        "≤ 1.5x",
        "1x",
        product=ours / theirs,
        baseline=1.0,
        baseline_name="bare smtplib, reused connection",
        note=f"{ours * 1e6:.0f} µs vs {theirs * 1e6:.0f} µs CPU a send, over {sends} sends",
    )


def memory_row(sink_port: int) -> Row:
    """Peak RSS of a process that composes, seals and sends the largest message accepted."""
    done = subprocess.run(  # noqa: S603  # this interpreter, our module
        [sys.executable, "-m", "bench.memory", str(sink_port)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    if done.returncode != 0:
        return Row(
            "peak RSS, largest accepted request", "MB", "fits 256 MB", "", note=done.stderr[-500:]
        )
    found = json.loads(done.stdout)
    return Row(
        "peak RSS, largest accepted request (5 MiB message)",
        "MB",
        f"< {LAMBDA_MEMORY_MB} MB",
        "",
        product=found["peak_mb"],
        baseline=found["baseline_mb"],
        baseline_name="the same process before the message",
        note=f"{found['message_bytes']} bytes sealed and sent"
        f" ({found['peak_mb']:.0f} of {LAMBDA_MEMORY_MB} MB)",
    )


# --- the SES API -------------------------------------------------------------------------------

SES_FIGURE = "warm send, SES API (SendEmail on a kept-alive connection; per message)"
SES_SENDS = 10


def ses_api_row(delay: float, repeats: int, lockstep_warm: float | None) -> Row:
    """Warm sends through the SES API transport to moto's SES behind the delay proxy (see
    `bench.ses_api`), beside the warm lockstep SMTP send: what SES's SMTP endpoint costs."""
    from bench.ses_api import measure

    row = Row(
        SES_FIGURE,
        "RTT",
        "≤ 1.2",
        "1",
        baseline_name="this project over SMTP in lockstep (the aiosmtpd row: SES SMTP offers"
        " neither PIPELINING nor CHUNKING)",
    )
    row.method = (
        "SesTransport (SES v2 SendEmail, the sealed message as raw content) to moto's SES"
        " server on loopback through the delay proxy, plain HTTP. A transport sends one message"
        f" untimed, then {SES_SENDS} timed; the same runs through an undelayed proxy, and RTT a"
        f" message = (wall(d) - median wall(0)) / (2d) / {SES_SENDS}. The baseline is the warm"
        " lockstep SMTP send measured above."
    )
    try:
        found = measure(delay, repeats, SES_SENDS)
    except (RuntimeError, OSError) as error:
        row.note = f"{NOT_MEASURED}: {error}"
        return row
    row.product, row.baseline = found.warm_rtt_per_message, lockstep_warm
    row.samples = {"warm_s_per_message": found.warm_samples, "cold_s": found.cold_samples}
    row.details = {"cold_rtt": round(found.cold_rtt, 2), "connections": found.connections}
    row.note = (
        f"{found.connections} connection(s) for {SES_SENDS + 1} messages; a cold transport's"
        f" first: {found.cold_rtt:.1f} RTT (plain HTTP; SES's TLS adds 1 with TLS 1.3)"
    )
    return row


# --- through the product's entry points --------------------------------------------------------

BATCH_FIGURE = "batch of 50 queued messages through the worker, PIPELINING (per message)"
LANES_FIGURE = "batch of 500 queued messages through the worker, N lanes (per message)"
COLD_FIGURE = "cold path: process start -> first 200, vs a floor script"


def batch_row(sink_port: int, ca_file: str, delay: float, naive_sessions: int) -> Row:
    """`handlers.worker.lambda_handler` on one SQS event of 50 queued messages, over moto, to
    smtp-sink through the delay proxy: the round trips a message (see `bench.worker_batch`)."""
    from bench.worker_batch import MESSAGES, measure

    row = Row(BATCH_FIGURE, "RTT", "≤ 1.2", "1", baseline_name="naive smtplib")
    row.method = (
        f"The services' max_connections is 1: one connection, one lane. The worker handler"
        f" runs one SQS event of {MESSAGES} jobs (queued by"
        " runtime.mailer().accept as the bootstrap principal) with moto in-process, in a"
        " process of its own; only the handler call is timed. moto's CPU is cancelled out: the"
        " same batch runs through an undelayed proxy before and after the delayed one, and"
        f" RTT a message = (wall(d) - mean wall(0)) / (2d) / {MESSAGES}. The naive baseline"
        " is a fresh smtplib session a message (the issue's figure), measured the same way"
        f" over {naive_sessions} sessions."
    )
    try:
        found = measure(sink_port, ca_file, delay, naive_sessions)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        row.note = f"{NOT_MEASURED}: {error}"
        return row
    row.product, row.baseline = found.rtt_per_message, found.naive_rtt_per_message
    row.baseline_name = "naive smtplib, a fresh session a message"
    row.samples = {
        "wall_undelayed_s": found.wall_direct,
        "wall_delayed_s": [found.wall_delayed],
        "cpu_undelayed_s": found.cpu_direct,
        "cpu_delayed_s": [found.cpu_delayed],
        "naive_undelayed_s": [found.naive_direct],
        "naive_delayed_s": [found.naive_delayed],
    }
    row.details = {
        "messages": found.messages,
        "connections_opened": found.connections,
        "statuses": found.statuses,
        "naive_sessions": naive_sessions,
        "failures": found.failures,
    }
    undelayed = statistics.mean(found.wall_direct)
    row.note = (
        f"{found.connections} connection(s) for {found.messages} messages;"
        f" {found.wall_delayed:.1f} s at d, {undelayed:.1f} s at 0"
        + (f"; {'; '.join(found.failures)}" if found.failures else "")
    )
    return row


def lanes_row(sink_port: int, ca_file: str, delay: float, one_connection: float | None) -> Row:
    """The batch row's measure on 500 jobs with the services' default `max_connections`: the
    worker's lanes sending side by side, each pipelining (see `bench.worker_batch`)."""
    from bench.worker_batch import LANES_MESSAGES, measure
    from core.services.config import DEFAULT_MAX_CONNECTIONS

    lanes = DEFAULT_MAX_CONNECTIONS
    row = Row(
        LANES_FIGURE.replace("N lanes", f"{lanes} lanes"),
        "RTT",
        "≤ 0.3",
        f"{1 / lanes:.2f}",
        baseline=one_connection,
        baseline_name="one connection (the row above)",
    )
    row.method = (
        f"As the batch row, with {LANES_MESSAGES} jobs and the services' default"
        f" max_connections ({lanes}): the worker deals them out to {lanes} lanes, threads"
        " each sending on a connection of its own, pipelining. RTT a message = (wall(d) -"
        f" mean wall(0)) / (2d) / {LANES_MESSAGES}. The floor is one round trip a message"
        " a lane; moto's CPU, which the lanes overlap with the round trips (as they would"
        " DynamoDB's), is cancelled out by the undelayed runs."
    )
    try:
        found = measure(
            sink_port, ca_file, delay, 0, messages=LANES_MESSAGES, max_connections=lanes
        )
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        row.note = f"{NOT_MEASURED}: {error}"
        return row
    row.product = found.rtt_per_message
    row.samples = {
        "wall_undelayed_s": found.wall_direct,
        "wall_delayed_s": [found.wall_delayed],
        "cpu_undelayed_s": found.cpu_direct,
        "cpu_delayed_s": [found.cpu_delayed],
    }
    row.details = {
        "messages": found.messages,
        "max_connections": lanes,
        "connections_opened": found.connections,
        "statuses": found.statuses,
        "failures": found.failures,
    }
    undelayed = statistics.mean(found.wall_direct)
    row.note = (
        f"{found.connections} connection(s) for {found.messages} messages;"
        f" {found.wall_delayed:.1f} s at d, {undelayed:.1f} s at 0"
        + (f"; {'; '.join(found.failures)}" if found.failures else "")
    )
    return row


def cold_path_row(workdir: Path, repeats: int) -> Row:
    """A send on a fresh API container of the local stack against the floor script (see
    `bench.cold_start`): the ratio of the medians."""
    from bench.cold_start import measure

    row = Row(COLD_FIGURE, "x", "≤ 1.3x", "1x", baseline_name="floor script (boto3 + smtplib)")
    row.method = (
        "The local stack is started and left to get ready (moto's boot is not timed). Each"
        " repetition holds every warm API container with a send to an SMTP server that never"
        " greets, so the stack starts a fresh API container for the timed send: request -> 200"
        " (container start, imports, init, the send; plus the gateway and the warm authorizer)."
        " The floor is bench/cold_floor.py as a fresh process: boto3, DynamoDB GetItem for the"
        " service, key and role, Secrets Manager GetSecretValue, a PutItem, one smtplib send,"
        " to the same moto and SMTP servers, timed from spawn to its 'done'. Interleaved;"
        " figure = median(product) / median(floor)."
    )
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        found = measure(workdir, repeats)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        row.note = f"{NOT_MEASURED}: {error}"
        return row
    row.details = {
        "containers_started_per_cold_send": found.containers_started,
        "stack_ready_s": round(found.stack_ready_seconds, 2),
        "first_two_sends_after_ready_s": found.after_ready,
        "importtime_top10_handlers_api": found.importtime_top,
        "local_stack_container_imports_ms": found.container_imports_ms,
        "failures": found.failures,
    }
    if not found.cold or not found.floor:
        row.note = f"{NOT_MEASURED}: {'; '.join(found.failures) or 'no sample'}"
        return row
    cold, floor = statistics.median(found.cold), statistics.median(found.floor)
    row.product, row.baseline = cold / floor, 1.0
    row.samples = {"product_s": found.cold, "floor_s": found.floor, "warm_s": found.warm}
    row.note = (
        f"{cold * 1000:.0f} ms vs {floor * 1000:.0f} ms; the next send, warm:"
        f" {statistics.median(found.warm) * 1000:.0f} ms"
        + (f"; {'; '.join(found.failures)}" if found.failures else "")
    )
    return row


# --- the table ---------------------------------------------------------------------------------


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "RTT":
        return f"{value:.1f} RTT"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.0f} {unit}"


def table(rows: list[Row]) -> str:
    header = ("figure", "this project", "baseline", "target", "floor", "note")
    lines = [header]
    for row in rows:
        ours = _figure(row.product, row.unit) if row.product is not None else NOT_MEASURED
        lines.append(
            (
                row.figure,
                ours,
                _figure(row.baseline, row.unit),
                row.target,
                row.floor,
                row.note if row.product is None or row.note else "",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    text = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        text.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(text)


# --- the AWS calls a mail makes ----------------------------------------------------------------


def aws_calls_report() -> str:
    """`bench.aws_calls`'s tables (calls per mail, cost per 1,000 mails), from a process of its
    own: it replaces standard output and botocore's default session while it counts."""
    done = subprocess.run(  # this interpreter, our module
        [sys.executable, "-m", "bench.aws_calls"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        cwd=REPO_ROOT,
    )
    if done.returncode != 0:
        return f"AWS calls per mail: {NOT_MEASURED}: {done.stderr[-1500:]}"
    return done.stdout.rstrip()


# --- the run -----------------------------------------------------------------------------------

# The rows for each server: kind -> "target|floor" (RTT).
SINK_FIGURES = {"warm": "≤ 2.5|2", "cold": "≤ 4.5|3.5"}
POSTFIX_FIGURES = {"warm": "≤ 1.5|1", "cold": "≤ 6.5|5.5"}
AUTH_FIGURES = {"warm": "≤ 8.5|8", "cold": "-|-"}

SINK = Target("PIPELINING (smtp-sink)", "smtp-sink", starttls=False, login=False)
POSTFIX = Target(
    "STARTTLS+PIPELINING+CHUNKING (Postfix smtpd)", "Postfix", starttls=True, login=True
)
# SES's SMTP endpoint offers neither PIPELINING nor CHUNKING: this row is what it costs.
AUTH = Target(
    "STARTTLS+AUTH, no PIPELINING (aiosmtpd; lockstep, as SES SMTP)",
    "aiosmtpd",
    starttls=True,
    login=True,
)


@contextmanager
def proxied(port: int, delay: float) -> Iterator[DelayProxy]:
    with DelayProxy(("127.0.0.1", port), delay=delay) as proxy:
        yield proxy


QUEUED_BATCH_FIGURE = (
    "batch of 500 queued through the API: AWS calls on the request's critical path (of all)"
)


def batch_queue_row() -> Row:
    """`POST /{service}/batch` with 500 items queued: how much of its AWS calls' latency it
    waits through (see `bench.batch_queue`)."""
    from bench.batch_queue import API_GATEWAY_SECONDS, RESULT_MARKER

    row = Row(QUEUED_BATCH_FIGURE, "x", "≤ 0.19", "0.1", baseline=1.0)
    row.baseline_name = "every call in turn (before)"
    row.method = (
        "In-process, moto, a role with two rate-limit windows; every botocore call counted and"
        " delayed by d. The figure: the calls on the request's critical path (its own thread's,"
        " plus for each pool of threads the most any one made) over all its calls. At 50 ms a"
        f" call, 0.19 is API Gateway's {API_GATEWAY_SECONDS:g} s."
    )
    done = subprocess.run(  # this interpreter, our module
        [sys.executable, "-m", "bench.batch_queue"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if done.returncode != 0 or not lines:
        row.note = f"{NOT_MEASURED}: {done.stderr[-500:]}"
        return row
    found = json.loads(lines[-1].removeprefix(RESULT_MARKER))
    row.product = found["ratio"]
    row.details = {
        key: found[key] for key in ("calls", "total_calls", "calls_in_turn", "modelled_s")
    }
    row.details["sequential_s"] = found["sequential_s"]
    return row


def unavailable(figure: str, why: str) -> Row:
    return Row(figure, "RTT", "", "", note=f"{NOT_MEASURED}: {why}")


def run(delay: float, repeats: int, workdir: Path) -> list[Row]:
    certificates = Certificates.create(workdir)
    ca_file = str(certificates.ca_file)
    environment.configure(ca_file)
    rtt = 2 * delay
    rows: list[Row] = []
    with ExitStack() as servers:
        sink = servers.enter_context(SmtpSink())
        with proxied(sink.port, delay) as proxy:
            rows += network_rows(SINK, proxy.port, ca_file, rtt, repeats, SINK_FIGURES)
        try:
            postfix = servers.enter_context(PostfixSmtpd(certificates))
        except ServerUnavailable as error:
            rows.append(unavailable("warm/cold send, Postfix smtpd", str(error)))
        else:
            # Postfix's smtpd takes AUTH only with a SASL backend; it is measured without.
            target = Target(POSTFIX.name, POSTFIX.short, starttls=True, login=False)
            with proxied(postfix.port, delay) as proxy:
                rows += network_rows(target, proxy.port, ca_file, rtt, repeats, POSTFIX_FIGURES)
        auth = servers.enter_context(AuthServer(certificates))
        with proxied(auth.port, delay) as proxy:
            lockstep = network_rows(AUTH, proxy.port, ca_file, rtt, repeats, AUTH_FIGURES)
        rows += lockstep
        rows.append(ses_api_row(delay, repeats, lockstep_warm=lockstep[0].product))
        batch = batch_row(sink.port, ca_file, delay, naive_sessions=50 if repeats > 3 else 10)
        rows += [batch, lanes_row(sink.port, ca_file, delay, one_connection=batch.product)]
        rows.append(batch_queue_row())
        rows.append(cold_path_row(workdir / "stack", repeats=min(repeats, 5)))
        rows.append(cpu_row(sink.port, ca_file, sends=200 if repeats > 3 else 50))
        rows.append(memory_row(sink.port))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=DEFAULT_DELAY_SECONDS * 1000,
        help="one-way delay d of the proxy in ms (RTT = 2d); default %(default)s",
    )
    parser.add_argument("--repeats", type=int, default=7, help="repetitions a figure (median)")
    parser.add_argument("--quick", action="store_true", help="3 repetitions a figure")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON file")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    delay = args.delay_ms / 1000
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        rows = run(delay, repeats, Path(workdir))
    seconds = time.monotonic() - started
    print(f"d = {args.delay_ms:g} ms one way (RTT {2 * args.delay_ms:g} ms), median of {repeats}")
    print(table(rows))
    calls = aws_calls_report()
    print()
    print(calls)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "delay_ms": args.delay_ms,
                "rtt_ms": 2 * args.delay_ms,
                "repeats": repeats,
                "seconds": round(seconds, 1),
                "python": platform.python_version(),
                "rows": [asdict(row) for row in rows],
                "aws_calls": calls,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {args.output} ({seconds:.0f} s)")
    return 0
