"""The local stack's captured mail at rest: it may hold password-reset links, so only its user
may read it. A real capture server on loopback takes a message through smtplib."""

from __future__ import annotations

import os
import smtplib
import stat
from pathlib import Path

import pytest

from local_stack.mail_capture import MailCapture, read_captured
from tests.support.network import free_port

MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: reset\r\n\r\nhttps://reset\r\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_captured_mail_is_private(tmp_path: Path) -> None:
    """The folder 0700 (an existing 0755 one tightened), each message and sidecar 0600 from
    their creation, whatever the umask."""
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir(mode=0o755)
    mail_dir.chmod(0o755)
    umask = os.umask(0o000)
    try:
        capture = MailCapture(free_port(), mail_dir)
        try:
            with smtplib.SMTP("127.0.0.1", capture.port, timeout=10) as client:
                client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        finally:
            capture.stop()
    finally:
        os.umask(umask)

    (captured,) = read_captured(mail_dir)
    files = sorted(mail_dir.iterdir())
    assert _mode(mail_dir) == 0o700
    assert [path.suffix for path in files] == [".eml", ".json"]
    assert captured.eml_path in files
    assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_a_mail_folder_others_may_write_is_refused(tmp_path: Path) -> None:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    mail_dir.chmod(0o777)

    with pytest.raises(SystemExit, match="may be written by its group or others"):
        MailCapture(free_port(), mail_dir)
