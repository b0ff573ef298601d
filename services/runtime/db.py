"""The one DB session helper: each service talks to its own database through an async engine."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.errors import NotFound

M = TypeVar("M")

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Database:
    """An engine and a session factory for one service's database."""

    def __init__(self, dsn: str, *, pool_size: int = 5) -> None:
        self.engine = create_async_engine(dsn, pool_size=pool_size, max_overflow=pool_size)
        # Instead of pool_pre_ping, which costs three round trips per checkout with asyncpg (BEGIN, ping,
        # ROLLBACK): asyncpg already knows when the server closed a connection (restart, failover,
        # pg_terminate_backend), so such a connection is swapped for a fresh one before use. A statement
        # that still meets a dead connection invalidates the whole pool (SQLAlchemy's disconnect handling).
        event.listen(self.engine.sync_engine, "checkout", _reject_closed)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        # Same pool, but statements run in autocommit: no BEGIN/COMMIT round trips for a plain read.
        self._reads = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            class_=AsyncSession,
            expire_on_commit=False,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session in one transaction: committed on success, rolled back on any exception."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads on hot paths, outside any transaction: each statement sees the latest
        committed data on its own (no BEGIN/COMMIT round trips). Never write through it; use
        `transaction()` when several reads must see one snapshot or anything is written."""
        async with self._reads() as session:
            yield session

    async def get(self, model: type[M], key: str, what: str) -> M:
        """The row of `model` with primary key `key`, or NotFound("no such <what>")."""
        async with self.transaction() as session:
            return await get_or_404(session, model, key, what)

    async def listen(self, channel: str, on_notify: Callable[[], object]) -> asyncpg.Connection:
        """A connection of its own, LISTENing on `channel`: `on_notify()` runs for every NOTIFY committed on
        it. Close the returned connection to stop."""
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        await conn.add_listener(channel, lambda *_: on_notify())
        return conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _reject_closed(
    dbapi_connection: object, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the server closed this connection")  # the pool tries another


async def get_or_404(
    session: AsyncSession, model: type[M], key: str, what: str, *, for_update: bool = False
) -> M:
    """The row of `model` with primary key `key` in this transaction (row-locked with `for_update`), or
    NotFound("no such <what>")."""
    row = await session.get(model, key, with_for_update=for_update)
    if row is None:
        raise NotFound(f"no such {what}")
    return row


def asyncpg_dsn(server_url: str, database: str = "postgres") -> str:
    return f"{server_url.rstrip('/')}/{database}".replace("postgresql+asyncpg://", "postgresql://", 1)


async def ensure_database(server_url: str, name: str) -> bool:
    """Create the database `name` on the server if it does not exist. Returns True when created."""
    if not _DB_NAME.match(name):
        raise ValueError(f"invalid database name {name!r}")
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()
