"""`python -m local_stack` (`make dev`): the whole API on 127.0.0.1, until SIGINT or SIGTERM.

What it was told survives a stop or a kill (LOCAL_STATE_DIR, `.local/state/`); `--reset`
(`make dev-reset`) forgets it first."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from contextlib import ExitStack
from types import FrameType

import boto3

from local_stack.admin_key import admin_key_in_force
from local_stack.banner import banner
from local_stack.bootstrap import create_email_service
from local_stack.config import LocalConfig
from local_stack.environment import point_handlers_at, queue_arn, queue_url, trust_local_ca
from local_stack.functions import template_api, template_functions
from local_stack.gateway import Gateway
from local_stack.leases import free_connection_slots, give_back_leases
from local_stack.local_ca import local_authority
from local_stack.mail_capture import MailCapture, MailFolder
from local_stack.moto_server import MotoServer
from local_stack.resources import provision, state_summary
from local_stack.scheduler import Scheduler, template_schedules
from local_stack.ses import verify_identities
from local_stack.shell_env import remove_shell_env, source_command, write_shell_env
from local_stack.simulator_events import SimulatorEvents
from local_stack.smtp.simulator import SimulatorSettings
from local_stack.state_store import StateStore
from local_stack.worker_poller import WorkerPoller, template_queue_sources


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
    """The gateway in front of the template's functions (each runs in containers of its own)."""
    api = template_api({"CorsAllowedOrigins": config.cors_allowed_origins})
    return Gateway(
        config.api_port, config.invoke_port, template_functions(), api, mail_dir=config.mail_dir
    )


def start_pollers(gateway: Gateway, moto_endpoint: str) -> list[WorkerPoller]:
    """One poller per SQS event source of the template, invoking through the gateway's pools."""
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


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments().parse_args(argv)
    started = time.monotonic()
    stop = StopSignal()
    config = LocalConfig.from_env()
    config.require_free_ports()
    with ExitStack() as running:
        state = StateStore(config.state_dir)
        if arguments.reset:
            state.reset()
        # Runs last: the final snapshot is taken once nothing talks to moto any more.
        running.callback(state.close)
        # What the simulator's recipients cause after a send (SES-style events) goes through
        # the API's own events route, once the gateway is up.
        simulator_events = SimulatorEvents(config.api_url)
        running.callback(simulator_events.stop)
        mail = MailFolder(config.mail_dir, on_kept=simulator_events.after_kept)
        moto = MotoServer(config.moto_port, state, ses_mail=mail)
        running.callback(moto.stop)
        point_handlers_at(moto.endpoint_url)
        authority = local_authority(config.state_dir)
        trust_local_ca(authority.ca_file)
        verify_identities(config.ses_identities)
        admin_key = provision(config.admin_key, keep_existing_key=not config.admin_key_given)
        if admin_key != config.admin_key:
            config = dataclasses.replace(config, admin_key=admin_key, admin_key_kept=True)
        # After the admin API rotated or disabled it: the banner says so.
        in_force = admin_key_in_force(admin_key, given=config.admin_key_given)
        config = dataclasses.replace(
            config,
            admin_key_rotated_at=in_force.rotated_at,
            admin_key_disabled=in_force.disabled,
            admin_key_replaced=in_force.replaced,
        )
        # Counted before the bootstrap below adds anything.
        summary = state_summary(config.state_dir, moto.restored, reset=arguments.reset)
        # Before any poller runs: no worker of the last run is left to finish what it claimed.
        leases = give_back_leases()
        if leases:
            summary += f"; {leases} left sending by the last run's workers, their leases given back"
        slots = free_connection_slots()
        if slots:
            summary += f"; {slots} connection slots they held, freed"
        capture = MailCapture(
            config.smtp_port,
            config.mail_dir,
            authority=authority,
            tls_port=config.smtps_port,
            simulator=SimulatorSettings.from_env(),
            folder=mail,
        )
        running.callback(capture.stop)
        gateway = start_gateway(config)
        running.callback(gateway.stop)
        if not config.admin_key_disabled:  # its calls would be refused
            create_email_service(config)
        pollers = start_pollers(gateway, moto.endpoint_url)
        for poller in pollers:
            running.callback(poller.stop)
        # The scheduled functions (the repair of lost jobs), as EventBridge runs them.
        scheduler = Scheduler(template_schedules(), gateway.functions, gateway.run_invoke)
        running.callback(scheduler.stop)

        # Last before the banner: its values hold once everything answers, until the stop.
        source_env = source_command(write_shell_env(config))
        running.callback(remove_shell_env, config)
        functions = list(gateway.functions.values())
        print(
            banner(config, moto.endpoint_url, functions, gateway.api, pollers, summary, source_env),
            flush=True,
        )
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


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__)
    parser.add_argument(
        "--reset",
        action="store_true",
        help="start clean: forget the services, keys, records and queue of earlier runs"
        " (captured mail stays)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
