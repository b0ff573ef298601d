"""Scheduled backups and their retention (deploy/local/backup_schedule.py), and which node of a Patroni cluster a
base backup reads (deploy/local/backup.py): on backup sets laid out as `take_backup` writes them and the real
`pg_archivecleanup`, without servers."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.local import backup_schedule
from deploy.local.backup import (
    MANIFEST,
    BackupError,
    backup_lock,
    backup_node,
    backups_dir,
    wal_archive,
)
from deploy.local.backup_schedule import BackupSchedule, backup_status, prune

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)


def _segment(timeline: int, number: int) -> str:
    return f"{timeline:08X}{0:08X}{number:08X}"


def _backup_set(backups: Path, hour: int, first_segment: int) -> str:
    """A set finished at `hour`:00 whose base backup starts in WAL segment `first_segment`."""
    finished = NOW.replace(hour=hour)
    label = finished.strftime("%Y%m%dT%H%M%SZ")
    pgdata = backups / label / "postgres" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "backup_label").write_text(
        f"START WAL LOCATION: 0/{first_segment:X}000028 (file {_segment(1, first_segment)})\n"
        "CHECKPOINT LOCATION: 0/2000080\nBACKUP METHOD: streamed\n"
    )
    stamp = finished.isoformat().replace("+00:00", "Z")
    manifest = {
        "label": label,
        "consistent_at": stamp,
        "finished_at": stamp,
        "postgres": {"pgdata": "postgres/pgdata"},
    }
    (backups / label / MANIFEST).write_text(json.dumps(manifest))
    return label


def _archive(backups: Path, names: list[str]) -> Path:
    archive = wal_archive(backups)
    archive.mkdir(parents=True, exist_ok=True)
    for name in names:
        (archive / name).write_bytes(b"wal")
    return archive


def test_prune_keeps_the_newest_sets_and_the_wal_the_oldest_kept_one_needs(tmp_path: Path) -> None:
    backups = backups_dir(tmp_path)
    labels = [_backup_set(backups, hour, segment) for hour, segment in ((1, 2), (2, 5), (3, 9))]
    (backups / ".20261206T040000Z.partial").mkdir()  # a set a stopped `counsel up` left half-written
    archive = _archive(
        backups,
        [f"{_segment(1, n)}.gz" for n in range(1, 11)] + ["00000002.history.gz", f"{_segment(2, 3)}.gz"],
    )

    assert prune(backups, keep=2) == [labels[0]]

    assert sorted(path.name for path in backups.iterdir()) == [*labels[1:], "wal"]
    assert sorted(path.name for path in archive.iterdir()) == sorted(
        [f"{_segment(1, n)}.gz" for n in range(5, 11)] + ["00000002.history.gz"]
    )
    assert prune(backups, keep=2) == []  # nothing more to drop


def test_prune_refuses_a_set_whose_backup_label_names_no_wal(tmp_path: Path) -> None:
    backups = backups_dir(tmp_path)
    label = _backup_set(backups, 1, 2)
    (backups / label / "postgres" / "pgdata" / "backup_label").write_text("BACKUP METHOD: streamed\n")
    _archive(backups, [])
    with pytest.raises(BackupError, match=f"no START WAL LOCATION in the backup_label of set {label}"):
        prune(backups, keep=1)


def test_status_shows_the_last_set_and_the_archive_lag(tmp_path: Path) -> None:
    assert backup_status(tmp_path, NOW) == {
        "sets": 0,
        "last": None,
        "last_finished_at": None,
        "last_age_seconds": None,
        "archive_lag_seconds": None,
    }
    backups = backups_dir(tmp_path)
    _backup_set(backups, 1, 2)
    last = _backup_set(backups, 14, 5)
    archive = _archive(backups, [f"{_segment(1, 6)}.gz", f"{_segment(1, 7)}.gz"])
    os.utime(archive / f"{_segment(1, 6)}.gz", (NOW.timestamp() - 300,) * 2)
    os.utime(archive / f"{_segment(1, 7)}.gz", (NOW.timestamp() - 42,) * 2)
    status = backup_status(tmp_path, NOW)
    assert status["sets"] == 2 and status["last"] == last
    assert status["last_age_seconds"] == 2 * 3600 and status["archive_lag_seconds"] == 42


def _schedule(tmp_path: Path, every: timedelta, taken: list[str]) -> BackupSchedule:
    schedule = BackupSchedule(tmp_path, every, keep=3, say=lambda line: None)
    schedule._take = lambda: taken.append("set")  # type: ignore[method-assign]
    return schedule


def _tend(schedule: BackupSchedule, now: datetime) -> None:
    schedule.tend(now)
    if schedule.worker is not None:
        schedule.worker.join()


def test_the_schedule_backs_up_at_start_when_no_set_exists_then_every_interval(tmp_path: Path) -> None:
    taken: list[str] = []
    schedule = _schedule(tmp_path, timedelta(hours=24), taken)
    _tend(schedule, NOW)
    assert taken == ["set"] and schedule.next_at == NOW + timedelta(hours=24)
    _tend(schedule, NOW + timedelta(hours=23))
    assert taken == ["set"]
    _tend(schedule, NOW + timedelta(hours=24))
    assert taken == ["set", "set"]


def test_the_schedule_counts_from_the_last_set_a_restart_finds(tmp_path: Path) -> None:
    _backup_set(backups_dir(tmp_path), 10, 2)  # finished at 10:00, six hours before NOW
    taken: list[str] = []
    schedule = _schedule(tmp_path, timedelta(hours=8), taken)
    _tend(schedule, NOW)
    assert taken == [] and schedule.next_at == NOW.replace(hour=18)
    _tend(schedule, NOW.replace(hour=18))
    assert taken == ["set"]


def test_no_schedule_takes_nothing(tmp_path: Path) -> None:
    taken: list[str] = []
    _tend(_schedule(tmp_path, timedelta(0), taken), NOW)
    assert taken == []


def test_a_failed_backup_is_tried_again_soon_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []

    def refuse(data_dir: Path) -> Any:
        raise BackupError(
            "this stack's PostgreSQL is external (COUNSEL_DATABASE_URL): back it up where it runs"
        )

    monkeypatch.setattr(backup_schedule, "local_stack_sources", refuse)
    schedule = BackupSchedule(tmp_path, timedelta(hours=24), keep=3, say=said.append)
    _tend(schedule, datetime.now(UTC))
    assert schedule.next_at is not None
    assert schedule.next_at - datetime.now(UTC) <= backup_schedule.RETRY_AFTER
    assert said == [
        f"scheduled backup failed, tried again at {schedule.next_at:%H:%M} UTC: this stack's PostgreSQL is "
        "external (COUNSEL_DATABASE_URL): back it up where it runs"
    ]


def test_one_backup_at_a_time(tmp_path: Path) -> None:
    release = threading.Event()
    taken: list[str] = []
    schedule = BackupSchedule(tmp_path, timedelta(seconds=1), keep=3, say=lambda line: None)

    def take() -> None:
        taken.append("set")
        release.wait(5)

    schedule._take = take  # type: ignore[method-assign]
    schedule.tend(NOW)
    schedule.tend(NOW + timedelta(seconds=5))  # due again, but the first still runs
    release.set()
    assert schedule.worker is not None
    schedule.worker.join()
    assert taken == ["set"]


def test_a_backup_while_another_runs_is_refused_and_names_the_one_running(tmp_path: Path) -> None:
    backups = backups_dir(tmp_path)
    with backup_lock(backups), pytest.raises(BackupError) as refused, backup_lock(backups):
        pass
    assert str(refused.value).startswith(
        f"another backup of this stack is running (pid {os.getpid()}, started 20"
    )
    assert str(refused.value).endswith("): wait for it to finish, then try again")
    with backup_lock(backups):  # free again once the first has finished
        pass


def test_the_schedule_does_not_back_up_beside_a_manual_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    taken: list[str] = []
    monkeypatch.setattr(backup_schedule, "local_stack_sources", lambda data_dir: None)
    monkeypatch.setattr(backup_schedule, "take_backup", lambda *args, **kwargs: taken.append("set"))
    schedule = BackupSchedule(tmp_path, timedelta(hours=24), keep=3, say=said.append)
    with backup_lock(backups_dir(tmp_path)):  # `counsel backup` is running
        _tend(schedule, datetime.now(UTC))
    assert taken == []
    assert (
        schedule.next_at is not None and schedule.next_at - datetime.now(UTC) <= backup_schedule.RETRY_AFTER
    )
    (line,) = said
    assert line.startswith("scheduled backup failed, tried again at ")
    assert "another backup of this stack is running (pid " in line


def _member(name: str, role: str, state: str) -> dict[str, Any]:
    return {"name": name, "role": role, "state": state}


def test_a_base_backup_reads_the_asynchronous_replica_then_the_synchronous_standby_then_the_primary() -> None:
    primary = _member("postgres-1", "leader", "running")
    sync = _member("postgres-2", "sync_standby", "streaming")
    replica = _member("postgres-3", "replica", "streaming")
    assert backup_node([primary, sync, replica])[0] == "postgres-3"
    assert backup_node([primary, sync, _member("postgres-3", "replica", "starting")])[0] == "postgres-2"
    name, why = backup_node([primary])
    assert (name, why) == ("postgres-1", "the primary: no replica streams")
    with pytest.raises(BackupError, match="no PostgreSQL node of the cluster is running"):
        backup_node([_member("postgres-1", "leader", "stopped")])
