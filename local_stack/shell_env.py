"""`.local/env`: this run's settings for a shell, so the docs' examples run as written.

`. .local/env` sets `URL` (the API's `/api/v2` base), `KEY` (the admin key), `MAILER_URL` and
`MAILER_API_KEY` (what the `mailer` CLI reads), `SMTP_PORT` (the capture server's, for a
service of your own that sends to it) and puts `mailer` and `sam` on `PATH`. It holds
the admin key, so it is written 0600 like the state beside it, and removed at a clean stop:
what it says is true only while this run answers."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from local_stack.config import REPO_ROOT, LocalConfig
from local_stack.private_files import write_private

# Where `make` installs the CLI (the venv running the stack) and SAM (a venv of its own).
_SAM_BIN = REPO_ROOT / ".venv-sam" / "bin"


def shell_env_path(config: LocalConfig) -> Path:
    """Next to the state folder: `.local/env` for `make dev`; a test stack's own otherwise."""
    return config.state_dir.parent / "env"


def shell_env(config: LocalConfig) -> str:
    """The file's text: `export` lines a POSIX shell sources."""
    cli_bin = Path(sys.prefix) / "bin"
    settings = {
        "URL": f"{config.api_url}/api/v2",
        "KEY": config.admin_key,
        "MAILER_URL": config.api_url,
        "MAILER_API_KEY": config.admin_key,
        "SMTP_PORT": str(config.smtp_port),
    }
    lines = ["# This run of the local stack (`make dev`); source it: . .local/env"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]
    lines.append(f'export PATH={shlex.quote(str(cli_bin))}:{shlex.quote(str(_SAM_BIN))}:"$PATH"')
    return "\n".join(lines) + "\n"


def write_shell_env(config: LocalConfig) -> Path:
    path = shell_env_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)  # the state folder's parent: made already
    write_private(path, shell_env(config).encode(), durable=False)
    return path


def remove_shell_env(config: LocalConfig) -> None:
    shell_env_path(config).unlink(missing_ok=True)


def source_command(path: Path) -> str:
    """`. .local/env` from the folder the stack was started in, else the absolute path."""
    try:
        shown = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    return f". {shlex.quote(str(shown))}"
