"""The one DB session helper against real PostgreSQL: connections the server dropped are not handed out."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from deploy.local.servers import PostgresServer, free_port
from services.runtime.config import load_settings
from services.runtime.db import Database, asyncpg_dsn, ensure_database
from services.runtime.errors import Unavailable


async def test_connections_the_server_closed_are_replaced_before_use(
    postgres_server: PostgresServer, unique_name: str
) -> None:
    """A restart or failover closes every pooled connection; the next transactions must not fail on them
    (the pool checks liveness without a round trip, see Database.__init__)."""
    settings = load_settings(env="test", database_url=postgres_server.url, database_prefix=unique_name)
    name = settings.database_name("probe")
    await ensure_database(settings.database_url, name)
    db = Database(settings.database_dsn("probe"))
    admin = await asyncpg.connect(asyncpg_dsn(settings.database_url, "postgres"))
    try:
        held = [await db.engine.connect() for _ in range(3)]  # three pooled connections
        closed = []
        for conn in held:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            gone = asyncio.Event()
            driver.add_termination_listener(lambda _, gone=gone: gone.set())
            closed.append(gone)
            await conn.close()
        terminated = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", name
        )
        assert terminated == 3
        async with asyncio.timeout(10):  # until this process has read the server's goodbye on each
            for gone in closed:
                await gone.wait()
        for _ in range(5):
            async with db.transaction() as session:
                assert (await session.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await admin.close()
        await db.close()


@pytest.fixture
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A server of this test's own, to stop and start (the session's is shared)."""
    data_dir = Path(tempfile.mkdtemp(prefix="counsel-test-failover-"))
    server = PostgresServer(data_dir, free_port(), durable=False)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_a_transaction_waits_for_the_primary_to_come_back(own_postgres: PostgresServer) -> None:
    """While no server takes connections (a failover, a restart), a transaction waits for one instead of
    failing; one cut off half-way is Unavailable (UNAVAILABLE → 503, retried by its caller); the pool then
    serves from the new server. The URL names a dead host first, as a cluster's does after a failover."""
    dead = free_port()
    cluster = f"postgresql://counsel:{own_postgres.password}@127.0.0.1:{dead},127.0.0.1:{own_postgres.port}/"
    settings = load_settings(
        env="test", database_url=cluster + "?target_session_attrs=read-write", database_prefix="failover"
    )
    await ensure_database(settings.database_url, settings.database_name("probe"))
    db = Database(settings.database_dsn("probe"))
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (n int PRIMARY KEY)"))
        with pytest.raises(Unavailable):
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO t VALUES (1)"))
                await asyncio.to_thread(own_postgres.stop)
        write = asyncio.create_task(_insert(db, 2))
        await asyncio.sleep(1.5)
        assert not write.done()  # waiting, not failed
        await asyncio.to_thread(own_postgres.start)
        await asyncio.wait_for(write, 30)
        async with db.read() as session:
            assert (await session.execute(text("SELECT array_agg(n) FROM t"))).scalar() == [2]
    finally:
        await db.close()


async def _insert(db: Database, n: int) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})


async def test_a_paused_host_in_the_url_costs_seconds_not_the_whole_connect_timeout(
    own_postgres: PostgresServer, postgres_server: PostgresServer
) -> None:
    """A host that accepts TCP connections but never answers — a SIGSTOPped PostgreSQL, first in a multi-host
    URL, as a paused primary is after a failover — holds a connection up for its own few seconds, then the
    live host behind it serves: asyncpg alone gives all the hosts one 60 s timeout, which the paused host
    spent whole, so the pool and LISTEN connections, and a service's start, hung for a minute."""
    hosts = f"127.0.0.1:{own_postgres.port},127.0.0.1:{postgres_server.port}"
    url = f"postgresql://counsel:{postgres_server.password}@{hosts}/?target_session_attrs=read-write"
    settings = load_settings(env="test", database_url=url, database_prefix="paused")
    await ensure_database(postgres_server.url, settings.database_name("probe"))
    db = Database(settings.database_dsn("probe"))
    postmaster = own_postgres.pid
    assert postmaster is not None
    os.kill(postmaster, signal.SIGSTOP)
    try:
        started = time.monotonic()
        async with db.read() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
        listening = await db.listen("probe", lambda: None)
        await listening.close()
        # A service's start creates its database through the same URL (deploy/local/bootstrap.py).
        assert await ensure_database(url, settings.database_name("created")) is True
        assert time.monotonic() - started < 20
    finally:
        os.kill(postmaster, signal.SIGCONT)
        await db.close()
