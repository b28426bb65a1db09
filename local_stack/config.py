"""The local stack's own settings: ports, where mail lands, the admin key (from the environment)."""

from __future__ import annotations

import errno
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Everything listens here and nowhere else: the stack has no authentication worth the name.
HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_API_PORT = 3000  # what `sam local start-api` uses, so clients need no change
# Lambda's Invoke API has no key to check, so it gets a port of its own, never the API's:
# the one `sam local start-lambda` uses.
DEFAULT_INVOKE_PORT = 3001
DEFAULT_SMTP_PORT = 1025
DEFAULT_MOTO_PORT = 5005
DEFAULT_MAIL_DIR = REPO_ROOT / ".local" / "mail"


@dataclass(frozen=True)
class LocalConfig:
    api_port: int
    invoke_port: int
    smtp_port: int
    moto_port: int
    mail_dir: Path
    admin_key: str
    # Whether the admin key came from BOOTSTRAP_ADMIN_KEY or was generated for this run.
    admin_key_given: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LocalConfig:
        """LOCAL_API_PORT, LOCAL_INVOKE_PORT, LOCAL_SMTP_PORT, LOCAL_MOTO_PORT, LOCAL_MAIL_DIR,
        BOOTSTRAP_ADMIN_KEY."""
        given_key = environ.get("BOOTSTRAP_ADMIN_KEY", "").strip()
        return cls(
            api_port=_port(environ, "LOCAL_API_PORT", DEFAULT_API_PORT),
            invoke_port=_port(environ, "LOCAL_INVOKE_PORT", DEFAULT_INVOKE_PORT),
            smtp_port=_port(environ, "LOCAL_SMTP_PORT", DEFAULT_SMTP_PORT),
            moto_port=_port(environ, "LOCAL_MOTO_PORT", DEFAULT_MOTO_PORT),
            mail_dir=Path(environ.get("LOCAL_MAIL_DIR") or DEFAULT_MAIL_DIR).resolve(),
            admin_key=given_key or secrets.token_urlsafe(32),
            admin_key_given=bool(given_key),
        )

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def invoke_url(self) -> str:
        return f"http://{HOST}:{self.invoke_port}"

    def require_free_ports(self) -> None:
        """Fail fast, naming the setting to change, when a port is taken (e.g. a second stack)
        or two settings name the same port."""
        settings = (
            ("LOCAL_API_PORT", self.api_port),
            ("LOCAL_INVOKE_PORT", self.invoke_port),
            ("LOCAL_SMTP_PORT", self.smtp_port),
            ("LOCAL_MOTO_PORT", self.moto_port),
        )
        seen: dict[int, str] = {}
        for setting, port in settings:
            if port in seen:
                raise SystemExit(
                    f"{seen[port]} and {setting} are both {port}: give each its own port."
                )
            seen[port] = setting
        for setting, port in settings:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((HOST, port))
                except OSError as error:
                    if error.errno != errno.EADDRINUSE:
                        raise
                    raise SystemExit(
                        f"Port {port} on {HOST} is in use: set {setting} to a free port."
                    ) from None


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"{name} must be a port number (1-65535), not {raw!r}.")
    return int(raw)
