"""The one DB session helper against real PostgreSQL: connections the server dropped are not handed out."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import text

from deploy.local.servers import PostgresServer
from services.runtime.config import load_settings
from services.runtime.db import Database, asyncpg_dsn, ensure_database


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
