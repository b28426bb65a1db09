"""Folders and files only this user may read or write, and that no one else could have planted.

The local stack's state holds the admin key and every service's SMTP password in clear, and
captured mail holds password-reset links. Folders are made 0700 (an existing one of ours is
tightened to it), files are created 0600 from their first byte (`os.open` with the mode, never
a chmod after), and nothing is read that another user owns or may write, or that is a symbolic
link: a refusal is a SystemExit naming the path and what to do.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# Bits that let a group or others replace what the stack will read.
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def private_directory(path: Path) -> Path:
    """`path`, created 0700 if missing, else checked (ours, a real directory, writable by no
    one else) and tightened to 0700."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    info = _checked(path, os.lstat(path), "a directory", stat.S_ISDIR)
    if stat.S_IMODE(info.st_mode) != DIRECTORY_MODE:
        os.chmod(path, DIRECTORY_MODE)
    return path


def require_private_file(path: Path) -> None:
    """Refuse to go on unless `path` is a regular file of ours that no one else may write."""
    _checked(path, os.lstat(path), "a regular file", stat.S_ISREG)


def open_private(path: Path, flags: int) -> int:
    """`os.open` of a file of ours (created 0600 with `os.O_CREAT`); an existing one is checked
    as `require_private_file` does, and made 0600."""
    try:
        descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as error:
        if error.errno == errno.ELOOP:  # what O_NOFOLLOW answers for a link
            _refuse(path, "is a symbolic link")
        raise
    try:
        info = _checked(path, os.fstat(descriptor), "a regular file", stat.S_ISREG)
        if stat.S_IMODE(info.st_mode) != FILE_MODE:
            os.fchmod(descriptor, FILE_MODE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def write_private(path: Path, data: bytes, *, durable: bool) -> None:
    """Replace `path` with `data` at once (a reader sees the old file or the new one), 0600 from
    the start; `durable`: synced to disk, the file and its directory entry, before returning."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # a stale one, or one planted to be written through
    descriptor = os.open(
        partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
    )
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        if durable:
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(partial, path)
    if durable:
        directory = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _checked(
    path: Path, info: os.stat_result, kind: str, is_kind: Callable[[int], bool]
) -> os.stat_result:
    if stat.S_ISLNK(info.st_mode):
        _refuse(path, "is a symbolic link")
    if not is_kind(info.st_mode):
        _refuse(path, f"is not {kind}")
    if info.st_uid != os.geteuid():
        _refuse(path, f"belongs to user id {info.st_uid}, not to you ({os.geteuid()})")
    if info.st_mode & _WRITABLE_BY_OTHERS:
        _refuse(path, f"may be written by its group or others (mode {stat.filemode(info.st_mode)})")
    return info


def _refuse(path: Path, problem: str) -> NoReturn:
    raise SystemExit(
        f"{path} {problem}. The local stack keeps secrets there (the admin key, SMTP passwords,"
        " captured mail) and reads nothing someone else could have put in place: remove it"
        " (`make dev-reset` for the state), or make it yours alone"
        f" (chown {os.geteuid()} {path}; chmod go-w {path})."
    )
