"""Backups and point-in-time recovery of the local platform (issue 19 item 5): `counsel backup` and
`counsel restore --to <RFC 3339 time>`.

What is kept, under ``<data dir>/backups``:

* ``wal/`` — PostgreSQL's continuous WAL archive. The server copies every finished WAL segment there, gzipped
  (:func:`archive_settings`, on the single server and in Patroni's configuration); ``archive_timeout`` closes a
  segment at least every :data:`ARCHIVE_TIMEOUT_SECONDS`, which bounds what a lost machine can cost (the RPO).
* ``<label>/`` — one backup set per `counsel backup` (or per scheduled backup of `counsel up`,
  deploy/local/backup_schedule.py), laid out as the data folder it restores to, ``manifest.json`` naming what
  it holds: PostgreSQL's data folder (a `pg_basebackup`, WAL included, so the set alone is a consistent
  cluster), JetStream's store (copied while nats-server is paused — see :func:`copy_jetstream`),
  ``temporal/temporal.db`` (SQLite's online backup API), the PostgreSQL passwords, and ``secret.key`` (the
  stack's COUNSEL_SECRET_KEY, without which the restored data keys cannot be unwrapped: keep backups as secret
  as the data folder).

On `counsel up` (one of each server) the set holds ``postgres/pgdata`` and ``nats/jetstream``. On
`counsel up --ha` (:func:`local_stack_sources`) it holds ``ha/postgres-1/pgdata``, taken from a replica (the
asynchronous one when it streams: a base backup reads every file of the cluster, and on the primary, or on the
synchronous standby whose replay every commit waits for, that reading would slow the writes), the three NATS
nodes' stores ``ha/nats-{1,2,3}/jetstream`` (paused together: each holds JetStream's replicated state, and a
single server cannot load replicated streams) and ``ha/passwords.json``. Such a set restores as a fresh
replicated platform: `counsel up --ha` on the restored folder starts node 1 on the recovered data, lets it lead,
and the other two nodes clone it.

A restore takes the newest set that ended before the target time, replays the archived WAL up to that time
(``recovery_target_time``), promotes the result and writes a fresh data folder that `counsel up` (or
`counsel up --ha`, for a set of the replicated topology) starts on.
JetStream and Temporal come back as they were when that set was taken. Events published after the JetStream
copy are published again (their outbox rows are marked unpublished; JetStream's Nats-Msg-Id and the idempotent
consumers absorb repeats). Workflows started after the Temporal copy are not in the restored Temporal: their
business records are, in PostgreSQL.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deploy.local.ha import cluster_members
from deploy.local.servers import (
    PostgresServer,
    ServerStartError,
    _clean_env,
    _pg_bin_dir,
    _pg_system_user,
    _traversable_to_postgres,
    free_port,
)

ARCHIVE_TIMEOUT_SECONDS = 60
MANIFEST = "manifest.json"
# Recovery settings a restore appends to postgresql.auto.conf, and removes again once the cluster is promoted.
_RECOVERY_MARK = "# counsel restore: point-in-time recovery\n"
_WAL_SEGMENT = re.compile(r"^[0-9A-F]{24}\.gz$")
_COMMIT_TIME = re.compile(r"COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with the reason an operator can act on."""


def backups_dir(data_dir: Path) -> Path:
    """Where the local stack on `data_dir` keeps its WAL archive and backup sets."""
    return data_dir / "backups"


@contextlib.contextmanager
def backup_lock(backups: Path) -> Iterator[None]:
    """Held while a backup set is written and the old ones pruned, by `counsel backup` and by `counsel up`'s
    schedule alike: a second backup meanwhile is refused (BackupError naming the one running) instead of
    running beside it, which would double the load on the servers and let the first one's pruning delete the
    second's half-written set. An OS file lock (flock): a backup that dies releases it with its process."""
    backups.mkdir(parents=True, exist_ok=True)
    path = backups / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            running = path.read_text().strip() or "another process"
            raise BackupError(
                f"another backup of this stack is running ({running}): wait for it to finish, then try again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {_iso(datetime.now(UTC))}".encode())
        yield
    finally:
        os.close(fd)


def wal_archive(backups: Path) -> Path:
    return backups / "wal"


def archive_settings(archive: Path) -> dict[str, str]:
    """PostgreSQL parameters that copy each finished WAL segment, gzipped, into `archive`. Gzip because a
    segment closed by archive_timeout is 16 MiB however little it holds, and its unused tail compresses to
    nothing.

    `archive_mode = always`: a standby archives every segment it receives as well, so a segment the primary
    had finished but not yet archived when it died is in the archive all the same (with `on`, only the
    primary archives, and such a segment is a gap no restore can cross). The same segment thus reaches the
    archive from up to three nodes: the first copy stays (each is as good for recovery) and the others are
    skipped. A copy goes to a name of its own first (the archiving shell's pid) and is renamed, so a segment
    in the archive is always whole and two nodes never write into one file."""
    folder = shlex.quote(str(archive))
    segment = f"{folder}/%f.gz"
    copy = f"{segment}.$$.part"
    return {
        "archive_mode": "always",
        "archive_command": f"test -f {segment} || (gzip -1 < %p > {copy} && mv {copy} {segment})",
        "archive_timeout": f"{ARCHIVE_TIMEOUT_SECONDS}s",
    }


def _restore_command(archive: Path) -> str:
    """The inverse of `archive_settings`' archive_command: it fails, as PostgreSQL expects, for a file the
    archive does not hold."""
    return f"gunzip < {shlex.quote(str(archive))}/%f.gz > %p"


def prepare_archive(archive: Path) -> None:
    """Create the archive folder, writable by the user PostgreSQL runs as."""
    archive.mkdir(parents=True, exist_ok=True)
    ids = _pg_system_user()
    if ids is not None:
        os.chown(archive, *ids)
        _traversable_to_postgres(archive)


# ---------------------------------------------------------------------------------------------------------
# Backup
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresSource:
    host: str
    port: int
    user: str
    password: str


@dataclass(frozen=True)
class BackupSources:
    """What `counsel backup` copies, each to its path relative to the data folder the set restores to: the
    running PostgreSQL (`pg_basebackup` from `postgres` into `pgdata`; `postgres_source` says which node and
    why), every nats-server (`nats`: store path → (its pid, the folder holding its `jetstream/`)), the
    Temporal dev server's SQLite file, and `files`: secrets kept beside the data (the PostgreSQL passwords,
    COUNSEL_SECRET_KEY's file)."""

    postgres: PostgresSource
    pgdata: str = "postgres/pgdata"
    postgres_source: str = "the server"
    replicated: bool = False  # of `counsel up --ha`: restores as a fresh replicated topology
    nats: dict[str, tuple[int | None, Path]] = field(default_factory=dict)
    temporal_db: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


def take_backup(sources: BackupSources, backups: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Write one backup set under `backups` (labelled by its start time, UTC) and return its manifest.
    BackupError when pg_basebackup fails.

    JetStream and Temporal are copied first, PostgreSQL last: a restore's PostgreSQL (at the target time, never
    before the base backup's end) is then never older than the set's JetStream and Temporal, and what happened
    between them is in PostgreSQL (see :func:`restore`)."""
    started = datetime.now(UTC)
    label = started.strftime("%Y%m%dT%H%M%SZ")
    target = backups / label
    if target.exists():
        raise BackupError(f"a backup set {target} already exists: wait a second and run it again")
    partial = backups / f".{label}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    manifest: dict[str, Any] = {"label": label, "started_at": _iso(started), "replicated": sources.replicated}

    if sources.nats:
        say(f"JetStream: copying the store of {len(sources.nats)} nats-server(s) while they are paused …")
        copied_at = datetime.now(UTC)
        paused = copy_jetstream({partial / path: (pid, store) for path, (pid, store) in sources.nats.items()})
        manifest["nats"] = {
            "stores": sorted(sources.nats),
            "paused_seconds": round(paused, 3),
            "bytes": sum(_size(partial / path) for path in sources.nats),
        }
        manifest["nats_copied_at"] = _iso(copied_at)
    if sources.temporal_db is not None:
        say("Temporal: SQLite online backup …")
        (partial / "temporal").mkdir()
        copy_sqlite(sources.temporal_db, partial / "temporal" / "temporal.db")
        manifest["temporal"] = {"db_file": "temporal/temporal.db", "bytes": _size(partial / "temporal")}
    say(f"PostgreSQL: pg_basebackup from {sources.postgres_source} …")
    clock = time.monotonic()
    _pg_basebackup(sources.postgres, partial / sources.pgdata)
    manifest["postgres"] = {
        "pgdata": sources.pgdata,
        "source": sources.postgres_source,
        "bytes": _size(partial / sources.pgdata),
        "seconds": round(time.monotonic() - clock, 2),
    }
    # Recovery can stop no earlier than the end of the base backup: a restore target must come after this.
    manifest["consistent_at"] = _iso(datetime.now(UTC))
    for name, path in sources.files.items():
        (partial / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, partial / name)
    manifest["files"] = sorted(sources.files)
    manifest["finished_at"] = _iso(datetime.now(UTC))
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    partial.chmod(0o700)
    partial.rename(target)  # a set is listed only once whole
    return manifest


def _pg_basebackup(source: PostgresSource, pgdata: Path) -> None:
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(_pg_bin_dir() / "pg_basebackup"),
        "--host", source.host,
        "--port", str(source.port),
        "--username", source.user,
        "--pgdata", str(pgdata),
        "--format", "plain",
        "--wal-method", "stream",  # the WAL the backup needs to be consistent comes with it
        "--checkpoint", "fast",
        "--no-password",
    ]  # fmt: skip
    env = _clean_env() | {"PGPASSWORD": source.password}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=3600)
    if result.returncode != 0:
        raise BackupError(f"pg_basebackup failed ({result.returncode}): {result.stderr.strip()}")


def copy_jetstream(servers: dict[Path, tuple[int | None, Path]]) -> float:
    """Copy each nats-server's JetStream store (`<store>/jetstream`) into `<target>/jetstream` (`servers`:
    target → (pid, store)) while every one of them is stopped with SIGSTOP; return how long they were paused,
    in seconds.

    Why a paused copy and not JetStream's snapshot API: one copy holds every stream, consumer and object-store
    bucket as of the same instant, and needs no NATS credentials (the local stack gives its per-process users
    fresh passwords at every start, and none of them may snapshot). With ``sync_interval: always`` every
    acknowledged message is on disk before the pause, so the copy is what a power cut at that instant would
    leave, which JetStream recovers from on start; the nodes of a cluster are paused together so that their
    replicated state is of one instant too. Clients only wait (publishes stall) for the length of the copy."""
    if any(pid is None for pid, _ in servers.values()):
        raise BackupError("a nats-server to copy is not running")
    paused: list[int] = []
    clock = time.monotonic()
    try:
        for pid, _ in servers.values():
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            paused.append(pid)
        for target, (_, store) in servers.items():
            shutil.copytree(store / "jetstream", target / "jetstream")
    finally:
        seconds = time.monotonic() - clock
        for pid in paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    return seconds


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy of a database another process keeps writing (the Temporal
    dev server writes in WAL mode, so it is not blocked meanwhile)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as db,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        db.backup(copy)


# ---------------------------------------------------------------------------------------------------------
# Restore
# ---------------------------------------------------------------------------------------------------------


def backup_sets(backups: Path) -> list[dict[str, Any]]:
    """The manifests of every whole backup set under `backups`, oldest first, each with its `path`."""
    sets = []
    for manifest in sorted(backups.glob(f"*/{MANIFEST}")):
        sets.append({**json.loads(manifest.read_text()), "path": manifest.parent})
    return sorted(sets, key=lambda entry: entry["consistent_at"])


def last_archived_commit(archive: Path) -> datetime | None:
    """The time of the newest commit in the WAL archive (read with pg_waldump), None when it holds none."""
    segments = sorted(path for path in archive.iterdir() if _WAL_SEGMENT.match(path.name))
    with tempfile.TemporaryDirectory() as scratch:
        for segment in reversed(segments):
            wal = Path(scratch) / segment.stem  # pg_waldump reads the segment's position from its name
            with gzip.open(segment) as packed, open(wal, "wb") as unpacked:
                shutil.copyfileobj(packed, unpacked)
            # pg_waldump stops with an error at a segment's unused tail; what it printed before is what counts.
            result = subprocess.run(
                [str(_pg_bin_dir() / "pg_waldump"), "--rmgr=Transaction", str(wal)],
                capture_output=True,
                text=True,
                env=_clean_env() | {"TZ": "UTC"},
                check=False,
            )
            wal.unlink()
            times = _COMMIT_TIME.findall(result.stdout)
            if times:
                return datetime.fromisoformat(times[-1]).replace(tzinfo=UTC)
    return None


@dataclass(frozen=True)
class RestoreReport:
    backup_set: str
    target_time: datetime
    seconds: float
    postgres_seconds: float
    replicated: bool  # start the restored folder with `counsel up --ha`


def restore(
    backups: Path, target_time: datetime, into: Path, say: Callable[[str], None] = print
) -> RestoreReport:
    """Restore the platform as it was at `target_time` into the new data folder `into` (missing or empty).

    BackupError, before anything is written, when `into` holds anything, when there is no backup set, or when
    `target_time` is outside what the backups and the WAL archive cover (the message names that range)."""
    if target_time.tzinfo is None:
        raise BackupError("the target time needs a UTC offset (RFC 3339), e.g. 2026-12-06T14:05:00Z")
    if into.exists() and any(into.iterdir()):
        raise BackupError(
            f"{into} is not empty: a restore writes a fresh data folder and never overwrites one; name a new "
            "or empty folder"
        )
    sets = backup_sets(backups)
    if not sets:
        raise BackupError(f"no backup set in {backups} (`counsel backup` takes one)")
    earliest = datetime.fromisoformat(sets[0]["consistent_at"])
    latest = last_archived_commit(wal_archive(backups))
    if latest is None or latest < earliest:
        latest = earliest
        until = "(no commit since it has reached the WAL archive yet: a segment is archived within a minute)"
    else:
        until = f"to {_iso(latest)} (the last commit in the WAL archive)"
    if not earliest <= target_time <= latest:
        raise BackupError(
            f"cannot restore to {_iso(target_time)}: the backups cover {_iso(earliest)} (the end of the first "
            f"backup set) {until}"
        )
    chosen = [entry for entry in sets if datetime.fromisoformat(entry["consistent_at"]) <= target_time][-1]
    source: Path = chosen["path"]
    say(f"restoring backup set {chosen['label']} and the WAL archive up to {_iso(target_time)} into {into} …")
    clock = time.monotonic()
    into.mkdir(parents=True, exist_ok=True)
    # The set is laid out as the data folder it restores to.
    for entry in source.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, into / entry.name)
        elif entry.name != MANIFEST:
            shutil.copy2(entry, into / entry.name)
    pgdata = into / chosen["postgres"]["pgdata"]
    postgres_clock = time.monotonic()
    nats_copied_at = datetime.fromisoformat(chosen["nats_copied_at"]) if "nats" in chosen else None
    # Recovery to a time stops at the first commit after it, so a target at or past the last archived commit
    # has none to stop at: replaying the whole archive is that moment.
    stop_at = target_time if target_time < latest else None
    _recover_postgres(pgdata, wal_archive(backups), stop_at, nats_copied_at)
    postgres_seconds = time.monotonic() - postgres_clock
    return RestoreReport(
        chosen["label"],
        target_time,
        time.monotonic() - clock,
        postgres_seconds,
        chosen.get("replicated", False),
    )


def _recover_postgres(
    pgdata: Path, archive: Path, target_time: datetime | None, republish_after: datetime | None
) -> None:
    """Replay the archived WAL over the base backup in `pgdata` up to `target_time` (None: all of it),
    promote, mark the events published after `republish_after` (the JetStream copy) unpublished, and leave
    the cluster stopped and ordinary (no recovery settings left behind)."""
    postgres_dir = pgdata.parent
    auto_conf = pgdata / "postgresql.auto.conf"
    original = auto_conf.read_text() if auto_conf.exists() else ""
    restore_command = _restore_command(archive)
    auto_conf.write_text(
        original
        + _RECOVERY_MARK
        + f"restore_command = '{restore_command}'\n"
        + (f"recovery_target_time = '{target_time.isoformat()}'\n" if target_time else "")
        + "recovery_target_action = 'promote'\n"
    )
    (pgdata / "recovery.signal").touch()
    (pgdata / "standby.signal").unlink(missing_ok=True)  # a base backup of a replica
    if (pgdata / "postgresql.base.conf").exists():
        # Patroni's node configuration names the old node's folders; Patroni writes it again on start.
        (pgdata / "postgresql.conf").write_text("include 'postgresql.base.conf'\n")
    password_file = postgres_dir / "postgres.password"
    borrowed_password = not password_file.exists()
    if borrowed_password:  # a node of --ha: the superuser's password is the cluster's
        passwords = postgres_dir.parent / "passwords.json"
        if not passwords.exists():
            raise BackupError(f"the backup set has neither {password_file.name} nor {passwords.name}")
        password_file.write_text(json.loads(passwords.read_text())["counsel"] + "\n")
        password_file.chmod(0o600)
    ids = _pg_system_user()
    if ids is not None:
        for folder, dirs, files in os.walk(postgres_dir):
            for name in [*dirs, *files]:
                os.chown(os.path.join(folder, name), *ids)
        os.chown(postgres_dir, *ids)
    pgdata.chmod(0o700)
    # Without hot standby the server reports itself ready only once recovery has ended and it is promoted.
    # syncfs: the copied data folder is flushed at start one file system at a time, not file by file. No
    # synchronous standby (a replicated node's setting) and no archiving into the backups being restored.
    server = PostgresServer(
        postgres_dir,
        free_port(),
        parameters={
            "hot_standby": "off",
            "recovery_init_sync_method": "syncfs",
            "synchronous_standby_names": "",
            "archive_mode": "off",
        },
    )
    try:
        server.start(timeout=3600)
        if republish_after is not None:
            _republish_after(server, republish_after)
    except ServerStartError as exc:
        raise BackupError(f"PostgreSQL recovery failed: {exc}") from None
    finally:
        server.stop()
        if borrowed_password:
            password_file.unlink()
    auto_conf.write_text(original)


def _republish_after(server: PostgresServer, moment: datetime) -> None:
    """In every database with an outbox, mark the events published after `moment` unpublished: the restored
    stream does not hold them, and each service's relay publishes them again when the platform starts."""
    databases = _psql(server, "postgres", "SELECT datname FROM pg_database WHERE datallowconn").split()
    for database in databases:
        if _psql(server, database, "SELECT to_regclass('outbox') IS NOT NULL") == "t":
            _psql(
                server,
                database,
                f"UPDATE outbox SET published_at = NULL WHERE published_at > '{_iso(moment)}'",
            )


def _psql(server: PostgresServer, database: str, sql: str) -> str:
    argv = [
        str(_pg_bin_dir() / "psql"),
        "--no-psqlrc", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1",
        "--host", server.host, "--port", str(server.port), "--username", server.SUPERUSER,
        "--dbname", database, "--command", sql,
    ]  # fmt: skip
    env = _clean_env() | {"PGPASSWORD": server.password}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BackupError(f"psql on {database} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------------------
# The running local stack (`counsel backup`)
# ---------------------------------------------------------------------------------------------------------


def local_stack_sources(data_dir: Path) -> BackupSources:
    """What to back up of the `counsel up` running on `data_dir`, from its `run/stack.json`. BackupError when
    none runs, or when it runs on servers it did not start (COUNSEL_DATABASE_URL …: back those up where they
    run)."""
    state_file = data_dir / "run" / "stack.json"
    if not state_file.exists():
        raise BackupError(
            f"counsel is not running on {data_dir} (no {state_file}): start it with `counsel up`"
        )
    servers: dict[str, dict[str, Any]] = json.loads(state_file.read_text())["servers"]
    if not any(server["kind"] == "postgres" for server in servers.values()):
        raise BackupError(
            "this stack's PostgreSQL is external (COUNSEL_DATABASE_URL): back it up where it runs"
        )
    files = {"secret.key": data_dir / "secret.key"} if (data_dir / "secret.key").exists() else {}
    temporal = servers.get("temporal")
    temporal_db = Path(temporal["db_file"]) if temporal else None
    nats = {
        str(Path(server["store"]).relative_to(data_dir)): (server["pid"], Path(server["store"]))
        for server in servers.values()
        if server["kind"] == "nats"
    }
    if any("rest_url" in server for server in servers.values()):
        return _replicated_sources(data_dir, servers, nats, temporal_db, files)
    postgres = PostgresServer(data_dir / "postgres", servers["postgres"]["port"])
    return BackupSources(
        PostgresSource(postgres.host, postgres.port, postgres.SUPERUSER, postgres.password),
        nats=nats,
        temporal_db=temporal_db,
        files=files | {"postgres/postgres.password": postgres.password_file},
    )


def _replicated_sources(
    data_dir: Path,
    servers: dict[str, dict[str, Any]],
    nats: dict[str, tuple[int | None, Path]],
    temporal_db: Path | None,
    files: dict[str, Path],
) -> BackupSources:
    """The sources of `counsel up --ha`: the base backup from the node :func:`backup_node` picks, as the
    replication user (the only one pg_hba lets replicate), kept where node 1 of a restored topology finds it."""
    passwords_file = data_dir / "ha" / "passwords.json"
    members = cluster_members([server["rest_url"] for server in servers.values() if "rest_url" in server])
    name, why = backup_node(members)
    node = servers[name]
    password = json.loads(passwords_file.read_text())["replicator"]
    return BackupSources(
        PostgresSource("127.0.0.1", node["port"], "replicator", password),
        pgdata="ha/postgres-1/pgdata",
        postgres_source=f"{name} ({why})",
        replicated=True,
        nats=nats,
        temporal_db=temporal_db,
        files=files | {"ha/passwords.json": passwords_file},
    )


def backup_node(members: list[dict[str, Any]]) -> tuple[str, str]:
    """The PostgreSQL node of a Patroni cluster to take a base backup from (`members` as Patroni's `/cluster`
    lists them), and why: an asynchronous replica that streams, else the synchronous standby, else the
    primary. A base backup reads every file of the cluster; on the primary that competes with the writes, and
    in strict synchronous mode every commit also waits for the synchronous standby's replay. BackupError when
    no node runs."""
    streaming = [m for m in members if m.get("state") == "streaming"]
    for role, why in (
        ("replica", "an asynchronous replica: the writes never wait for it"),
        ("sync_standby", "the synchronous standby: no asynchronous replica streams"),
    ):
        for member in streaming:
            if member.get("role") == role:
                return str(member["name"]), why
    for member in members:
        if member.get("role") in ("leader", "primary") and member.get("state") == "running":
            return str(member["name"]), "the primary: no replica streams"
    raise BackupError(f"no PostgreSQL node of the cluster is running: {members}")
