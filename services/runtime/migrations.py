"""Per-service Alembic migrations. Each service's `migrations/env.py` calls `run_env(metadata)`; the
local stack, the CLI and the tests call `migrate(service, dsn)`."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.runtime.tables import define_runtime_tables

RUNTIME_TABLE_NAMES = frozenset(table.name for table in vars(define_runtime_tables(MetaData())).values())


def alembic_config(service: str) -> Config:
    package = importlib.import_module(f"services.{service}")
    assert package.__file__ is not None
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(package.__file__).parent / "migrations"))
    return cfg


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's env.py: run against the connection handed over by `migrate`."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url")
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    context.configure(
        connection=connection, target_metadata=target_metadata, include_object=_not_runtime_table
    )
    with context.begin_transaction():
        context.run_migrations()


def _not_runtime_table(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # The outbox, processed-events and idempotency tables come from create_runtime_tables(); autogenerate
    # must not write them into each service's migrations again.
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return getattr(table, "name", name) not in RUNTIME_TABLE_NAMES


def _upgrade(connection: Connection, service: str, revision: str) -> list[str]:
    # Replicas may start together: one migrates, the others wait on the lock and then find nothing to do.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"migrate:{service}"})
    cfg = alembic_config(service)
    cfg.attributes["connection"] = connection
    before = MigrationContext.configure(connection).get_current_heads()
    command.upgrade(cfg, revision)
    after = MigrationContext.configure(connection).get_current_heads()
    if set(after) == set(before):
        return []
    applied = ScriptDirectory.from_config(cfg).iterate_revisions(after, before or "base")
    return [script.revision for script in reversed(list(applied)) if script.revision not in before]


async def migrate(service: str, dsn: str, revision: str = "head") -> list[str]:
    """Bring the service's database to `revision` (the database must exist). Returns the revisions this call
    applied, oldest first (empty when the database was there already)."""
    engine = create_async_engine(dsn)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(_upgrade, service, revision)
    finally:
        await engine.dispose()


def create_runtime_tables(op: Operations) -> None:
    """Create the outbox, processed-events and idempotency tables in a service's first migration."""
    metadata = MetaData()
    define_runtime_tables(metadata)
    metadata.create_all(op.get_bind())
