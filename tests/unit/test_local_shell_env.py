"""`.local/env`: what `. .local/env` gives a shell, and that only its owner may read it."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.config import REPO_ROOT, LocalConfig
from local_stack.shell_env import (
    remove_shell_env,
    shell_env_path,
    source_command,
    write_shell_env,
)

# A key with characters a shell would act on, had they been written unquoted.
AWKWARD_KEY = "k'ey $HOME `id` ;x"


def _config(tmp_path: Path, admin_key: str = AWKWARD_KEY) -> LocalConfig:
    return LocalConfig.from_env(
        {
            "LOCAL_API_PORT": "4123",
            "LOCAL_SMTP_PORT": "4125",
            "LOCAL_STATE_DIR": str(tmp_path / "local" / "state"),
            "BOOTSTRAP_ADMIN_KEY": admin_key,
        }
    )


def _sourced(path: Path, *names: str) -> list[str]:
    script = f". {path}; " + "; ".join(f'printf "%s\\n" "${name}"' for name in names)
    result = subprocess.run(  # noqa: S603  # bash, our script, our file
        ["/bin/bash", "-c", script], capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def test_it_lies_beside_the_state_folder(tmp_path: Path) -> None:
    assert shell_env_path(_config(tmp_path)) == tmp_path / "local" / "env"
    assert shell_env_path(LocalConfig.from_env({})) == REPO_ROOT / ".local" / "env"


def test_sourcing_it_sets_the_api_base_the_key_the_cli_s_and_the_smtp_port(tmp_path: Path) -> None:
    path = write_shell_env(_config(tmp_path))

    assert _sourced(path, "URL", "KEY", "MAILER_URL", "MAILER_API_KEY", "SMTP_PORT") == [
        "http://127.0.0.1:4123/api/v2",
        AWKWARD_KEY,
        "http://127.0.0.1:4123",
        AWKWARD_KEY,
        "4125",
    ]


def test_sourcing_it_puts_the_cli_and_sam_first_on_the_path(tmp_path: Path) -> None:
    path = write_shell_env(_config(tmp_path))

    (searched,) = _sourced(path, "PATH")
    cli_bin, sam_bin, *_ = searched.split(":")
    assert Path(cli_bin) == Path(sys.prefix) / "bin"  # where `make` installs `mailer`
    assert Path(sam_bin) == REPO_ROOT / ".venv-sam" / "bin"


def test_only_its_owner_may_read_it_as_it_holds_the_admin_key(tmp_path: Path) -> None:
    path = write_shell_env(_config(tmp_path))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_link_planted_in_its_place_is_replaced_not_written_through(tmp_path: Path) -> None:
    config = _config(tmp_path)
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    shell_env_path(config).parent.mkdir(parents=True)
    shell_env_path(config).symlink_to(target)

    path = write_shell_env(config)

    assert not path.is_symlink()
    assert target.read_text() == "untouched"


def test_a_clean_stop_removes_it(tmp_path: Path) -> None:
    config = _config(tmp_path)
    write_shell_env(config)

    remove_shell_env(config)
    remove_shell_env(config)  # twice: nothing there is fine

    assert not shell_env_path(config).exists()


@pytest.mark.parametrize("inside", [True, False])
def test_the_banner_s_command_is_relative_where_the_stack_was_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: bool
) -> None:
    path = tmp_path / ".local" / "env"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path if inside else tmp_path / "elsewhere")
    expected = ". .local/env" if inside else f". {tmp_path.resolve() / '.local' / 'env'}"
    assert source_command(path.resolve()) == expected
