"""The key hierarchy (R-PRIV-1, docs/privacy.md): a master key wraps data keys; data keys seal fields.

- A **master key** (`MasterKey`) never touches data. It comes from `COUNSEL_MASTER_KEY` (`local_master_key`,
  `v2=<base64>,v1=<base64>`, the first version current) or from a mounted secret (`mounted_master_key`,
  `COUNSEL_MASTER_KEY_DIR`: one file per version plus `current`, as a Kubernetes Secret or a KMS agent
  writes it). It wraps data keys and derives the key of Temporal payloads (services/runtime/codec.py).
- A **data key** is 32 random bytes per subject — an enterprise (`tenant:<id>`) or an individual client
  (`user:<id>`) — kept wrapped by the master key in the owning service's own `data_keys` table and cached
  unwrapped in memory for a few minutes. Rotating the master key re-wraps data keys (`counsel keys rotate`);
  the data they sealed stays as it is.
- **Crypto-shredding**: `DataKeys.destroy(subject)` deletes the wrapped key; everything sealed with it — rows,
  WAL segments, backups — is unreadable from then on (`KeyDestroyed`).

Fields are sealed with AES-256-GCM (`cryptography`), the subject and the field's name bound as associated
data, so a value copied into another tenant's row or another column does not open. SM4-GCM is not used:
`cryptography` (OpenSSL's EVP) offers SM4 only in CBC/CTR/ECB/OFB/CFB modes plus a GCM that is not in every
OpenSSL build and has no AEAD interface there; AES-256-GCM is constant-time with AES-NI on every host we run."""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, Table, Text, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.config import Settings, SettingsError
from services.runtime.db import Database

KEY_BYTES = 32
NONCE_BYTES = 12  # random 96-bit nonces: far below the 2^32 values per key where collisions start to matter
TAG_BYTES = 16
# A sealed field: `dk1:<base64(nonce ‖ ciphertext ‖ tag)>`. The data key is found by the row's subject.
SEALED_PREFIX = "dk1:"
# How long an unwrapped data key is kept in memory. A key destroyed by another replica opens nothing here
# once this has passed (and erasure also removes the data the key sealed, so the window reveals nothing new).
CACHE_SECONDS = 300.0
_WRAP_INFO = b"counsel/data-key-wrap/v1"


class MasterKeyError(SettingsError):
    """The master key is missing, malformed or not the one that wrapped this database's data keys: the
    process must not start (it would write unreadable data, or none at all)."""


class SealedValueError(Exception):
    """A sealed value that cannot be opened."""


class KeyDestroyed(SealedValueError):
    """The subject's data key was destroyed (crypto-shredding): its values are gone for good."""


class SealError(SealedValueError):
    """A value that is not a sealed field, or was sealed for another subject or field, or altered."""


# --- master keys -----------------------------------------------------------------------------------------
class MasterKey(Protocol):
    """What wraps data keys. `current` names the version new wraps use; every listed version unwraps."""

    @property
    def current(self) -> str: ...

    def version(self, version: str) -> bytes:
        """The 32 key bytes of `version`; MasterKeyError when this master key does not hold it."""
        ...

    @property
    def versions(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class StaticMasterKey:
    """Master key versions held in memory: what both `local_master_key` and `mounted_master_key` produce."""

    current: str
    keys: Mapping[str, bytes]

    def version(self, version: str) -> bytes:
        try:
            return self.keys[version]
        except KeyError:
            raise MasterKeyError(
                f"master key version {version!r} is not configured (configured: {', '.join(self.versions)}); "
                "keep a retired version until `counsel keys rotate` has re-wrapped every data key"
            ) from None

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(self.keys)


def _key_bytes(version: str, encoded: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(f"{where}: master key version {version!r} must be {KEY_BYTES} bytes in base64")
    return raw


def local_master_key(value: str) -> StaticMasterKey:
    """The master key from `COUNSEL_MASTER_KEY`: `v2=<base64 32 bytes>,v1=<base64 32 bytes>`, the first
    version current. MasterKeyError when empty or malformed."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        version, sep, encoded = item.partition("=")
        if not sep or not version.strip():
            raise MasterKeyError(
                "COUNSEL_MASTER_KEY must read `<version>=<base64 key>[,<version>=<base64>…]`"
            )
        keys[version.strip()] = _key_bytes(version.strip(), encoded, "COUNSEL_MASTER_KEY")
    if not keys:
        raise MasterKeyError("COUNSEL_MASTER_KEY is empty")
    return StaticMasterKey(next(iter(keys)), keys)


def mounted_master_key(directory: Path) -> StaticMasterKey:
    """The master key from a mounted secret (KMS-style): `directory/current` names the current version and
    `directory/<version>` holds each version's key in base64. MasterKeyError when unreadable."""
    try:
        current = (directory / "current").read_text().strip()
        keys = {
            path.name: _key_bytes(path.name, path.read_text(), str(directory))
            for path in sorted(directory.iterdir())
            if path.is_file() and path.name != "current" and not path.name.startswith(".")
        }
    except OSError as exc:
        raise MasterKeyError(f"cannot read the master key from COUNSEL_MASTER_KEY_DIR: {exc}") from exc
    if current not in keys:
        raise MasterKeyError(f"{directory}/current names {current!r}, which has no key file there")
    return StaticMasterKey(current, {current: keys[current], **keys})


def master_key(settings: Settings) -> StaticMasterKey:
    """This process's master key: `COUNSEL_MASTER_KEY_DIR` (a mounted secret), else `COUNSEL_MASTER_KEY`.
    Outside prod, with neither set, one derived from COUNSEL_SECRET_KEY (version `dev`), so a laptop and the
    tests need no extra secret. MasterKeyError, naming the variables, when prod has none."""
    if settings.master_key_dir:
        return mounted_master_key(Path(settings.master_key_dir))
    if settings.master_key.get_secret_value():
        return local_master_key(settings.master_key.get_secret_value())
    if settings.env != "prod" and settings.secret_key:
        derived = HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=b"counsel/dev-master-key").derive(
            settings.secret_key.encode()
        )
        return StaticMasterKey("dev", {"dev": derived})
    raise MasterKeyError(
        "COUNSEL_MASTER_KEY (or COUNSEL_MASTER_KEY_DIR) must hold the master key (outside prod COUNSEL_SECRET_KEY "
        "may stand in): without it no personal data or case material can be sealed, and none is ever written "
        "in clear"
    )


# --- data keys -------------------------------------------------------------------------------------------
def define_data_keys_table(metadata: MetaData) -> Table:
    """The `data_keys` table of a service that seals fields (its models call this on its own metadata; its
    migration calls `create_data_keys_table`)."""
    return Table(
        "data_keys",
        metadata,
        Column("subject", Text, primary_key=True),  # tenant:<id> | user:<id> | address:<index>
        Column("master_version", Text, nullable=False),
        Column("wrapped", LargeBinary, nullable=False),  # nonce ‖ AES-GCM(master, key), subject as AAD
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("rewrapped_at", DateTime(timezone=True)),
    )


def create_data_keys_table(connection: object) -> None:
    """In a service's migration: `create_data_keys_table(op.get_bind())`."""
    metadata = MetaData()
    define_data_keys_table(metadata).create(connection)  # type: ignore[arg-type]


def tenant_subject(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def user_subject(user_id: str) -> str:
    return f"user:{user_id}"


def address_subject(address_index: str) -> str:
    """Whose key seals what was sent to a phone or an e-mail address (`crypto.address_index`): the address's
    own, since a code goes to a phone before any account exists; erasing the person destroys it."""
    return f"address:{address_index}"


def owner_subject(tenant_id: str, user_id: str) -> str:
    """Whose key seals a client's case material: their enterprise's when they belong to one (the enterprise
    is the client; its deletion shreds it), their own otherwise. A person's contact details and login
    places always use `user_subject`: their erasure must reach them inside an enterprise too."""
    return tenant_subject(tenant_id) if tenant_id else user_subject(user_id)


def _wrap(master: bytes, subject: str, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(_kek(master)).encrypt(nonce, key, subject.encode())


def _unwrap(master: bytes, subject: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(_kek(master)).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], subject.encode())
    except InvalidTag:
        raise MasterKeyError(
            f"the master key does not open the data key of {subject}: COUNSEL_MASTER_KEY is not the key "
            "this database's data keys were wrapped with"
        ) from None


def _kek(master: bytes) -> bytes:
    return HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=_WRAP_INFO).derive(master)


class SubjectCipher:
    """Seals and opens the fields of one subject with its data key. `field` names what the value is
    (`users.email`, `orders.requirements.<name>`): a value opens only as the field it was sealed as."""

    def __init__(self, subject: str, key: bytes | None) -> None:
        self.subject = subject
        self._aead = AESGCM(key) if key is not None else None

    def seal(self, field: str, plaintext: str) -> str:
        """`dk1:<base64>`; "" stays "" (an empty field reveals nothing and needs no key). KeyDestroyed when
        the subject's key is gone: nothing is written about a shredded subject."""
        if not plaintext:
            return ""
        return SEALED_PREFIX + base64.b64encode(self.seal_bytes(field, plaintext.encode())).decode()

    def open(self, field: str, token: str) -> str:
        """The plaintext `seal` sealed as `field`; "" for "". KeyDestroyed once shredded; SealError for a
        value not sealed for this subject and field."""
        if not token:
            return ""
        if not token.startswith(SEALED_PREFIX):
            raise SealError(f"{field} is not a sealed value")
        try:
            raw = base64.b64decode(token[len(SEALED_PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SealError(f"{field} is not valid base64") from exc
        return self.open_bytes(field, raw).decode()

    def seal_bytes(self, field: str, plaintext: bytes) -> bytes:
        """`nonce ‖ ciphertext ‖ tag` of `plaintext` (a file's segment, see services/runtime/sealed_files.py).
        KeyDestroyed when the subject's key is gone."""
        if self._aead is None:
            raise KeyDestroyed(f"the data key of {self.subject} was destroyed")
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, self._aad(field))

    def open_bytes(self, field: str, sealed: bytes) -> bytes:
        """What `seal_bytes` sealed as `field`. KeyDestroyed once shredded; SealError when altered or sealed
        for another subject or field."""
        if self._aead is None:
            raise KeyDestroyed(f"the data key of {self.subject} was destroyed")
        if len(sealed) < NONCE_BYTES + TAG_BYTES:
            raise SealError(f"{field} is too short to be sealed")
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], self._aad(field))
        except InvalidTag:
            raise SealError(f"{field} was altered or sealed for another subject or field") from None

    def open_or(self, field: str, token: str, shredded: str) -> str:
        """`open`, with `shredded` in place of a value whose key was destroyed (what a kept record shows)."""
        try:
            return self.open(field, token)
        except KeyDestroyed:
            return shredded

    @property
    def destroyed(self) -> bool:
        return self._aead is None

    def _aad(self, field: str) -> bytes:
        return f"{self.subject}\x00{field}".encode()


class DataKeys:
    """A service's data keys: created on first use, unwrapped once and cached, destroyed on erasure.

    Resolve a subject's cipher *before* opening the transaction that writes the sealed value: a new key is
    committed in its own short transaction first, so no rolled-back transaction leaves a cached key that
    the database never stored (its data would be unreadable after a restart)."""

    def __init__(self, db: Database, master: MasterKey, table: Table) -> None:
        self.db = db
        self.master = master
        self.table = table
        self._cache: dict[str, tuple[float, SubjectCipher]] = {}

    async def check(self) -> None:
        """At start: MasterKeyError unless the master key opens a data key of this database (any one: all
        were wrapped by the versions it lists), so a wrong key stops the process before it serves."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(self.table.c.subject, self.table.c.master_version, self.table.c.wrapped)
                    .where(self.table.c.wrapped != b"")
                    .limit(1)
                )
            ).first()
        if row is not None:
            _unwrap(self.master.version(row.master_version), row.subject, row.wrapped)

    async def cipher(self, subject: str) -> SubjectCipher:
        """The cipher of `subject`, creating its data key on first use (never re-created once destroyed: a
        shredded subject's cipher refuses to seal)."""
        cached = self._cache.get(subject)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.engine.begin() as conn:
            cipher = await self._load(conn, subject, create=True)
        self._cache[subject] = (time.monotonic() + CACHE_SECONDS, cipher)
        return cipher

    async def _load(self, conn: AsyncConnection, subject: str, *, create: bool) -> SubjectCipher:
        t = self.table
        row = (
            await conn.execute(select(t.c.master_version, t.c.wrapped).where(t.c.subject == subject))
        ).first()
        if row is not None:
            if not row.wrapped:
                return SubjectCipher(subject, None)
            return SubjectCipher(
                subject, _unwrap(self.master.version(row.master_version), subject, row.wrapped)
            )
        key = os.urandom(KEY_BYTES)
        current = self.master.current
        inserted = await conn.execute(
            pg_insert(t)
            .values(
                subject=subject,
                master_version=current,
                wrapped=_wrap(self.master.version(current), subject, key),
            )
            .on_conflict_do_nothing()
            .returning(t.c.subject)
        )
        if inserted.first() is None:  # another process created it in the meantime: use theirs
            return await self._load(conn, subject, create=False)
        return SubjectCipher(subject, key)

    async def renewed(self, subject: str) -> SubjectCipher:
        """The cipher of `subject`, with a new data key when its key was destroyed: for a subject someone new
        may take on after an erasure (a phone number, an e-mail address). What the old key sealed stays
        unreadable; a person's or an enterprise's subject is never renewed."""
        cipher = await self.cipher(subject)
        if not cipher.destroyed:
            return cipher
        key = os.urandom(KEY_BYTES)
        current = self.master.current
        t = self.table
        async with self.db.engine.begin() as conn:
            renewed = await conn.execute(
                update(t)
                .where(t.c.subject == subject, t.c.wrapped == b"")
                .values(master_version=current, wrapped=_wrap(self.master.version(current), subject, key))
                .returning(t.c.subject)
            )
            if renewed.first() is None:  # another process renewed it in the meantime: use theirs
                cipher = await self._load(conn, subject, create=False)
            else:
                cipher = SubjectCipher(subject, key)
        self._cache[subject] = (time.monotonic() + CACHE_SECONDS, cipher)
        return cipher

    async def destroy(self, subject: str, conn: AsyncConnection | None = None) -> None:
        """Crypto-shred `subject`: its data key is overwritten with nothing, so every value it sealed — here,
        in the WAL, in backups — stays unreadable; the row stays as the record that it was shredded (and so
        that no new key is ever made for it). Idempotent. Pass the erasure consumer's connection to shred in
        the transaction that records the event."""
        statement = (
            update(self.table)
            .where(self.table.c.subject == subject)
            .values(wrapped=b"", rewrapped_at=func.now())
        )
        if conn is None:
            async with self.db.engine.begin() as own:
                await self._shred(own, subject, statement)
        else:
            await self._shred(conn, subject, statement)
        self._cache[subject] = (time.monotonic() + CACHE_SECONDS, SubjectCipher(subject, None))

    async def _shred(self, conn: AsyncConnection, subject: str, statement: object) -> None:
        result = await conn.execute(statement)  # type: ignore[call-overload]
        if not result.rowcount:
            await conn.execute(
                pg_insert(self.table)
                .values(subject=subject, master_version=self.master.current, wrapped=b"")
                .on_conflict_do_nothing()
            )

    async def rewrap(self) -> int:
        """Re-wrap every data key not wrapped by the current master version with it (rotation); the data
        stays as it is. Returns how many were re-wrapped. MasterKeyError when an old version is missing."""
        t = self.table
        current = self.master.current
        count = 0
        async with self.db.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(t.c.subject, t.c.master_version, t.c.wrapped)
                    .where(t.c.master_version != current)
                    .with_for_update()
                )
            ).all()
            for row in rows:
                wrapped = b""
                if row.wrapped:
                    key = _unwrap(self.master.version(row.master_version), row.subject, row.wrapped)
                    wrapped = _wrap(self.master.version(current), row.subject, key)
                await conn.execute(
                    update(t)
                    .where(t.c.subject == row.subject)
                    .values(master_version=current, wrapped=wrapped, rewrapped_at=func.now())
                )
                count += 1
        self._cache.clear()
        return count
