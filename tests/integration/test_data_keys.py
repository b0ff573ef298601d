"""Data keys in a service's own database (real PostgreSQL): created once per subject and wrapped by the master
key, re-wrapped by a rotation without touching the data, destroyed by erasure (crypto-shredding), and a
wrong master key stops the process before it serves."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from deploy.local.servers import PostgresServer
from services.payment.models import DATA_KEYS
from services.runtime.config import load_settings
from services.runtime.db import Database, ensure_database
from services.runtime.keys import DataKeys, KeyDestroyed, MasterKeyError, local_master_key
from services.runtime.migrations import migrate

V1, V2 = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))


@pytest.fixture
async def db(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[Database]:
    settings = load_settings(env="test", database_url=postgres_server.url, database_prefix=unique_name)
    await ensure_database(settings.database_url, settings.database_name("payment"))
    await migrate("payment", settings.database_dsn("payment"))
    database = Database(settings.database_dsn("payment"))
    yield database
    await database.close()


async def test_one_key_per_subject_wrapped_rotated_and_shredded(db: Database) -> None:
    keys = DataKeys(db, local_master_key(f"v1={V1}"), DATA_KEYS)
    await keys.check()  # an empty database: any master key will do
    first, second = await asyncio.gather(
        keys.cipher("tenant:t1"), DataKeys(db, keys.master, DATA_KEYS).cipher("tenant:t1")
    )
    sealed = first.seal("orders.requirements.facts", "marker-0b1d")
    assert second.open("orders.requirements.facts", sealed) == "marker-0b1d"  # the same key, made once
    async with db.engine.connect() as conn:
        [row] = (await conn.execute(select(DATA_KEYS))).all()
    assert row.master_version == "v1" and len(row.wrapped) == 12 + 32 + 16

    rotated = DataKeys(db, local_master_key(f"v2={V2},v1={V1}"), DATA_KEYS)
    assert await rotated.rewrap() == 1
    assert await rotated.rewrap() == 0
    only_new = DataKeys(db, local_master_key(f"v2={V2}"), DATA_KEYS)
    await only_new.check()
    assert (await only_new.cipher("tenant:t1")).open("orders.requirements.facts", sealed) == "marker-0b1d"

    await only_new.destroy("tenant:t1")
    await only_new.destroy("tenant:t1")  # idempotent
    fresh = DataKeys(db, only_new.master, DATA_KEYS)  # another replica, nothing cached
    shredded = await fresh.cipher("tenant:t1")
    with pytest.raises(KeyDestroyed):
        shredded.open("orders.requirements.facts", sealed)
    with pytest.raises(KeyDestroyed):
        shredded.seal("orders.requirements.facts", "new text about a shredded subject")


async def test_a_wrong_or_missing_master_version_stops_the_process(db: Database) -> None:
    keys = DataKeys(db, local_master_key(f"v1={V1}"), DATA_KEYS)
    await keys.cipher("user:u1")
    with pytest.raises(MasterKeyError, match="not the key this database's data keys were wrapped with"):
        await DataKeys(db, local_master_key(f"v1={V2}"), DATA_KEYS).check()
    with pytest.raises(MasterKeyError, match="'v1' is not configured"):
        await DataKeys(db, local_master_key(f"v2={V2}"), DATA_KEYS).check()


async def test_shredding_a_subject_that_never_had_a_key_keeps_it_keyless(db: Database) -> None:
    keys = DataKeys(db, local_master_key(f"v1={V1}"), DATA_KEYS)
    await keys.destroy("user:never")
    assert (await DataKeys(db, keys.master, DATA_KEYS).cipher("user:never")).destroyed
