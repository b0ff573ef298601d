"""Identity's personal fields on the person's data key (issue 20, docs/privacy.md), against real PostgreSQL
with the service's migrations: an account's e-mail and phone and a login's IP address and place are stored
sealed with the person's key and read back through the stores; values the secret-key `FieldCipher` sealed
before (`v1:`) are sealed anew at start, in batches, by two processes at once, once; and erasure destroys the
key, so what the rows held (as a backup or the WAL keeps it) can no longer be opened."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from deploy.local.servers import PostgresServer
from services.identity import domain
from services.identity.config import IdentitySettings
from services.identity.models import DATA_KEYS, TABLES
from services.identity.store import IdentityStores
from services.identity.store.sealed import EMAIL, PHONE, SEALED_DETAIL, seal_former_values
from services.runtime.context import Principal
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import SEALED_PREFIX, DataKeys, KeyDestroyed, master_key, user_subject
from services.runtime.records import new_id
from tests.support.platform import isolated_settings, migrated_databases

PASSWORD = "Str0ng-Enough!"
LOGIN_IP = "203.0.113.45"


@dataclass(frozen=True)
class Identity:
    settings: IdentitySettings
    db: Database
    former: FieldCipher
    keys: DataKeys
    stores: IdentityStores

    def data_keys(self, db: Database | None = None) -> DataKeys:
        """Another process's data keys: nothing cached."""
        return DataKeys(db or self.db, master_key(self.settings), DATA_KEYS)


@pytest.fixture
async def identity(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[Identity]:
    settings = isolated_settings(
        postgres_server,
        name=unique_name,
        settings_type=IdentitySettings,
        secret_key=secrets.token_urlsafe(32),
    )
    async with migrated_databases(settings, "identity") as databases:
        db = databases["identity"]
        former = FieldCipher(settings.secret_key)
        keys = DataKeys(db, master_key(settings), DATA_KEYS)
        stores = IdentityStores.build(db, Outbox("identity", settings, TABLES), former, keys, settings)
        await stores.keys.ensure()
        yield Identity(settings, db, former, keys, stores)


async def stored(db: Database, user_id: str) -> tuple[str, str, list[dict[str, str]]]:
    """The user's e-mail and phone columns and their activities' details, as the database holds them."""
    async with db.engine.connect() as conn:
        email, phone = (
            await conn.execute(text("SELECT email_enc, phone_enc FROM users WHERE id = :id"), {"id": user_id})
        ).one()
        details = (
            await conn.execute(text("SELECT detail FROM activities WHERE user_id = :id"), {"id": user_id})
        ).scalars()
        return email, phone, list(details)


async def client_of_a_new_enterprise(stores: IdentityStores, email: str, phone: str, name: str) -> Principal:
    """A client with a password (PASSWORD) in an enterprise of their own."""
    enterprise = await stores.accounts.create_enterprise(f"{name}公司")
    created = await stores.accounts.create_user(
        email=email,
        phone=phone,
        display_name=name,
        roles=("client",),
        password_hash=await stores.accounts.hash_password(PASSWORD),
        tenant_id=enterprise.enterprise.id,
        privacy_policy_accepted=True,
    )
    return Principal(created.user.row.id, created.user.row.tenant_id, frozenset({"client"}))


async def test_fields_are_sealed_with_the_persons_key_and_erasure_shreds_them(identity: Identity) -> None:
    stores = identity.stores
    email, phone = f"p.{secrets.token_hex(4)}@example.com", "+8613912345678"
    principal = await client_of_a_new_enterprise(stores, email, phone, "甲")
    user_id = principal.user_id
    signed = await stores.logins.login(domain.validate_login("password", email, PASSWORD), client_ip=LOGIN_IP)
    assert (signed.user.email, signed.user.phone) == (email, phone)

    email_enc, phone_enc, details = await stored(identity.db, user_id)
    login_detail = next(d for d in details if d.get("method") == "password")
    assert email_enc.startswith(SEALED_PREFIX) and phone_enc.startswith(SEALED_PREFIX)
    assert login_detail["ip_enc"].startswith(SEALED_PREFIX)
    # Bound to the person and the field: another process opens them with the person's key alone.
    cipher = await identity.data_keys().cipher(user_subject(user_id))
    assert cipher.open(EMAIL, email_enc) == email and cipher.open(PHONE, phone_enc) == phone
    assert cipher.open(SEALED_DETAIL["ip_enc"], login_detail["ip_enc"]) == LOGIN_IP
    activity, _ = await stores.privacy.activity(principal, 10, "")
    assert any(row.detail.get("ip") == LOGIN_IP for row in activity)
    # The lookup by e-mail stays the blind index's.
    found = await stores.logins.base.user_by_identifier("email", email)
    assert found is not None and found.id == user_id

    await stores.privacy.erase(principal)

    # What the rows held before (a backup, a WAL segment) opens with neither this process's cached key
    # nor another process's freshly read one.
    for keys in (identity.keys, identity.data_keys()):
        shredded = await keys.cipher(user_subject(user_id))
        for field, value in (
            (EMAIL, email_enc),
            (PHONE, phone_enc),
            (SEALED_DETAIL["ip_enc"], login_detail["ip_enc"]),
        ):
            with pytest.raises(KeyDestroyed):
                shredded.open(field, value)
    assert await stored(identity.db, user_id) == ("", "", [])
    async with identity.db.engine.connect() as conn:
        wrapped = (
            await conn.execute(
                text("SELECT wrapped FROM data_keys WHERE subject = :s"), {"s": user_subject(user_id)}
            )
        ).scalar_one()
    assert wrapped == b""


async def test_values_sealed_before_are_sealed_anew_at_start_once(identity: Identity) -> None:
    """More than a batch of users and of logins sealed by the secret-key FieldCipher (`v1:`) is sealed anew
    with each person's key by two processes starting at once, each row once; a third start finds nothing."""
    former = identity.former
    people = 600
    users = [(new_id(), f"u{n}@example.com", f"139{n:08d}") for n in range(people)]
    async with identity.db.transaction() as session:
        for user_id, email, phone in users:
            await session.execute(
                text(
                    "INSERT INTO users (id, tenant_id, display_name, email_index, email_enc, phone_index, "
                    "phone_enc, password_hash, roles, status, created_at, firm_id) VALUES (:id, '', 'x', "
                    ":email_index, :email, :phone_index, :phone, '', '[\"client\"]', 'active', now(), '')"
                ),
                {
                    "id": user_id,
                    "email_index": former.blind_index(email),
                    "email": former.encrypt(email),
                    "phone_index": former.blind_index(phone),
                    "phone": former.encrypt(phone),
                },
            )
            await session.execute(
                text(
                    "INSERT INTO activities (id, user_id, tenant_id, kind, source, subject_id, detail, "
                    "created_at) VALUES (:id, :user_id, '', 'login', 'identity', '', CAST(:detail AS jsonb), now())"
                ),
                {
                    "id": new_id(),
                    "user_id": user_id,
                    "detail": json.dumps(
                        {
                            "method": "otp",
                            "ip_enc": former.encrypt(LOGIN_IP),
                            "location_enc": former.encrypt("上海"),
                        }
                    ),
                },
            )
    # An erased person's leftover: their key is gone, so it is removed rather than sealed.
    erased_id = users[0][0]
    await identity.keys.destroy(user_subject(erased_id))

    second = Database(identity.settings.database_dsn("identity"), pool_size=2)
    try:
        changed = await asyncio.gather(
            seal_former_values(identity.db, identity.data_keys(), former),
            seal_former_values(second, identity.data_keys(second), former),
        )
    finally:
        await second.close()
    assert sum(changed) == 2 * people  # each user and each activity row once, between the two
    assert await seal_former_values(identity.db, identity.data_keys(), former) == 0

    keys = identity.data_keys()
    for user_id, email, phone in users[1:]:
        email_enc, phone_enc, details = await stored(identity.db, user_id)
        cipher = await keys.cipher(user_subject(user_id))
        assert (cipher.open(EMAIL, email_enc), cipher.open(PHONE, phone_enc)) == (email, phone)
        [detail] = details
        assert cipher.open(SEALED_DETAIL["ip_enc"], detail["ip_enc"]) == LOGIN_IP
        assert cipher.open(SEALED_DETAIL["location_enc"], detail["location_enc"]) == "上海"
    email_enc, phone_enc, [detail] = await stored(identity.db, erased_id)
    assert (email_enc, phone_enc, detail) == ("", "", {"method": "otp", "ip_enc": "", "location_enc": ""})
    # The account is still found by its blind index, and shown opened.
    user_id, email, phone = users[1]
    found = await identity.stores.logins.base.user_by_identifier("email", email)
    assert found is not None
    view = await identity.stores.logins.base.view(found)
    assert (view.email, view.phone) == (email, phone)


async def test_a_value_still_sealed_the_former_way_is_read_until_it_is_sealed_anew(
    identity: Identity,
) -> None:
    """A rolling deploy: a process of this code reads an account and a login that the start's sealing anew
    has not reached, or that a process of the code before wrote meanwhile (`v1:`, the secret-key cipher):
    the login by e-mail, the profile and the activity show them opened. What it writes is sealed with the
    person's key; the next start seals the rest anew, and they read the same."""
    stores, former = identity.stores, identity.former
    email, phone = f"r.{secrets.token_hex(4)}@example.com", "+8613812345678"
    principal = await client_of_a_new_enterprise(stores, email, phone, "乙")
    user_id = principal.user_id
    async with identity.db.transaction() as session:
        await session.execute(
            text("UPDATE users SET email_enc = :email, phone_enc = :phone WHERE id = :id"),
            {"id": user_id, "email": former.encrypt(email), "phone": former.encrypt(phone)},
        )
        await session.execute(
            text(
                "INSERT INTO activities (id, user_id, tenant_id, kind, source, subject_id, detail, created_at) "
                "VALUES (:id, :user_id, :tenant_id, 'login', 'identity', '', CAST(:detail AS jsonb), now())"
            ),
            {
                "id": new_id(),
                "user_id": user_id,
                "tenant_id": principal.tenant_id,
                "detail": json.dumps(
                    {
                        "method": "otp",
                        "ip_enc": former.encrypt("198.51.100.7"),
                        "location_enc": former.encrypt("上海"),
                    }
                ),
            },
        )

    async def read_back() -> None:
        signed = await stores.logins.login(
            domain.validate_login("password", email, PASSWORD), client_ip=LOGIN_IP
        )
        assert (signed.user.email, signed.user.phone) == (email, phone)
        profile = await stores.accounts.profile(principal)
        assert (profile.user.email, profile.user.phone) == (email, phone)
        activity, _ = await stores.privacy.activity(principal, 10, "")
        places = {(row.detail.get("ip"), row.detail.get("location")) for row in activity}
        assert ("198.51.100.7", "上海") in places and LOGIN_IP in {ip for ip, _ in places}

    await read_back()
    email_enc, phone_enc, details = await stored(identity.db, user_id)
    assert email_enc.startswith("v1:") and phone_enc.startswith("v1:")  # reading writes nothing back
    logins = [d for d in details if d.get("method") == "password"]
    assert logins and all(d["ip_enc"].startswith(SEALED_PREFIX) for d in logins)  # written the new way

    assert await seal_former_values(identity.db, identity.data_keys(), former) == 2
    email_enc, phone_enc, details = await stored(identity.db, user_id)
    sealed = [email_enc, phone_enc, *(v for d in details for k, v in d.items() if k in SEALED_DETAIL)]
    assert all(value.startswith(SEALED_PREFIX) for value in sealed)
    await read_back()
