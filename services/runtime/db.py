"""The one DB session helper: each service talks to its own database through an async engine.

It rides out a failover of a replicated cluster (Patroni, CloudNativePG): connections go to whichever node is
the primary now (a multi-host URL with `target_session_attrs=read-write`, see `database_url_of`, each host
tried for a few seconds at most, so a paused node is passed by); a
transaction that cannot get a connection because the primary went away is tried again, with backoff and
jitter, until a new primary takes it or FAILOVER_PATIENCE_SECONDS pass; a connection that meets a lost or
demoted primary is discarded with the rest of the pool; and a transaction cut off half-way is `Unavailable`
(gRPC UNAVAILABLE, HTTP 503 with Retry-After) for its caller to retry with its idempotency key."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import event, exc, make_url, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.config import database_url_of
from services.runtime.errors import NotFound, Unavailable

M = TypeVar("M")

log = logging.getLogger(__name__)

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# How long a transaction waits for a primary to take its connection. A failover takes up to Patroni's leader
# TTL (20 s at least, TOOLCHAIN.md) plus the promotion; a gRPC call's own deadline (10 s) often ends first.
FAILOVER_PATIENCE_SECONDS = 30.0
IDLE_IN_TRANSACTION_TIMEOUT = "120s"
# asyncpg gives the hosts of a multi-host URL one timeout between them (60 s), so a host that accepts TCP
# connections but never answers — a paused (SIGSTOPped) or hung node — spends all of it and the live primary
# behind it is never tried. Each host gets this long of its own instead: a connection takes milliseconds, a
# second or two on a machine under heavy load.
HOST_CONNECT_TIMEOUT_SECONDS = 4.0
_FIRST_BACKOFF_SECONDS = 0.1
# A planned switchover leaves no primary for 2-4 s; with waits of up to 2 s a transaction slept on for up to
# that long after the new primary took writes (a wait is at most this long past it).
_MAX_BACKOFF_SECONDS = 0.5

# What asyncpg raises when the primary is gone, starting, shutting down or demoted (TOOLCHAIN.md): a
# connection closed under a statement, no host of a multi-host URL accepting writes
# (TargetServerAttributeNotMatched, an InternalClientError), a server refusing connections while it starts
# or stops, and a write reaching a server now in recovery. Connecting also meets refused, reset and timed-out
# sockets (OSError), which count only there: inside a transaction an OSError may come from anything.
_PRIMARY_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ReadOnlySQLTransactionError,
)


def primary_lost(error: BaseException, *, connecting: bool = False) -> bool:
    """Whether `error` (or what it wraps) says the database's primary went away — crashed, stopping,
    starting, demoted — so the same work on a fresh connection to the new primary may succeed. `connecting`:
    the error came from opening a connection, where any socket error means the same."""
    lost = (*_PRIMARY_LOST, OSError) if connecting else _PRIMARY_LOST
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, lost) or (
            isinstance(current, exc.DBAPIError) and current.connection_invalidated
        ):
            return True
        orig = getattr(current, "orig", None)
        current = current.__cause__ or (orig if isinstance(orig, BaseException) else None)
    return False


def _backoff(attempt: int) -> float:
    """Full jitter: a random wait up to an exponentially growing cap, so the processes that lost their
    primary together do not knock on the new one together."""
    return random.uniform(0, min(_MAX_BACKOFF_SECONDS, _FIRST_BACKOFF_SECONDS * 2**attempt))


_AFTER_COMMIT = "counsel.after_commit"


def after_commit(session: AsyncSession, step: Callable[[], Awaitable[None]]) -> None:
    """Run `step` once `session`'s transaction (`Database.transaction`) has committed and given its
    connection back, before `transaction()` returns: its caller goes on only when the step is done, and a
    step that fails fails the caller. Nothing runs after a rollback. RuntimeError for a session that is not
    such a transaction (a `Database.read` session never commits)."""
    steps = session.info.get(_AFTER_COMMIT)
    if steps is None:
        raise RuntimeError("after_commit needs a session of Database.transaction()")
    steps.append(step)


class Database:
    """An engine and a session factory for one service's database."""

    def __init__(self, dsn: str, *, pool_size: int = 5) -> None:
        self._connect_parameters = _connect_parameters(dsn)
        self.engine = create_async_engine(
            dsn, pool_size=pool_size, max_overflow=pool_size, async_creator=self._connect
        )
        # Instead of pool_pre_ping, which costs three round trips per checkout with asyncpg (BEGIN, ping,
        # ROLLBACK): asyncpg already knows when the server closed a connection (restart, failover,
        # pg_terminate_backend), so such a connection is swapped for a fresh one before use. A statement
        # that still meets a dead connection invalidates the whole pool (SQLAlchemy's disconnect handling).
        event.listen(self.engine.sync_engine, "checkout", _reject_closed)
        event.listen(self.engine.sync_engine, "handle_error", _discard_on_primary_lost)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        # Same pool, but statements run in autocommit: no BEGIN/COMMIT round trips for a plain read.
        self._reads = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            class_=AsyncSession,
            expire_on_commit=False,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session in one transaction: committed on success, rolled back on any exception. Waits through a
        failover for a connection to the primary (see the module's docstring); Unavailable when the primary
        is lost during the transaction — it did not commit, or (lost during COMMIT) cannot be known to have."""
        async with await self._connected(self._sessions) as session, _primary_lost_is_unavailable():
            session.info[_AFTER_COMMIT] = []
            yield session
            await session.commit()
            steps = session.info.pop(_AFTER_COMMIT)
        for step in steps:  # the transaction committed and its connection is back in the pool
            await step()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads on hot paths, outside any transaction: each statement sees the latest
        committed data on its own (no BEGIN/COMMIT round trips). Never write through it; use
        `transaction()` when several reads must see one snapshot or anything is written."""
        async with await self._connected(self._reads) as session, _primary_lost_is_unavailable():
            yield session

    async def _connected(self, sessions: async_sessionmaker[AsyncSession]) -> AsyncSession:
        """A new session holding a pooled connection to the primary. While the primary is away, tries again
        (nothing has run yet, so trying again is always safe) until FAILOVER_PATIENCE_SECONDS pass."""
        deadline = time.monotonic() + FAILOVER_PATIENCE_SECONDS
        attempt = 0
        while True:
            session = sessions()
            try:
                await session.connection()
            except Exception as error:
                await session.close()
                if not primary_lost(error, connecting=True):
                    raise
                if time.monotonic() >= deadline:
                    raise Unavailable("the database has no primary; retry later") from error
                if attempt == 0:
                    log.warning("database primary unreachable; waiting for one", extra={"error": repr(error)})
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
            else:
                if attempt:
                    log.info("database primary reached again", extra={"attempts": attempt + 1})
                return session

    async def get(self, model: type[M], key: str, what: str) -> M:
        """The row of `model` with primary key `key`, or NotFound("no such <what>")."""
        async with self.transaction() as session:
            return await get_or_404(session, model, key, what)

    async def _connect(self) -> asyncpg.Connection:
        """A new connection to the primary for the pool (see `connect`)."""
        # A transaction left open by a client that hangs (or whose host vanished without closing its socket)
        # holds its row locks, and the outbox relay's SKIP LOCKED read passes those rows by: PostgreSQL ends
        # it after this long. Longer than any wait inside a transaction here (the relay's, for JetStream's
        # acks, is at most 4 windows x 10 s); the relay warns of rows stuck for a minute
        # (STALE_OUTBOX_SECONDS), this frees them a minute later.
        settings = {"idle_in_transaction_session_timeout": IDLE_IN_TRANSACTION_TIMEOUT}
        return await connect(**self._connect_parameters, server_settings=settings)

    async def listen(self, channel: str, on_notify: Callable[[], object]) -> asyncpg.Connection:
        """A connection of its own (to the primary, like the pool's), LISTENing on `channel`: `on_notify()`
        runs for every NOTIFY committed on it. Close the returned connection to stop."""
        conn = await connect(**self._connect_parameters)
        await conn.add_listener(channel, lambda *_: on_notify())
        return conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


async def connect(**parameters: Any) -> asyncpg.Connection:
    """An asyncpg connection made with `parameters` (asyncpg.connect's, as SQLAlchemy's dialect reads them
    from a URL), trying each host of a multi-host URL in turn for HOST_CONNECT_TIMEOUT_SECONDS at most: the
    first that accepts, and is what `target_session_attrs` asks for, serves. When none does, the error of the
    last one; an error that is no host's fault (a wrong password, no such database) at once."""
    hosts, ports = parameters.pop("host", None), parameters.pop("port", None)
    if not isinstance(hosts, list):
        hosts, ports = [hosts], [ports]
    failure: BaseException | None = None
    for host, port in zip(hosts, ports, strict=True):
        try:
            return await asyncpg.connect(
                host=host, port=port, timeout=HOST_CONNECT_TIMEOUT_SECONDS, **parameters
            )
        except Exception as error:
            if not primary_lost(error, connecting=True):
                raise
            failure = error
    assert failure is not None  # the loop ran at least once
    raise failure


def _reject_closed(
    dbapi_connection: object, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the server closed this connection")  # the pool tries another


def _discard_on_primary_lost(context: ExceptionContext) -> None:
    """A statement that met a lost or demoted primary (e.g. a read-only error from a node now in recovery,
    whose connection asyncpg still thinks open) counts as a disconnect: SQLAlchemy then discards the
    connection and every other one pooled before it, all to the same old primary."""
    if primary_lost(context.original_exception):
        context.is_disconnect = True


@asynccontextmanager
async def _primary_lost_is_unavailable() -> AsyncIterator[None]:
    try:
        yield
    except Exception as error:
        if primary_lost(error):
            raise Unavailable("the database primary was lost during this transaction; retry") from error
        raise


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
    """asyncpg's URL of `database` on the server(s) of `server_url` (COUNSEL_DATABASE_URL)."""
    return database_url_of(server_url, database)


def _connect_parameters(dsn: str) -> dict[str, Any]:
    """`connect`'s parameters for a SQLAlchemy URL of ours (`database_url_of(..., driver="postgresql+asyncpg")`),
    read as the pool's engine reads them: several hosts become lists of hosts and ports."""
    _, parameters = PGDialect_asyncpg().create_connect_args(make_url(dsn))
    return dict(parameters)


async def ensure_database(server_url: str, name: str) -> bool:
    """Create the database `name` on the server if it does not exist. Returns True when created."""
    if not _DB_NAME.match(name):
        raise ValueError(f"invalid database name {name!r}")
    # Each host on its own timeout (`connect`): a paused node first in the URL must not hold up every start.
    dsn = database_url_of(server_url, "postgres", driver="postgresql+asyncpg")
    conn = await connect(**_connect_parameters(dsn))
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
