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
from services.identity.config import IdentitySettings
from services.identity.models import DATA_KEYS, TABLES
from services.identity.store import IdentityStores
from services.identity.store.keys import SigningKeys
from services.runtime.crypto import FieldCipher
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from tests.support.platform import isolated_settings, migrated_databases


@pytest.fixture
async def keys(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[SigningKeys]:
    settings = isolated_settings(
        postgres_server,
        name=unique_name,
        settings_type=IdentitySettings,
        secret_key=secrets.token_urlsafe(32),
    )
    async with migrated_databases(settings, "identity", pool_size=2) as databases:
        yield IdentityStores.build(
            databases["identity"],
            Outbox("identity", settings, TABLES),
            FieldCipher(settings.secret_key),
            DataKeys(databases["identity"], master_key(settings), DATA_KEYS),
            settings,
        ).keys


def kids(jwks: dict) -> set[str]:
    return {key["kid"] for key in jwks["keys"]}


async def signing_kid(keys: SigningKeys) -> str:
    async with keys.base.db.transaction() as session:
        return (await keys.signing_key(session)).kid


async def test_a_new_key_is_published_before_it_signs_and_the_old_one_until_its_tokens_expire(
    keys: SigningKeys,
) -> None:
    first = await keys.ensure()
    assert await signing_kid(keys) == first  # a fresh platform signs with its only key at once
    rotation = await keys.rotate()
    new, signs_from = rotation.kid, rotation.signs_from
    assert new != first and kids(await keys.jwks()) == {first, new}
    # Verifiers refetch the JWKS for an unknown key at most every 30 s: the new key waits its turn.
    assert await signing_kid(keys) == first
    assert signs_from - (await key_created_at(keys, new)) == tokens.SIGNING_KEY_PUBLISH_AHEAD
    await travel(keys, tokens.SIGNING_KEY_PUBLISH_AHEAD + timedelta(seconds=1))
    assert await signing_kid(keys) == new
    assert kids(await keys.jwks()) == {first, new}  # the tokens `first` signed have not expired yet
    await travel(keys, timedelta(seconds=tokens.MAX_ACCESS_TOKEN_TTL_SECONDS))
    assert kids(await keys.jwks()) == {new}


async def test_a_repeated_rotation_within_its_minimum_age_makes_no_second_key(keys: SigningKeys) -> None:
    await keys.ensure()
    assert (await keys.rotate(timedelta(days=15))).kid == await signing_kid(keys)  # too young
    await travel(keys, timedelta(days=30))
    rotation = await keys.rotate(timedelta(days=15))
    again = await keys.rotate(timedelta(days=15))  # the activity retried
    assert again == rotation
    async with keys.base.db.transaction() as session:
        count = (await session.execute(text("SELECT count(*) FROM signing_keys"))).scalar()
    assert count == 2


async def key_created_at(keys: SigningKeys, kid: str):  # type: ignore[no-untyped-def]
    async with keys.base.db.transaction() as session:
        return (
            await session.execute(text("SELECT created_at FROM signing_keys WHERE kid = :kid"), {"kid": kid})
        ).scalar()


async def travel(keys: SigningKeys, by: timedelta) -> None:
    """Move this database's key history `by` into the past, as if that much time went by."""
    async with keys.base.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE signing_keys SET created_at = created_at - CAST(:by AS interval), "
                "retired_at = retired_at - CAST(:by AS interval) WHERE true"
            ),
            {"by": by},
        )
