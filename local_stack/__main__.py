"""`python -m local_stack` (`make dev`): the whole API on 127.0.0.1, until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import sys
import time
from contextlib import ExitStack
from types import FrameType

import boto3

from local_stack.banner import banner
from local_stack.bootstrap import create_email_service
from local_stack.config import REPO_ROOT, LocalConfig
from local_stack.environment import point_handlers_at, queue_arn, queue_url
from local_stack.functions import template_api, template_functions
from local_stack.gateway import Gateway
from local_stack.mail_capture import MailCapture
from local_stack.moto_server import MotoServer
from local_stack.resources import provision
from local_stack.worker_poller import WorkerPoller, template_queue_sources

SRC = REPO_ROOT / "src"


class StopSignal:
    """Remembers the first SIGINT or SIGTERM; a second Ctrl-C interrupts whatever is running."""

    def __init__(self) -> None:
        self.received: int | None = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only a plain assignment here: a handler taking a lock could deadlock the main thread.
        self.received = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def wait(self) -> int:
        while self.received is None:
            time.sleep(0.1)
        return self.received


def start_gateway(config: LocalConfig) -> Gateway:
    """The gateway in front of the template's functions, whose code lives in src/ (CodeUri)."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    return Gateway(config.api_port, config.invoke_port, template_functions(), template_api())


def start_pollers(gateway: Gateway, moto_endpoint: str) -> list[WorkerPoller]:
    """One poller per SQS event source of the template, invoking through the gateway's lock."""
    sqs = boto3.client("sqs")
    return [
        WorkerPoller(
            sqs,
            source,
            queue_url(moto_endpoint, source.queue),
            queue_arn(source.queue),
            gateway.functions[source.function],
            gateway.run_invoke,
        )
        for source in template_queue_sources()
    ]


def main() -> int:
    started = time.monotonic()
    stop = StopSignal()
    config = LocalConfig.from_env()
    config.require_free_ports()
    with ExitStack() as running:
        moto = MotoServer(config.moto_port)
        running.callback(moto.stop)
        point_handlers_at(moto.endpoint_url)
        provision(config.admin_key)
        capture = MailCapture(config.smtp_port, config.mail_dir)
        running.callback(capture.stop)
        gateway = start_gateway(config)
        running.callback(gateway.stop)
        create_email_service(config)
        pollers = start_pollers(gateway, moto.endpoint_url)
        for poller in pollers:
            running.callback(poller.stop)

        functions = list(gateway.functions.values())
        print(banner(config, moto.endpoint_url, functions, gateway.api, pollers), flush=True)
        elapsed = time.monotonic() - started
        print(
            f"ready in {elapsed:.1f}s on {config.api_url}"
            f" (Lambda Invoke on {config.invoke_url}; Ctrl-C to stop)",
            flush=True,
        )
        signum = stop.wait()
        print(f"{signal.Signals(signum).name}: stopping", flush=True)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
