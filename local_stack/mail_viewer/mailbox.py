"""The captured mail folder as the viewer sees it: messages by id, newest first.

A message's id is the stem its two files share (`<stamp>-<sequence>`, as `MailFolder` names
them), so ids sort in arrival order. Only a stem of exactly that shape is ever joined to the
folder's path: an id from a URL cannot name a file elsewhere. A message counts once its
`.json` envelope exists (it is written last); deleting takes the envelope first, so a
half-deleted message is no longer listed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# `20261204T182415.123456Z-0001`: what `MailFolder.keep` names a message.
MESSAGE_ID = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9]{4,9}")


@dataclass(frozen=True)
class StoredMessage:
    """One complete message: its id, its bytes as received, and its envelope."""

    id: str
    data: bytes
    envelope: dict[str, Any]


class Mailbox:
    """The messages of `mail_dir` (which may not exist yet: then there are none)."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    def ids(self) -> list[str]:
        """Every complete message's id, newest first."""
        try:
            names = os.listdir(self.mail_dir)
        except FileNotFoundError:
            return []
        stems = (name.removesuffix(".json") for name in names if name.endswith(".json"))
        return sorted((stem for stem in stems if MESSAGE_ID.fullmatch(stem)), reverse=True)

    def read(self, message_id: str) -> StoredMessage | None:
        """The message `message_id`, or None: no such message, or not an id at all."""
        if not MESSAGE_ID.fullmatch(message_id):
            return None
        envelope_bytes = self._read_file(f"{message_id}.json")
        data = self._read_file(f"{message_id}.eml")
        if envelope_bytes is None or data is None:
            return None
        try:
            envelope = json.loads(envelope_bytes)
        except ValueError:
            return None
        if not isinstance(envelope, dict):
            return None
        return StoredMessage(message_id, data, envelope)

    def delete(self, message_id: str) -> bool:
        """Remove the message's files; False if there was no such message."""
        if not MESSAGE_ID.fullmatch(message_id):
            return False
        envelope = self.mail_dir / f"{message_id}.json"
        try:
            envelope.unlink()
        except FileNotFoundError:
            return False
        (self.mail_dir / f"{message_id}.eml").unlink(missing_ok=True)
        return True

    def clear(self) -> int:
        """Remove every message; how many there were."""
        return sum(self.delete(message_id) for message_id in self.ids())

    def _read_file(self, name: str) -> bytes | None:
        # Never through a symbolic link: the folder is the developer's alone (0700), and what
        # is not a plain file in it is no message.
        try:
            descriptor = os.open(self.mail_dir / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        with os.fdopen(descriptor, "rb") as file:
            return file.read()
