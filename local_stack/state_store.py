"""The local stack's state on disk (`.local/state/`): a snapshot of moto and the journal since.

- `snapshot.json`: moto's resources for the services the stack uses as plain JSON
  (`local_stack.moto_state`: data only, so reading it runs no code), with the journal
  generation that follows it. Written to a temporary file, synced, then renamed over the old
  one. A `snapshot.pickle` of earlier versions is never loaded: the start stops and says to
  run `make dev-reset`.
- `journal-<n>.jsonl`: every change since that snapshot (see `local_stack.moto_journal`),
  synced before moto answers.
- `lock`: held (flock) by the running stack, so two stacks never share one state.

They hold the admin key and every SMTP password in clear: the folder is 0700 and every file
0600 from its creation, and nothing is read that another user owns or may write, or that is
a symbolic link (`local_stack.private_files`).

Starting: load the snapshot, replay the journals from its generation on, make the messages
the dead poller held visible, then write a fresh snapshot and start an empty journal. While
running, a snapshot is taken once the journal grows past `SNAPSHOT_EVERY_ENTRIES` (requests
wait while it is written: 35 to 70 ms for 1000 records and 300 queued messages on a busy
2-core machine, where the pickle of earlier versions took 30 to 45 ms; a restart from it
takes 0.2 to 0.6 s, from the pickle about 0.1 s), and at a clean stop. A kill loses nothing
that was answered: an entry is synced before its answer goes out.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import moto

from local_stack.moto_journal import Journal, SqsTracker, release_received, replay
from local_stack.moto_state import dump_resources, dumps, load_resources, loads
from local_stack.private_files import (
    open_private,
    private_directory,
    require_private_file,
    write_private,
)
from local_stack.wsgi import WsgiApp

SNAPSHOT = "snapshot.json"
# What earlier versions wrote: refused, never read.
PICKLED_SNAPSHOT = "snapshot.pickle"
LOCK = "lock"
# Replaying an entry takes about 5 ms; 500 keep a restart within a few seconds, and a
# snapshot (35 to 70 ms for 1000 records and 300 queued messages) rare.
SNAPSHOT_EVERY_ENTRIES = 500
_CHECK_SECONDS = 1.0


@dataclass
class Restored:
    """What a start found on disk."""

    snapshot: bool = False
    journal_entries: int = 0
    released: int = 0
    refused: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return self.snapshot or self.journal_entries > 0


class StateStore:
    """The state directory of one running stack."""

    def __init__(self, directory: Path) -> None:
        self.directory = private_directory(directory)
        self._lock = open_private(directory / LOCK, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise SystemExit(
                f"Another local stack is using {directory}: stop it, or set LOCAL_STATE_DIR."
            ) from None
        self.journal: Journal | None = None
        self._generation = 0
        self._stopping = threading.Event()
        self._snapshots: threading.Thread | None = None

    def reset(self) -> None:
        """Forget everything: the next start is a fresh one."""
        for path in self.directory.iterdir():
            if path.name == LOCK:
                continue
            # A link is removed itself, never followed: it may have been planted.
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()

    def restore(self, app: WsgiApp) -> Restored:
        """Bring moto's backends back (before moto serves anyone), then start journaling."""
        restored = Restored()
        received: set[str] = set()
        _refuse_pickled_state(self.directory / PICKLED_SNAPSHOT)
        snapshot = self.directory / SNAPSHOT
        if os.path.lexists(snapshot):
            require_private_file(snapshot)
            try:
                state = loads(snapshot.read_bytes())
                load_resources(state["resources"])
                received = set(state["received"])
                self._generation = state["generation"]
            except (KeyError, TypeError, ValueError) as error:
                raise SystemExit(
                    f"{snapshot} cannot be read ({error!r}): run `make dev-reset` to start fresh."
                ) from None
            restored.snapshot = True
        for journal in self._journals():
            if _generation_of(journal) >= self._generation:
                require_private_file(journal)
                replayed = replay(journal, app, received)
                restored.journal_entries += replayed.entries
                restored.refused += replayed.refused
        restored.released = release_received(received, time.time() * 1000)
        self.journal = Journal(self._journal_path(self._generation), SqsTracker())
        # Start from a snapshot of what was just rebuilt, with an empty journal.
        self.snapshot()
        self._snapshots = threading.Thread(
            target=self._snapshot_when_due, name="state-snapshots", daemon=True
        )
        self._snapshots.start()
        return restored

    def snapshot(self) -> None:
        """Write moto's state and start a new journal generation."""
        journal = self._require_journal()
        with journal.lock.exclusive():
            journal.tracker = SqsTracker.of_current_state(journal.tracker.received)
            data = dumps(
                {
                    "moto": moto.__version__,
                    "generation": self._generation + 1,
                    "resources": dump_resources(),
                    "received": sorted(journal.tracker.received),
                }
            )
            self._generation += 1
            journal.switch_to(self._journal_path(self._generation))
        write_private(self.directory / SNAPSHOT, data, durable=True)
        for old in self._journals():
            if _generation_of(old) < self._generation:
                old.unlink()

    def close(self) -> None:
        """A last snapshot (moto no longer serving), then let go of the directory."""
        self._stopping.set()
        if self._snapshots is not None:
            self._snapshots.join()
        if self.journal is not None:
            self.snapshot()
            self.journal.close()
        os.close(self._lock)

    def _snapshot_when_due(self) -> None:
        journal = self._require_journal()
        while not self._stopping.wait(_CHECK_SECONDS):
            if journal.entries >= SNAPSHOT_EVERY_ENTRIES:
                self.snapshot()

    def _require_journal(self) -> Journal:
        if self.journal is None:
            raise RuntimeError("restore() first")
        return self.journal

    def _journals(self) -> list[Path]:
        return sorted(self.directory.glob("journal-*.jsonl"), key=_generation_of)

    def _journal_path(self, generation: int) -> Path:
        return self.directory / f"journal-{generation}.jsonl"


def _generation_of(journal: Path) -> int:
    return int(journal.stem.removeprefix("journal-"))


def _refuse_pickled_state(path: Path) -> None:
    """Stop at a snapshot of earlier versions: unpickling a file runs whatever code it names."""
    if os.path.lexists(path):
        raise SystemExit(
            f"{path} is the local stack's state as earlier versions kept it (a pickle, which"
            " could run code when read): it is never loaded. Run `make dev-reset` to start"
            " fresh (a new admin key; captured mail stays), or move that folder away."
        )
