"""`python -m local_stack` as a child process, and what a client of it sees: HTTP and files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from local_stack.mail_capture import CapturedMail, read_captured
from tests.support.api import ApiResponse
from tests.support.network import free_port

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

REPO_ROOT = Path(__file__).resolve().parents[2]
# How long one request to the stack may take.
REQUEST_TIMEOUT_SECONDS = 60
# A busy machine took 13 s to start one, cold starts and all.
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    api_port: int
    invoke_port: int
    smtp_port: int
    moto_port: int
    mail_dir: Path
    admin_key: str
    log_path: Path
    # Settings of this run beyond the ports and the key (e.g. RETRY_BASE_SECONDS).
    extra_env: dict[str, str] = field(default_factory=dict)
    # Whether it leads a process group of its own (`kill_group`).
    own_process_group: bool = False
    _stopped: bool = field(default=False, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def invoke_url(self) -> str:
        return f"http://127.0.0.1:{self.invoke_port}"

    @property
    def smtps_port(self) -> int:
        """The capture server's implicit-TLS port."""
        return int(self.extra_env["LOCAL_SMTPS_PORT"])

    @property
    def ca_file(self) -> Path:
        """The local CA the capture server's certificate chains to (`local_stack.local_ca`)."""
        return self.state_dir / "tls" / "ca.pem"

    @property
    def ports(self) -> tuple[int, int, int, int]:
        return self.api_port, self.invoke_port, self.smtp_port, self.moto_port

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # --- talking to it --------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        query: str = "",
        port: int | None = None,
    ) -> ApiResponse:
        """One HTTP request to the API port (or `port`); 4xx and 5xx answers are returned.
        Beware: urllib labels a body without a Content-Type as a form."""
        base = f"http://127.0.0.1:{port}" if port else self.api_url
        url = f"{base}{path}" + (f"?{query}" if query else "")
        data = body.encode() if isinstance(body, str) else body
        # Only ever http://127.0.0.1:<port>: the URL scheme is ours, not the caller's.
        request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310
        try:
            # Past the function's own 30 s timeout and a cold start: a client that gave up at
            # 20 s on a busy machine missed 202s the stack did send (test_kill counted 58 of 60).
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:  # noqa: S310
                return _answer(answer.status, dict(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            return _answer(error.code, dict(error.headers.items()), error.read())

    def send_event(self, event: dict[str, Any], *, without_api_key: bool = False) -> ApiResponse:
        """Replay an API Gateway proxy event from `events/` as the HTTP request it stands for."""
        headers = dict(event.get("headers") or {})
        if without_api_key:
            headers = {k: v for k, v in headers.items() if k.lower() != "x-dreamfactory-api-key"}
        query = "&".join(f"{k}={v}" for k, v in (event.get("queryStringParameters") or {}).items())
        return self.request(
            event["httpMethod"], event["path"], body=event.get("body"), headers=headers, query=query
        )

    def lambda_client(self) -> LambdaClient:
        """boto3's lambda client on the stack's Invoke API, as `sam local start-lambda` is used."""
        client: LambdaClient = boto3.client(
            "lambda",
            endpoint_url=self.invoke_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        return client

    def captured(self, message_id: str) -> tuple[EmailMessage, CapturedMail]:
        """The message the capture server wrote for `message_id`, parsed, and its envelope."""
        for mail in read_captured(self.mail_dir):
            if mail.message_id == message_id:
                parsed = BytesParser(policy=default).parsebytes(mail.eml_path.read_bytes())
                assert isinstance(parsed, EmailMessage)  # what the default policy parses into
                return parsed, mail
        raise AssertionError(f"No captured message with Message-ID {message_id} in {self.mail_dir}")

    # --- its life -------------------------------------------------------------------------

    @property
    def workdir(self) -> Path:
        return self.mail_dir.parent

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or saved on the way out."""
        self._stopped = True
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def kill_group(self) -> None:
        """SIGKILL to its process group, as `kill -9 -<pgid>` in a shell: the stack and every
        thread of it at once. Its Lambda containers (process groups of their own) end when
        their socket closes, once the invocation in hand is over."""
        if not self.own_process_group:
            raise RuntimeError("start_stack(own_process_group=True) first: its group is ours")
        self._stopped = True
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal it and wait for it; returns its exit code (killing it if it hangs)."""
        if not self._stopped:
            self._stopped = True
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"The local stack ignored {signum}:\n{self.log()}") from None


def stack_environment(
    *,
    api_port: int,
    invoke_port: int,
    smtp_port: int,
    moto_port: int,
    mail_dir: Path,
    admin_key: str,
    state_dir: Path | None = None,
) -> dict[str, str]:
    """This process's environment without AWS or MAIL_* settings, plus the stack's own; its
    state goes next to its mail (never into the repository's `.local/state`)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "MAIL_", "LOCAL_", "BOOTSTRAP_"))
    }
    env.update(
        LOCAL_API_PORT=str(api_port),
        LOCAL_INVOKE_PORT=str(invoke_port),
        LOCAL_SMTP_PORT=str(smtp_port),
        # The capture server's implicit-TLS port: a free one, not 1465 (a `make dev` may have it).
        LOCAL_SMTPS_PORT=str(free_port()),
        LOCAL_MOTO_PORT=str(moto_port),
        LOCAL_MAIL_DIR=str(mail_dir),
        LOCAL_STATE_DIR=str(state_dir or mail_dir.parent / "state"),
        BOOTSTRAP_ADMIN_KEY=admin_key,
        PYTHONUNBUFFERED="1",
    )
    return env


def start_stack(
    workdir: Path,
    *,
    admin_key: str,
    ports: tuple[int, int, int, int] | None = None,
    arguments: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    own_process_group: bool = False,
) -> RunningStack:
    """Start the local stack on free loopback ports (or `ports`: api, invoke, smtp, moto),
    mail and state into `workdir`, and wait until ready. An empty `admin_key` lets the stack
    generate (or keep) its own; `own_process_group` puts it in a process group of its own."""
    api_port, invoke_port, smtp_port, moto_port = ports or tuple(free_port() for _ in range(4))
    mail_dir = workdir / "mail"
    runs = len(list(workdir.glob("stack*.log")))
    log_path = workdir / ("stack.log" if not runs else f"stack-{runs + 1}.log")
    env = stack_environment(
        api_port=api_port,
        invoke_port=invoke_port,
        smtp_port=smtp_port,
        moto_port=moto_port,
        mail_dir=mail_dir,
        admin_key=admin_key,
    )
    # The capture server's implicit-TLS port: kept in the run's settings, so a restart keeps it.
    extra_env = {"LOCAL_SMTPS_PORT": env["LOCAL_SMTPS_PORT"], **(extra_env or {})}
    env.update(extra_env)
    with log_path.open("wb") as log:
        # A file, not a pipe: nobody reads the log while tests run, and a full pipe would block.
        process = subprocess.Popen(  # noqa: S603  # this interpreter, our module, our flags
            [sys.executable, "-m", "local_stack", *arguments],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0 if own_process_group else None,
        )
    stack = RunningStack(
        process,
        api_port,
        invoke_port,
        smtp_port,
        moto_port,
        mail_dir,
        admin_key,
        log_path,
        extra_env=dict(extra_env),
        own_process_group=own_process_group,
    )
    _wait_until_ready(stack)
    return stack


def restart_stack(
    stack: RunningStack,
    *,
    smtp_port: int | None = None,
    arguments: tuple[str, ...] = (),
    admin_key: str | None = None,
) -> RunningStack:
    """Start the stack again on the same ports, mail and state directory (it must have been
    stopped or killed); `smtp_port` moves its capture server."""
    return start_stack(
        stack.workdir,
        admin_key=stack.admin_key if admin_key is None else admin_key,
        ports=(stack.api_port, stack.invoke_port, smtp_port or stack.smtp_port, stack.moto_port),
        arguments=arguments,
        extra_env=stack.extra_env,
        own_process_group=stack.own_process_group,
    )


def _wait_until_ready(stack: RunningStack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if any(line.startswith("ready") for line in stack.log().splitlines()):
            return
        if stack.process.poll() is not None:
            raise AssertionError(
                f"The local stack exited with {stack.process.returncode}:\n{stack.log()}"
            )
        time.sleep(0.05)
    stack.process.kill()
    stack.process.wait()
    raise AssertionError(
        f"The local stack was not ready in {READY_TIMEOUT_SECONDS}s:\n{stack.log()}"
    )


def _answer(status: int, headers: dict[str, str], content: bytes) -> ApiResponse:
    return ApiResponse(status, headers, json.loads(content) if content else None)
