"""Write a new Alembic migration for one service by comparing its models with its database.

    python scripts/make_migration.py <service> "<message>" --database-url postgresql://…

The database `<prefix>_<service>` must exist and be at head. One template serves every service."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path

from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.runtime.config import load_settings
from services.runtime.db import ensure_database
from services.runtime.migrations import alembic_config

TEMPLATE = Path(__file__).with_name("migration.py.mako")


def _revise(connection: Connection, service: str, message: str, rev_id: str | None) -> None:
    cfg = alembic_config(service)
    cfg.attributes["connection"] = connection
    command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service")
    parser.add_argument("message")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rev-id")
    args = parser.parse_args()
    settings = load_settings(env="dev", database_url=args.database_url)
    await ensure_database(settings.database_url, settings.database_name(args.service))
    target = Path(alembic_config(args.service).get_main_option("script_location") or "") / "script.py.mako"
    shutil.copy(TEMPLATE, target)
    engine = create_async_engine(settings.database_dsn(args.service))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_revise, args.service, args.message, args.rev_id)
    finally:
        await engine.dispose()
        target.unlink()


if __name__ == "__main__":
    asyncio.run(main())
