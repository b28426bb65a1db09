"""`mailer test-service NAME`: have the API test a service's connection (no mail is sent),
and print its report for a person, or as the API's JSON with `--json`.

The exit status is 0 when every stage passed, 1 when the test ran and failed (as for an API
error: the report says at which stage and why), and as for any command otherwise.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from mailer_cli.client import ApiClient, resource_path
from mailer_cli.output import print_answer

HELP = (
    "test a service's connection (SMTP: TLS, certificate, EHLO, AUTH; SES: account, sender);"
    " sends no mail"
)
EXIT_PASSED = 0
EXIT_FAILED = 1


def register(command: Callable[[str, str, Callable[..., Any]], argparse.ArgumentParser]) -> None:
    """Add `test-service` with `command` (the parser's `Commands.command`)."""
    configure(command("test-service", HELP, run))


def configure(command: argparse.ArgumentParser) -> None:
    """The command's arguments (`run` is what it does)."""
    command.add_argument("name", help="the service to test")
    command.epilog = "exit status: 0 if every stage passed, 1 if the test failed (or the API"
    command.epilog += " answered an error), 2 and 3 as for every command."


@dataclass(frozen=True)
class ConnectionReport:
    """The API's report, to be shown; `show` prints it and gives the exit status."""

    report: dict[str, Any]
    as_json: bool = False

    @property
    def ok(self) -> bool:
        return self.report.get("ok") is True

    def show(self, out: TextIO) -> int:
        if self.as_json:
            print_answer(self.report, out, as_json=True)
        else:
            out.write("".join(f"{line}\n" for line in readable(self.report)))
        return EXIT_PASSED if self.ok else EXIT_FAILED


def run(client: ApiClient, args: argparse.Namespace) -> ConnectionReport:
    """`POST /api/v2/system/service/{name}/test`: a 200 whether the test passed or not."""
    answer = client.post(resource_path("system", "service", args.name, "test"), None)
    return ConnectionReport(
        answer if isinstance(answer, dict) else {}, as_json=getattr(args, "json", False)
    )


def readable(report: dict[str, Any]) -> list[str]:
    """The report as lines for a terminal: the stages, then what each one learnt."""
    if "region" in report:
        return _ses(report)
    lines = [
        f"service {report.get('service')}: {report.get('host')}:{report.get('port')}"
        f" (encryption {report.get('encryption') or 'opportunistic'},"
        f" verify_tls {'on' if report.get('verify_tls') else 'off'})"
    ]
    lines += _stages(report)
    connection = report.get("connection")
    if connection:
        lines.append(
            f"connected to {connection['address']} port {connection['port']}"
            f" in {connection['connect_ms']:.1f} ms"
        )
    if report.get("greeting"):
        lines.append(f"greeting: {report['greeting']}")
    lines += _tls(report.get("tls") or {})
    for hello in report.get("ehlo") or []:
        lines += _hello(hello)
    auth = report.get("auth")
    if auth:
        outcome = {True: "succeeded", False: "FAILED", None: "not reached"}[auth.get("succeeded")]
        offered = " ".join(auth.get("mechanisms") or []) or "none"
        lines.append(f"AUTH as {auth.get('username')}: {outcome} (offered: {offered})")
    lines += _dkim(report.get("dkim"))
    error = report.get("error")
    if error:
        lines.append(
            f"FAILED at {error.get('stage')} ({error.get('reason')}): {error.get('message')}"
        )
    elif report.get("ok"):
        lines.append("ok: the server can be reached and accepts the service's settings")
    lines.append("no mail was sent")
    return lines


def _stages(report: dict[str, Any]) -> list[str]:
    return [
        f"  {'ok  ' if stage.get('ok') else 'FAIL'} {stage.get('stage', '?'):<9}"
        f" {stage.get('ms', 0):>8.1f} ms"
        for stage in report.get("stages") or []
    ]


def _ses(report: dict[str, Any]) -> list[str]:
    """An SES service's report (`type: ses`): the account, and the sender's identity."""
    configuration_set = report.get("configuration_set")
    lines = [
        f"service {report.get('service')}: Amazon SES API in {report.get('region')}"
        + (f" (configuration set {configuration_set})" if configuration_set else "")
    ]
    lines += _stages(report)
    account = report.get("account")
    if account:
        sandbox = "production access" if account.get("production_access") else "SANDBOX"
        lines.append(
            f"account: sending {'enabled' if account.get('sending_enabled') else 'DISABLED'},"
            f" {sandbox}, {account.get('enforcement_status') or '?'};"
            f" quota {account.get('max_24_hour_send')} a day"
            f" ({account.get('sent_last_24_hours')} sent), {account.get('max_send_rate')} a second"
        )
    identity = report.get("identity")
    if identity:
        verified = "verified" if identity.get("verified_for_sending") else "NOT verified"
        known = identity.get("identity") or "no identity"
        lines.append(f"sender {identity.get('sender')}: {known}, {verified} for sending")
    lines += _dkim(report.get("dkim"))
    error = report.get("error")
    if error:
        lines.append(
            f"FAILED at {error.get('stage')} ({error.get('reason')}): {error.get('message')}"
        )
    elif report.get("ok"):
        lines.append("ok: SES lets the account send, as the service's sender")
    lines.append("no mail was sent")
    return lines


def _dkim(dkim: dict[str, Any] | None) -> list[str]:
    """A signing service's DNS record, whole: it is meant to be copied into the zone."""
    if not dkim:
        return []
    aligned = {True: "aligns", False: "does NOT align", None: "is not set"}[
        dkim.get("sender_aligned")
    ]
    lines = [
        f"DKIM: d={dkim.get('domain')} s={dkim.get('selector')}, {dkim.get('key_bits')}-bit key;"
        f" the default sender {aligned}",
        f"  publish  {dkim.get('record_name')} {dkim.get('record_type')}",
        f'           "{dkim.get("record_value")}"',
    ]
    if dkim.get("unsigned_fields"):
        lines.append(
            f"  unsigned {', '.join(dkim['unsigned_fields'])} (the provider rewrites them)"
        )
    return lines


def _tls(tls: dict[str, Any]) -> list[str]:
    if tls.get("mode", "none") == "none":
        return ["TLS: none (clear text)"]
    how = "STARTTLS" if tls["mode"] == "starttls" else "implicit TLS"
    checked = "verified" if tls.get("verified") else "NOT verified"
    if tls.get("verify_error"):
        checked += f": {tls['verify_error']}"
    lines = [f"TLS: {tls.get('version')} {tls.get('cipher')} by {how}; certificate {checked}"]
    certificate = tls.get("certificate")
    if certificate:
        lines += [
            f"  subject  {certificate['subject']}",
            f"  issuer   {certificate['issuer']}",
            f"  expires  {certificate['not_after']} ({certificate['days_to_expiry']} days)",
            f"  names    {', '.join(certificate['subject_alt_names']) or '-'}",
        ]
    return lines


def _hello(hello: dict[str, Any]) -> list[str]:
    capabilities = hello.get("capabilities") or {}
    notable = [
        name
        for name, key in (
            ("STARTTLS", "starttls"),
            ("PIPELINING", "pipelining"),
            ("CHUNKING", "chunking"),
            ("SMTPUTF8", "smtputf8"),
            ("8BITMIME", "eight_bit_mime"),
        )
        if capabilities.get(key)
    ]
    if capabilities.get("size") is not None:
        notable.append(f"SIZE {capabilities['size']}")
    if capabilities.get("auth"):
        notable.append("AUTH " + " ".join(capabilities["auth"]))
    where = "over TLS" if hello.get("tls") else "in clear text"
    return [
        f"{hello.get('command', 'EHLO')} ({where}): {hello.get('server')}",
        f"  {', '.join(notable) or 'no extensions'}",
    ]
