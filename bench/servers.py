"""The SMTP servers the benchmark sends to, each on a loopback port, each its own process (so
the client's CPU time and the server's are never mixed up):

- `SmtpSink`: Postfix's `smtp-sink`, which advertises PIPELINING (not CHUNKING, not STARTTLS)
  and throws every message away;
- `PostfixSmtpd`: a real Postfix `smtpd` in a private instance (its own config, queue and data
  directories under a temporary one) offering STARTTLS, PIPELINING and CHUNKING, and
  discarding every message (`default_transport = discard`);
- `AuthServer`: aiosmtpd with STARTTLS and AUTH PLAIN/LOGIN (any password), without
  PIPELINING, as Amazon SES's SMTP endpoint behaves (`python -m bench.servers` runs it).

The certificates come from a trustme CA (`Certificates`) whose bundle the product is told to
trust (SMTP_CA_FILE). Postfix's programs come from Debian's `postfix` package; its master
must start as root (it drops to the `postfix` user for its daemons), so `PostfixSmtpd` needs
root, `SmtpSink` does not (as root it is told to drop to `nobody`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme

HOST = "127.0.0.1"
SERVER_NAMES = ("localhost", HOST)
SMTP_SINK = "/usr/sbin/smtp-sink"
POSTFIX = "/usr/sbin/postfix"
MASTER = "/usr/lib/postfix/sbin/master"
POST_INSTALL = "/usr/lib/postfix/sbin/post-install"
START_TIMEOUT_SECONDS = 20.0


class ServerUnavailable(RuntimeError):
    """The server cannot run on this machine (a program missing, no root); the message says
    what to do about it."""


@dataclass(frozen=True)
class Certificates:
    """A CA (its PEM bundle: what SMTP_CA_FILE names) and a server certificate it issued for
    localhost and 127.0.0.1 (`cert_file`, `key_file`)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, directory: Path) -> Certificates:
        ca = trustme.CA(organization_name="email-api bench")
        leaf = ca.issue_cert(*SERVER_NAMES)
        files = cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
        ca.cert_pem.write_to_path(str(files.ca_file))
        # Postfix reads the chain without the key; the key must not be readable by others.
        files.cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(files.key_file))
        files.key_file.chmod(0o600)
        return files

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def wait_for_greeting(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """Return once something on `port` sends an SMTP greeting (a 220)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerUnavailable(f"the server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=2) as sock:
                if sock.recv(512).startswith(b"220"):
                    sock.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise ServerUnavailable(f"no SMTP greeting on port {port} in {START_TIMEOUT_SECONDS}s")


class _Process:
    """A server process of ours: started by `start`, ended by `stop` (its own pid only)."""

    name = "server"
    port: int
    _process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SmtpSink(_Process):
    """`smtp-sink -c 127.0.0.1:PORT 1000`: PIPELINING, no TLS; it counts but keeps nothing."""

    name = "smtp-sink"

    def __init__(self) -> None:
        if not Path(SMTP_SINK).exists():
            raise ServerUnavailable(f"{SMTP_SINK} is missing: install Debian's postfix package")
        self.port = free_port()

    def start(self) -> Self:
        privileges = ["-u", "nobody"] if os.geteuid() == 0 else []
        self._process = subprocess.Popen(  # noqa: S603  # a fixed program, our arguments
            [SMTP_SINK, *privileges, "-c", f"{HOST}:{self.port}", "1000"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_greeting(self.port, self._process)
        return self


class AuthServer(_Process):
    """aiosmtpd with STARTTLS and AUTH (required after STARTTLS), no PIPELINING, in a process
    of its own (`python -m bench.servers auth`)."""

    name = "aiosmtpd"

    def __init__(self, certificates: Certificates) -> None:
        self._certificates = certificates
        self.port = free_port()

    def start(self) -> Self:
        self._process = subprocess.Popen(  # noqa: S603  # this interpreter, our module
            [
                sys.executable,
                "-m",
                "bench.servers",
                "auth",
                str(self.port),
                str(self._certificates.cert_file),
                str(self._certificates.key_file),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # aiosmtpd's deprecation warnings, at every AUTH
            cwd=Path(__file__).resolve().parent.parent,
        )
        wait_for_greeting(self.port, self._process)
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()  # it serves until its standard input closes
        super().stop()


class PostfixSmtpd(_Process):
    """A private Postfix instance: its master, a `smtpd` on 127.0.0.1:PORT with STARTTLS
    (the given certificate), PIPELINING and CHUNKING, and the daemons a message passes on its
    way to `discard`. Everything lives in a temporary directory, deleted on `stop`. Root only:
    Postfix's master starts as root and runs its daemons as the `postfix` user."""

    name = "postfix smtpd"

    def __init__(self, certificates: Certificates) -> None:
        if not Path(POSTFIX).exists():
            raise ServerUnavailable(f"{POSTFIX} is missing: install Debian's postfix package")
        if os.geteuid() != 0:
            raise ServerUnavailable("a private Postfix instance needs root (its master does)")
        self._certificates = certificates
        self.port = free_port()
        self._root: Path | None = None

    def start(self) -> Self:
        root = Path(tempfile.mkdtemp(prefix="bench-postfix-"))
        self._root = root
        root.chmod(0o755)  # the postfix user walks into its queue below it
        config = root / "config"
        config.mkdir()
        for name in ("queue", "data"):
            (root / name).mkdir()
        shutil.chown(root / "data", "postfix")
        # Postfix wants its own copy of the key and certificate, owned by root.
        shutil.copy(self._certificates.cert_file, config / "server.pem")
        shutil.copy(self._certificates.key_file, config / "server.key")
        settings = _main_cf(root, config)
        (config / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        (config / "master.cf").write_text(_master_cf(self.port))
        # `postfix -c DIR start` would refuse a configuration directory that the system's
        # main.cf does not list (alternate_config_directories), saying so to a syslog this
        # machine may not have: so the queue is made as `postfix` would make it, and the
        # master runs in the foreground, as our child, logging to its standard output.
        created = subprocess.run(  # noqa: S603  # Postfix's own script, our settings
            [POST_INSTALL, *_install_settings(settings), "create-missing"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            self.stop()
            raise ServerUnavailable(f"post-install failed: {created.stderr.strip()}")
        with (root / "maillog").open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603  # Postfix's master, our config
                [MASTER, "-c", str(config), "-d"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_greeting(self.port, self._process)
        except ServerUnavailable as error:
            self.stop()
            raise ServerUnavailable(f"{error}:\n{self.log()}") from None
        return self

    def stop(self) -> None:
        super().stop()  # the master takes its daemons down with it
        root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def log(self) -> str:
        if self._root is None:
            return ""
        path = self._root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


def _main_cf(root: Path, config: Path) -> dict[str, object]:
    """main.cf for the private instance: every directory its own, every message discarded."""
    return {
        "compatibility_level": "3.6",
        "config_directory": config,
        "queue_directory": root / "queue",
        "data_directory": root / "data",
        "meta_directory": "/etc/postfix",
        "shlib_directory": "/usr/lib/postfix",
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "myhostname": "bench.localhost",
        "mydomain": "localhost",
        "myorigin": "$myhostname",
        "mydestination": "",
        "local_recipient_maps": "",
        "alias_maps": "",
        "alias_database": "",
        "relay_domains": "",
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        "mynetworks": "127.0.0.0/8",
        "smtpd_relay_restrictions": "permit_mynetworks, reject",
        "smtpd_peername_lookup": "no",
        "default_transport": "discard:bench",
        "relay_transport": "discard:bench",
        "biff": "no",
        "maillog_file": "/dev/stdout",  # the master's, which goes to our log file
        "smtpd_tls_security_level": "may",
        "smtpd_tls_cert_file": config / "server.pem",
        "smtpd_tls_key_file": config / "server.key",
        "smtpd_tls_loglevel": "0",
        "message_size_limit": str(20 * 1024 * 1024),
        # What post-install asks for besides the above.
        "command_directory": "/usr/sbin",
        "daemon_directory": "/usr/lib/postfix/sbin",
        "manpage_directory": "/usr/share/man",
        "sample_directory": "no",
        "readme_directory": "no",
        "html_directory": "no",
        "sendmail_path": "/usr/sbin/sendmail",
        "newaliases_path": "/usr/bin/newaliases",
        "mailq_path": "/usr/bin/mailq",
    }


def _install_settings(settings: dict[str, object]) -> list[str]:
    """What post-install reads (where things are, who owns them), as its name=value arguments."""
    wanted = ("_directory", "_owner", "_group", "_path")
    return [f"{k}={v}" for k, v in settings.items() if k.endswith(wanted)]


def _master_cf(port: int) -> str:
    # service type private unpriv chroot wakeup maxproc command; nothing chrooted.
    services = [
        f"{HOST}:{port} inet n - n - - smtpd",
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "tlsmgr unix - - n 1000? 1 tlsmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ]
    return "\n".join(services) + "\n"


# --- the aiosmtpd server's own process ---------------------------------------------------------


class _Discard:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 OK: discarded"


def _any_password(*_args: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)


def _serve_auth(port: int, cert_file: str, key_file: str) -> None:
    from local_stack.smtp.loopback import LoopbackSmtp, Security

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = LoopbackSmtp(
        _Discard(),
        port=port,
        security=Security.STARTTLS,
        tls=context,
        require_starttls=True,
        authenticator=_any_password,
    )
    with server:
        sys.stdin.read()  # until the parent closes it (or dies)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("kind", choices=["auth"])
    parser.add_argument("port", type=int)
    parser.add_argument("cert_file")
    parser.add_argument("key_file")
    args = parser.parse_args(argv)
    _serve_auth(args.port, args.cert_file, args.key_file)


if __name__ == "__main__":
    main()
