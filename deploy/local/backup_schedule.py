"""Scheduled backups while `counsel up` runs: a backup set (deploy/local/backup.py) every
COUNSEL_LOCAL_BACKUP_EVERY_HOURS, and one at start when none exists; the newest COUNSEL_LOCAL_BACKUP_KEEP sets
are kept, and the archived WAL older than the oldest kept set's base backup is removed (`pg_archivecleanup`),
so the backups folder stops growing while every kept set can still be replayed to any later moment."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deploy.local.backup import (
    BackupError,
    backup_lock,
    backup_sets,
    backups_dir,
    local_stack_sources,
    take_backup,
    wal_archive,
)
from deploy.local.servers import _clean_env, _pg_bin_dir

# A scheduled backup that failed is tried again after this long (or after the schedule's interval if shorter).
RETRY_AFTER = timedelta(minutes=10)
_START_WAL = re.compile(r"^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$", re.MULTILINE)


def prune(backups: Path, keep: int) -> list[str]:
    """Delete every backup set but the newest `keep` (and any set left half-written), then the archived WAL
    segments older than the first one the oldest kept set's base backup needs; return the deleted sets'
    labels. BackupError when pg_archivecleanup fails."""
    for partial in backups.glob(".*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
    sets = backup_sets(backups)
    dropped = sets[: max(len(sets) - keep, 0)]
    for entry in dropped:
        shutil.rmtree(entry["path"])
    kept = sets[len(dropped) :]
    if kept:
        oldest = kept[0]
        label = (oldest["path"] / oldest["postgres"]["pgdata"] / "backup_label").read_text()
        first_needed = _START_WAL.search(label)
        if first_needed is None:
            raise BackupError(f"no START WAL LOCATION in the backup_label of set {oldest['label']}")
        _archive_cleanup(wal_archive(backups), first_needed.group(1))
    return [entry["label"] for entry in dropped]


def _archive_cleanup(archive: Path, first_needed: str) -> None:
    """Remove the gzipped segments (`archive_settings`' `<segment>.gz`) before `first_needed`. Timeline
    history files stay: a restore across a failover needs them."""
    argv = [str(_pg_bin_dir() / "pg_archivecleanup"), "-x", ".gz", str(archive), first_needed]
    result = subprocess.run(argv, capture_output=True, text=True, env=_clean_env(), check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_archivecleanup failed ({result.returncode}): {result.stderr.strip()}")


def backup_status(data_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """What `counsel status` shows of the backups of the stack on `data_dir`: how many sets, the newest
    (`last`, `last_finished_at`, `last_age_seconds`), and the WAL archive lag — seconds since the newest WAL
    segment reached the archive (None before the first): what losing the machine would cost at most, the
    RPO, as long as the server has written anything since."""
    now = now or datetime.now(UTC)
    backups = backups_dir(data_dir)
    sets = backup_sets(backups) if backups.exists() else []
    archive = wal_archive(backups)
    archived = [path.stat().st_mtime for path in archive.glob("*.gz")] if archive.exists() else []
    last = sets[-1] if sets else None
    finished = datetime.fromisoformat(last["finished_at"]) if last else None
    return {
        "sets": len(sets),
        "last": last["label"] if last else None,
        "last_finished_at": last["finished_at"] if last else None,
        "last_age_seconds": round((now - finished).total_seconds()) if finished else None,
        "archive_lag_seconds": round(now.timestamp() - max(archived)) if archived else None,
    }


@dataclass
class BackupSchedule:
    """The backups `counsel up` takes while it runs; its supervisor calls :meth:`tend` every loop. A backup
    runs in a thread of its own (a base backup of a large cluster takes minutes) and never two at once."""

    data_dir: Path
    every: timedelta  # zero: no scheduled backups
    keep: int
    say: Callable[[str], None]
    next_at: datetime | None = None
    worker: threading.Thread | None = field(default=None, repr=False)

    def tend(self, now: datetime) -> None:
        if not self.every or (self.worker is not None and self.worker.is_alive()):
            return
        if self.next_at is None:
            sets = backup_sets(backups_dir(self.data_dir))
            self.next_at = datetime.fromisoformat(sets[-1]["finished_at"]) + self.every if sets else now
        if now < self.next_at:
            return
        self.next_at = now + self.every
        self.worker = threading.Thread(target=self._take, name="scheduled-backup", daemon=True)
        self.worker.start()

    def _take(self) -> None:
        backups = backups_dir(self.data_dir)
        clock = time.monotonic()
        try:
            with backup_lock(backups):
                manifest = take_backup(
                    local_stack_sources(self.data_dir), backups, say=lambda line: self.say(f"backup: {line}")
                )
                dropped = prune(backups, self.keep)
        except (BackupError, OSError, subprocess.SubprocessError) as exc:
            self.next_at = datetime.now(UTC) + min(self.every, RETRY_AFTER)
            self.say(f"scheduled backup failed, tried again at {self.next_at:%H:%M} UTC: {exc}")
            return
        pruned = f"; deleted the older set(s) {', '.join(dropped)} and their WAL" if dropped else ""
        self.say(
            f"backup set {manifest['label']} taken in {time.monotonic() - clock:.0f} s{pruned}; the next at "
            f"{self.next_at:%Y-%m-%d %H:%M} UTC"
        )
