"""The cold path: a send answered by a fresh API function container, against a floor script.

The local stack (`python -m local_stack`, as tests/support/stack_process.py starts it: its
own LOCAL_STATE_DIR and LOCAL_MAIL_DIR under a temporary directory, free loopback ports) is
started once and left to get ready; moto's boot is never timed. Its readiness is no use as
the start of a cold path: to report ready it creates the `email` service through the API, so
its first API container (and the authorizer's) is already warm by then, and the first send
after "ready" is a warm one.

So each repetition makes the stack start a fresh API container for the send being timed, as
Lambda does when every warm container is busy: every warm API container is held by a send to
a service whose SMTP server (`Holder`, ours) accepts the connection and never greets, then the
timed send goes out; the stack's pool has no idle API container and starts one for it (the
authorizer's container is warm: its cold start is its own function's). The figure is the time
from the request to its 200, so it counts the container's process start, its imports and init,
and the send, plus the gateway and the warm authorizer. A second send right after goes to
that container, warm. Then the held sends are let go (their connections closed: they fail).
The API containers that are children of the stack are counted before and after, to check that
exactly one was started.

The floor is `bench/cold_floor.py` run as a fresh process against the same moto server and the
same capture server, timed from spawn to its `done` line, interleaved with the product's
repetitions. The figure is median(product) / median(floor).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench import environment
from bench.product import BODY, RECIPIENTS, SENDER
from bench.servers import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
FLOOR_SCRIPT = Path(__file__).resolve().parent / "cold_floor.py"
HOST = "127.0.0.1"
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 30.0
# How long a held send may wait for the greeting that never comes: longer than a repetition.
HOLD_SMTP_TIMEOUT_SECONDS = "25"
HOLD_SERVICE = "bench-hold"
SEND_SERVICE = "email"  # the stack's own, to its capture server
CONTAINER_MODULE = "local_stack.container_process"
API_FUNCTION = "ApiFunction"
IMPORTTIME_TOP = 10


@dataclass
class ColdResult:
    """Seconds: each repetition's cold send (request -> 200 on a fresh API container), the
    warm send after it, and the floor script's run (spawn -> done)."""

    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    containers_started: list[int] = field(default_factory=list)
    stack_ready_seconds: float = 0.0
    # The first send after "ready", and the one after it: both on the container the stack's
    # own start-up warmed, which is why neither is the cold path.
    after_ready: list[float] = field(default_factory=list)
    importtime_top: list[dict[str, Any]] = field(default_factory=list)
    container_imports_ms: float = 0.0
    failures: list[str] = field(default_factory=list)


class Holder:
    """A TCP server on loopback that accepts connections and says nothing until `release`."""

    def __init__(self) -> None:
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._accept, name="holder", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.release()
        self._listener.close()  # accept() fails: the thread ends
        self._thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self._listener.accept()
            except OSError:
                return
            with self._changed:
                self._held.append(connection)
                self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """True once `count` connections are held."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._held) >= count, timeout)

    def release(self) -> None:
        with self._changed:
            held, self._held = self._held, []
        for connection in held:
            connection.close()


class LocalStack:
    """`python -m local_stack` on free ports, its state and mail under `workdir`."""

    def __init__(self, workdir: Path, *, concurrency: int) -> None:
        self.workdir = workdir
        self.api_port, self.invoke_port, self.smtp_port, self.moto_port = (
            free_port() for _ in range(4)
        )
        self.log_path = workdir / "stack.log"
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0

    @property
    def moto_endpoint(self) -> str:
        return f"http://{HOST}:{self.moto_port}"

    def environment(self) -> dict[str, str]:
        """This process's environment without the bench's own settings or any AWS, MAIL_*,
        LOCAL_* or BOOTSTRAP_* one, plus the stack's (as tests/support/stack_process.py)."""
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in environment.BENCH_SETTINGS
            and name != "SMTP_CA_FILE"
            and not name.startswith(("AWS_", "MAIL_", "LOCAL_", "BOOTSTRAP_"))
        }
        env.update(
            LOCAL_API_PORT=str(self.api_port),
            LOCAL_INVOKE_PORT=str(self.invoke_port),
            LOCAL_SMTP_PORT=str(self.smtp_port),
            LOCAL_SMTPS_PORT=str(free_port()),
            LOCAL_MOTO_PORT=str(self.moto_port),
            LOCAL_MAIL_DIR=str(self.workdir / "mail"),
            LOCAL_STATE_DIR=str(self.workdir / "state"),
            # Room for the held containers and a fresh one beside them.
            LOCAL_CONCURRENCY=str(self.concurrency),
            BOOTSTRAP_ADMIN_KEY=ADMIN_KEY,
            SMTP_TIMEOUT_SECONDS=HOLD_SMTP_TIMEOUT_SECONDS,
            PYTHONUNBUFFERED="1",
        )
        return env

    def __enter__(self) -> Self:
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # this interpreter, its module
                [sys.executable, "-m", "local_stack"],
                cwd=REPO_ROOT,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - started
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if any(line.startswith("ready") for line in self.log().splitlines()):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the local stack exited: {self.log()[-1500:]}")
            time.sleep(0.05)
        raise RuntimeError(f"the local stack was not ready in {READY_TIMEOUT_SECONDS}s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # it ends its containers itself
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> int:
        """One API request with the admin key; its status."""
        request = urllib.request.Request(  # http://127.0.0.1:<port>, ours
            f"http://{HOST}:{self.api_port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-DreamFactory-API-Key": ADMIN_KEY},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:  # noqa: S310
                answer.read()
                status: int = answer.status
        except urllib.error.HTTPError as error:
            error.read()
            status = error.code
        return status

    def api_containers(self) -> int:
        """The stack's API function containers alive now (child processes of the stack)."""
        if self.process is None:
            return 0
        count = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            names = [part.decode(errors="replace") for part in command]
            if parent == self.process.pid and CONTAINER_MODULE in names and API_FUNCTION in names:
                count += 1
        return count


def send_body() -> dict[str, Any]:
    """What every timed send asks for: five recipients, about 2 KB of text."""
    return {"to": [{"email": r} for r in RECIPIENTS], "subject": "bench", "body_text": BODY}


def timed_send(stack: LocalStack, service: str = SEND_SERVICE) -> tuple[float, int]:
    started = time.perf_counter()
    status = stack.request("POST", f"/api/v2/{service}", send_body())
    return time.perf_counter() - started, status


def floor_config(stack: LocalStack) -> dict[str, Any]:
    from local_stack.environment import ADMIN_KEY_SECRET_ID, table_names

    names = table_names()
    # Lines of at most 76 characters, as the product's quoted-printable has them.
    body = "\r\n".join(textwrap.wrap(BODY, 76))
    message = (
        f"From: {SENDER}\r\nTo: {', '.join(RECIPIENTS)}\r\nSubject: bench\r\n"
        f"Message-ID: <floor@bench.localhost>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    return {
        "tables": {
            "services": names["ServicesTable"],
            "api_keys": names["ApiKeysTable"],
            "roles": names["RolesTable"],
            "messages": names["MessagesTable"],
        },
        "service": SEND_SERVICE,
        "key_id": "bench-key",
        "role": "bench-role",
        "secret_id": ADMIN_KEY_SECRET_ID,
        "smtp_port": stack.smtp_port,
        "sender": SENDER,
        "recipients": RECIPIENTS,
        "message": message,
    }


def floor_environment(stack: LocalStack) -> dict[str, str]:
    """What the stack gives its containers for AWS: moto's endpoint, fake credentials."""
    env = stack.environment()
    env.update(
        AWS_ENDPOINT_URL=stack.moto_endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106  # moto takes any
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def run_floor(stack: LocalStack) -> float:
    """Seconds from spawning the floor script to its `done`."""
    config = json.dumps(floor_config(stack))
    env = floor_environment(stack)
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603  # this interpreter, our script
        [sys.executable, "-P", str(FLOOR_SCRIPT), config],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    _out, errors = process.communicate(timeout=REQUEST_TIMEOUT_SECONDS)
    if line.strip() != b"done" or process.returncode != 0:
        raise RuntimeError(f"the floor script failed: {errors.decode(errors='replace')[-1500:]}")
    return elapsed


def cold_send(stack: LocalStack, holder: Holder, result: ColdResult) -> None:
    """One repetition: hold every warm API container, time a send on a fresh one, then a
    second send (warm), then let the held ones go."""
    warm_containers = stack.api_containers()
    held: list[threading.Thread] = []
    try:
        for count in range(1, warm_containers + 1):
            thread = threading.Thread(target=timed_send, args=(stack, HOLD_SERVICE), daemon=True)
            thread.start()
            held.append(thread)
            if not holder.wait_for(count, REQUEST_TIMEOUT_SECONDS):
                raise RuntimeError("a held send never reached the holding SMTP server")
        seconds, status = timed_send(stack)
        started = stack.api_containers() - warm_containers
        warm, warm_status = timed_send(stack)
    finally:
        holder.release()
        for thread in held:
            thread.join(REQUEST_TIMEOUT_SECONDS)
    if status != 200 or warm_status != 200:
        result.failures.append(f"cold send answered {status}, warm {warm_status}")
        return
    if started != 1:  # not a cold start of one container: not a sample of the cold path
        result.failures.append(f"a timed send started {started} API containers, not 1")
        return
    result.cold.append(seconds)
    result.warm.append(warm)
    result.containers_started.append(started)


def importtime(module: str, path: Path) -> list[dict[str, Any]]:
    """`python -X importtime -c "import <module>"` with `path` on PYTHONPATH: every import,
    the largest cumulative time first."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    done = subprocess.run(  # noqa: S603  # this interpreter, one of our modules
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=path,
        env=env,
    )
    pattern = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")
    found = []
    for line in done.stderr.splitlines():
        matched = pattern.match(line)
        if matched:
            own, cumulative, indent, name = matched.groups()
            found.append(
                {
                    "module": name,
                    "cumulative_ms": round(int(cumulative) / 1000, 1),
                    "self_ms": round(int(own) / 1000, 1),
                    "depth": (len(indent) - 1) // 2,
                }
            )
    found.sort(key=lambda entry: -float(entry["cumulative_ms"]))
    return found


def importtime_top(count: int = IMPORTTIME_TOP) -> list[dict[str, Any]]:
    """The `count` largest cumulative import times of `import handlers.api`."""
    return importtime("handlers.api", environment.SRC)[:count]


def container_imports_ms() -> float:
    """What the local stack's container process imports before the handler (its own code,
    yaml among it), which a Lambda container does not: an upper bound, as some of it the
    handler would import anyway."""
    found = importtime("local_stack.container_process", REPO_ROOT)
    return next((float(e["cumulative_ms"]) for e in found if e["module"] == CONTAINER_MODULE), 0)


def measure(workdir: Path, repeats: int) -> ColdResult:
    """`repeats` cold sends on fresh API containers and as many floor runs, interleaved."""
    result = ColdResult()
    result.importtime_top = importtime_top()
    result.container_imports_ms = container_imports_ms()
    # Containers: the warm ones held, plus the fresh one, at every repetition.
    with LocalStack(workdir, concurrency=repeats + 2) as stack, Holder() as holder:
        result.stack_ready_seconds = stack.ready_seconds
        for _ in range(2):
            seconds, status = timed_send(stack)
            if status != 200:
                raise RuntimeError(f"a send after ready answered {status}")
            result.after_ready.append(seconds)
        hold = {"host": HOST, "port": holder.port, "encryption": "none", "from_email": SENDER}
        created = stack.request(
            "POST", "/api/v2/system/service", {"name": HOLD_SERVICE, "config": hold}
        )
        if created != 201:
            raise RuntimeError(f"creating the holding service answered {created}")
        for _ in range(repeats):
            cold_send(stack, holder, result)
            result.floor.append(run_floor(stack))
    return result
