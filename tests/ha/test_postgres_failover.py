"""The `ha` tier (issue 19 item 6): PostgreSQL ×3 under Patroni with etcd ×3, synchronous replication; the
primary's whole node is killed (-9) under a stream of writes through the services' own DB helper on a
multi-host URL. Every write that was acknowledged is on the new primary, writes resume on their own within
the leader TTL's bound, and the old primary, started again, rejoins as a replica (pg_rewind). Every node
archives its WAL into one folder, standbys too (archive_mode always): a segment the dead primary had not
archived is there all the same, and the new primary carries on there, on its new timeline. When
only the primary's postmaster dies, its Patroni hands over to the synchronous standby at once, well inside
the leader TTL."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import shutil
import signal
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text

from deploy.local.backup import archive_settings, prepare_archive
from deploy.local.ha import (
    LEADER_TTL_SECONDS,
    LOOP_WAIT_SECONDS,
    EtcdMember,
    PatroniNode,
    apply_dynamic_configuration,
    cluster_members,
    wait_for_primary,
)
from deploy.local.servers import free_port
from services.runtime.config import load_settings
from services.runtime.db import Database, ensure_database
from services.runtime.errors import Unavailable

# Patroni 4.1's leader TTL (20 s) bounds a whole-node failover; the margin is for a loaded 2-core machine.
WRITE_GAP_LIMIT_SECONDS = 35.0


def _archive(root: Path) -> Path:
    return root / "wal"


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[PatroniNode]]:
    root = Path(tempfile.mkdtemp(prefix="counsel-test-ha-"))
    ports = [(free_port(), free_port()) for _ in range(3)]
    members = ",".join(f"etcd-{i}=http://127.0.0.1:{peer}" for i, (_, peer) in enumerate(ports, 1))
    etcd = [EtcdMember(root / f"etcd-{i}", f"etcd-{i}", c, p, members) for i, (c, p) in enumerate(ports, 1)]
    passwords = {"counsel": secrets.token_urlsafe(16), "replicator": secrets.token_urlsafe(16)}
    hosts = [f"127.0.0.1:{client}" for client, _ in ports]
    prepare_archive(_archive(root))
    nodes = [
        PatroniNode(
            root / f"postgres-{i}",
            f"postgres-{i}",
            free_port(),
            free_port(),
            hosts,
            passwords,
            archive_settings(_archive(root)),
        )
        for i in range(1, 4)
    ]
    try:
        for server in [*etcd, *nodes]:
            server.start()
        wait_for_primary(nodes, replicas=2)
        yield nodes
    finally:
        for server in [*nodes, *etcd]:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


class Writer:
    """One write after another on `table`, as a client would: a write cut off by a fault is retried with the
    same key (idempotent), and counts only once its commit is acknowledged."""

    def __init__(self, db: Database, table: str) -> None:
        self.db = db
        self.table = table
        self.acked_at: dict[int, float] = {}  # write → when its commit was acknowledged
        self.progress = asyncio.Condition()  # notified at each acknowledgement
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with self.db.transaction() as session:
            await session.execute(text(f"CREATE TABLE {self.table} (n int PRIMARY KEY)"))
        n = 0
        while not self.stop.is_set():
            try:
                async with self.db.transaction() as session:
                    await session.execute(
                        text(f"INSERT INTO {self.table} VALUES (:n) ON CONFLICT DO NOTHING"), {"n": n}
                    )
            except Unavailable:
                await asyncio.sleep(0.1)
                continue
            async with self.progress:
                self.acked_at[n] = time.monotonic()
                self.progress.notify_all()
            n += 1

    async def acknowledged_after(self, moment: float, count: int) -> None:
        async with self.progress:
            await self.progress.wait_for(
                lambda: sum(1 for at in self.acked_at.values() if at > moment) >= count
            )

    async def lost(self) -> set[int]:
        """The acknowledged writes the primary does not have."""
        async with self.db.read() as session:
            stored = set((await session.execute(text(f"SELECT n FROM {self.table}"))).scalars())
        return set(self.acked_at) - stored

    def gap(self) -> float:
        """The longest wait between two acknowledgements."""
        times = sorted(self.acked_at.values())
        return max(later - earlier for earlier, later in itertools.pairwise(times))


def _archiver(node: PatroniNode) -> psutil.Process:
    """The WAL archiver process of `node`'s postmaster."""
    postmaster = psutil.Process(node.postmaster_pid())
    return next(child for child in postmaster.children() if "archiver" in " ".join(child.cmdline()))


async def _finish_segment(db: Database) -> str:
    """Finish the current WAL segment on the primary (pg_switch_wal); its file name."""
    async with db.transaction() as session:
        return str((await session.execute(text("SELECT pg_walfile_name(pg_switch_wal())"))).scalar_one())


def _archived(path: Path, timeout: float = 30.0) -> bool:
    """Whether `path` reaches the WAL archive within `timeout` (archive_command runs within a second or so)."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return path.exists()


async def _database(cluster: list[PatroniNode]) -> Database:
    """The services' DB helper on the multi-host URL of `cluster`, to a database of its own."""
    password = cluster[0].passwords["counsel"]
    hosts = ",".join(f"127.0.0.1:{node.port}" for node in cluster)
    settings = load_settings(
        env="test",
        database_url=f"postgresql://counsel:{password}@{hosts}/?target_session_attrs=read-write",
        database_prefix="ha",
    )
    await ensure_database(settings.database_url, settings.database_name("probe"))
    return Database(settings.database_dsn("probe"))


async def test_killing_the_primary_loses_no_acknowledged_write(cluster: list[PatroniNode]) -> None:
    db = await _database(cluster)
    writer = Writer(db, "writes")
    try:
        primary = wait_for_primary(cluster, replicas=2)
        writing = asyncio.create_task(writer.run())
        await writer.acknowledged_after(0.0, 20)
        # The WAL gap: segments the primary finished but had not archived when it died. Its archiver is held
        # (stopped) while two segments are finished, so only the standbys can archive them.
        archiver = _archiver(primary)
        archiver.suspend()
        unarchived = [await _finish_segment(db) for _ in range(2)]
        await asyncio.sleep(1)  # the synchronous standby has them at each commit; the other within a moment
        archiver.kill()
        killed_at = time.monotonic()
        primary.crash()
        await asyncio.wait_for(writer.acknowledged_after(killed_at, 20), WRITE_GAP_LIMIT_SECONDS + 10)
        writer.stop.set()
        await writing

        assert await writer.lost() == set()
        gap = writer.gap()
        assert gap < WRITE_GAP_LIMIT_SECONDS
        new_primary = wait_for_primary([n for n in cluster if n is not primary], replicas=1)
        assert new_primary is not primary
        archive = _archive(primary.data_dir.parent)
        for segment in unarchived:  # archive_mode always: the standbys archived what the primary could not
            assert await asyncio.to_thread(_archived, archive / f"{segment}.gz"), (
                f"{segment}: a gap in the WAL archive"
            )

        await asyncio.to_thread(primary.start)  # its Patroni rewinds it and it follows the new primary
        await asyncio.to_thread(wait_for_primary, cluster, 2)
        roles = {m["name"]: m["role"] for m in cluster_members([n.rest_url for n in cluster])}
        assert roles[primary.name] in ("replica", "sync_standby", "quorum_standby")

        segment = await _finish_segment(db)
        assert int(segment[:8], 16) >= 2  # the timeline the promotion began
        assert await asyncio.to_thread(_archived, archive / f"{segment}.gz"), (
            f"{segment} not archived by the new primary"
        )
        print(f"\nwrite gap on a whole-node crash of the primary: {gap:.1f} s, {len(writer.acked_at)} writes")
    finally:
        writer.stop.set()
        await db.close()


async def test_a_dead_postmaster_hands_over_to_the_synchronous_standby_at_once(
    cluster: list[PatroniNode],
) -> None:
    """kill -9 of the primary's postmaster alone: its Patroni, alive, fails over to the synchronous standby
    (primary_start_timeout 0) rather than run crash recovery, and no acknowledged write is lost. Writes wait
    far less than the leader TTL that bounds a whole-node crash."""
    db = await _database(cluster)
    writer = Writer(db, "postmaster_writes")
    try:
        primary = await asyncio.to_thread(wait_for_primary, cluster, 2)
        writing = asyncio.create_task(writer.run())
        await writer.acknowledged_after(0.0, 20)
        killed_at = time.monotonic()
        postmaster = primary.postmaster_pid()
        assert postmaster is not None
        os.kill(postmaster, signal.SIGKILL)
        await asyncio.wait_for(writer.acknowledged_after(killed_at, 20), WRITE_GAP_LIMIT_SECONDS + 10)
        writer.stop.set()
        await writing

        assert await writer.lost() == set()
        gap = writer.gap()
        assert gap < LEADER_TTL_SECONDS
        new_primary = await asyncio.to_thread(wait_for_primary, cluster, 2)  # the old one rejoins too
        assert new_primary is not primary
        print(f"\nwrite gap when the primary's postmaster dies: {gap:.1f} s, {len(writer.acked_at)} writes")
    finally:
        writer.stop.set()
        await db.close()


def test_a_running_cluster_takes_the_current_dynamic_configuration(cluster: list[PatroniNode]) -> None:
    """A cluster bootstrapped with older dynamic settings (here: one PATCHed back to Patroni's default loop)
    gets ours when `counsel up --ha` starts it again, through Patroni's REST API; once every node has it, a
    second pass changes nothing."""
    rest_urls = [node.rest_url for node in cluster]
    old = urllib.request.Request(
        f"{rest_urls[0]}/config",
        data=json.dumps({"loop_wait": 10}).encode(),
        method="PATCH",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(old, timeout=10):
        pass
    try:
        _wait_for_loop_wait(rest_urls, 10)
        assert apply_dynamic_configuration(rest_urls) == {"loop_wait": LOOP_WAIT_SECONDS}
        _wait_for_loop_wait(rest_urls, LOOP_WAIT_SECONDS)
        assert apply_dynamic_configuration(rest_urls) == {}
    finally:
        apply_dynamic_configuration(rest_urls)


def _wait_for_loop_wait(rest_urls: list[str], seconds: int) -> None:
    """Until every node's `/config` (Patroni's cached copy of etcd's) shows `loop_wait` = `seconds`."""
    deadline = time.monotonic() + 30
    while True:
        seen = []
        for url in rest_urls:
            with urllib.request.urlopen(f"{url}/config", timeout=10) as response:
                seen.append(json.loads(response.read())["loop_wait"])
        if seen == [seconds] * len(rest_urls):
            return
        assert time.monotonic() < deadline, f"loop_wait {seen}, not {seconds}"
        time.sleep(0.2)
