"""Identity's signing-key rotation against real PostgreSQL (issue 17, item 7; R-ACC-2): a new key is
published before it signs, the retiring key signs until then and stays published until its tokens expire,
and a repeated rotation makes no second key."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from deploy.local.servers import PostgresServer
from services.identity import tokens
from services.identity.models import TABLES
from services.identity.store import IdentityStore
from services.runtime.config import load_settings
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database, ensure_database
from services.runtime.events import Outbox
from services.runtime.migrations import migrate


@pytest.fixture
async def store(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[IdentityStore]:
    settings = load_settings(
        env="test",
        database_url=postgres_server.url,
        database_prefix=unique_name,
        secret_key=secrets.token_urlsafe(32),
    )
    await ensure_database(settings.database_url, settings.database_name("identity"))
    await migrate("identity", settings.database_dsn("identity"))
    db = Database(settings.database_dsn("identity"), pool_size=2)
    yield IdentityStore(db, Outbox("identity", settings, TABLES), FieldCipher(settings.secret_key), settings)
    await db.close()


def kids(jwks: dict) -> set[str]:
    return {key["kid"] for key in jwks["keys"]}


async def signing_kid(store: IdentityStore) -> str:
    async with store.db.transaction() as session:
        return (await store._signing_key(session)).kid


async def test_a_new_key_is_published_before_it_signs_and_the_old_one_until_its_tokens_expire(
    store: IdentityStore,
) -> None:
    first = await store.ensure_signing_key()
    assert await signing_kid(store) == first  # a fresh platform signs with its only key at once
    new, signs_from = await store.rotate_signing_key()
    assert new != first and kids(await store.jwks()) == {first, new}
    # Verifiers refetch the JWKS for an unknown key at most every 30 s: the new key waits its turn.
    assert await signing_kid(store) == first
    assert signs_from - (await key_created_at(store, new)) == tokens.SIGNING_KEY_PUBLISH_AHEAD
    await travel(store, tokens.SIGNING_KEY_PUBLISH_AHEAD + timedelta(seconds=1))
    assert await signing_kid(store) == new
    assert kids(await store.jwks()) == {first, new}  # the tokens `first` signed have not expired yet
    await travel(store, timedelta(seconds=tokens.MAX_ACCESS_TOKEN_TTL_SECONDS))
    assert kids(await store.jwks()) == {new}


async def test_a_repeated_rotation_within_its_minimum_age_makes_no_second_key(store: IdentityStore) -> None:
    await store.ensure_signing_key()
    assert (await store.rotate_signing_key(timedelta(days=15)))[0] == await signing_kid(store)  # too young
    await travel(store, timedelta(days=30))
    new, signs_from = await store.rotate_signing_key(timedelta(days=15))
    again, again_from = await store.rotate_signing_key(timedelta(days=15))  # the activity retried
    assert (again, again_from) == (new, signs_from)
    async with store.db.transaction() as session:
        count = (await session.execute(text("SELECT count(*) FROM signing_keys"))).scalar()
    assert count == 2


async def key_created_at(store: IdentityStore, kid: str):  # type: ignore[no-untyped-def]
    async with store.db.transaction() as session:
        return (
            await session.execute(text("SELECT created_at FROM signing_keys WHERE kid = :kid"), {"kid": kid})
        ).scalar()


async def travel(store: IdentityStore, by: timedelta) -> None:
    """Move this database's key history `by` into the past, as if that much time went by."""
    async with store.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE signing_keys SET created_at = created_at - CAST(:by AS interval), "
                "retired_at = retired_at - CAST(:by AS interval) WHERE true"
            ),
            {"by": by},
        )
