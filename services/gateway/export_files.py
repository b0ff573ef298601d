"""Exports produced in the background (issue 20 item 5; docs/privacy.md, "Export"): a large export (or one
asked for with `Prefer: respond-async`) is answered 202 with a link at once and written, sealed, into the
JetStream Object Store bucket `exports`, where it lives `LINK_TTL` and then is gone (the bucket's own
max age removes it; the link answers 404 from its expiry on, as it does for anyone but its owner).

An object is named by an unguessable id and carries its owner, its state (`pending` while the gateway writes
it, then `ready` or `failed`), its media type and its expiry as headers. Its bytes are sealed with
AES-256-GCM under a key derived from the master key (the version travels in a header), the export id and the
owner bound as associated data, so the bucket's files, backups and replicas hold no personal data in clear."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, Self

import nats
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectStoreConfig, StorageType
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from services.runtime.config import Settings
from services.runtime.events import connect_nats
from services.runtime.keys import KEY_BYTES, NONCE_BYTES, MasterKey, master_key
from services.runtime.object_store import open_bucket
from services.runtime.records import utcnow

log = logging.getLogger(__name__)

BUCKET = "exports"
# How long an export link works: a day to come back for it, short enough that a copy of everything about a
# person does not linger.
LINK_TTL = timedelta(hours=24)
# Above this size (the JSON document, plus the files for a ZIP) the export is produced in the background.
INLINE_LIMIT_BYTES = 8 * 1024 * 1024
_INFO = b"counsel/exports/v1"
# Header names of an export object.
OWNER, STATE, MEDIA_TYPE, EXPIRES, KEY_VERSION = (
    "Counsel-Owner",
    "Counsel-State",
    "Counsel-Media-Type",
    "Counsel-Expires",
    "Counsel-Key-Version",
)

State = Literal["pending", "ready", "failed"]


class Bucket(Protocol):
    """What ExportFiles uses of a nats-py ObjectStore (tests pass an in-memory one)."""

    async def put(self, name: str, data: bytes, meta: ObjectMeta | None = None) -> Any: ...

    async def get(self, name: str) -> Any:
        """An object with `.info.headers` and `.data`; ObjectNotFoundError when there is none."""
        ...


@dataclass(frozen=True)
class Export:
    """A stored export as its owner sees it; `content` is the opened bytes once `state` is ready."""

    id: str
    state: State
    media_type: str
    expires_at: datetime
    content: bytes = b""


class ExportFiles:
    def __init__(self, store: Bucket, master: MasterKey, nc: nats.NATS | None = None) -> None:
        self.store = store
        self._nc = nc
        self._current = master.current
        self._keys = {
            version: AESGCM(
                HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=_INFO).derive(master.version(version))
            )
            for version in master.versions
        }

    @staticmethod
    async def bucket(js: JetStreamContext, replicas: int) -> ObjectStore:
        config = ObjectStoreConfig(
            description="personal-data exports, sealed, kept until their link expires",
            ttl=LINK_TTL.total_seconds(),
            storage=StorageType.FILE,
            replicas=replicas,
        )
        return await open_bucket(js, BUCKET, config)

    @classmethod
    async def connect(cls, settings: Settings) -> Self | None:
        """Ready, or None when NATS cannot be reached (large exports are then refused as unavailable)."""
        nc: nats.NATS | None = None
        try:
            nc = await connect_nats(settings, "counsel-gateway-exports", connect_timeout=2)
            store = await cls.bucket(nc.jetstream(), settings.jetstream_replicas)
        except Exception:
            log.warning("exports bucket unreachable: large exports are refused until restart", exc_info=True)
            if nc is not None:
                await nc.close()
            return None
        return cls(store, master_key(settings), nc)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()

    async def start(self, owner: str, media_type: str) -> Export:
        """A new pending export of `owner`, expiring `LINK_TTL` from now."""
        export = Export(secrets.token_urlsafe(24), "pending", media_type, utcnow() + LINK_TTL)
        await self._put(export, owner, b"")
        return export

    async def finish(self, export: Export, owner: str, content: bytes) -> None:
        await self._put(Export(export.id, "ready", export.media_type, export.expires_at), owner, content)

    async def fail(self, export: Export, owner: str) -> None:
        await self._put(Export(export.id, "failed", export.media_type, export.expires_at), owner, b"")

    async def get(self, export_id: str, owner: str) -> Export | None:
        """The export, or None when there is none, it is someone else's, or it has expired."""
        try:
            found = await self.store.get(export_id)
        except ObjectNotFoundError:
            return None
        headers = (found.info.headers or {}) if found.info else {}
        if headers.get(OWNER) != owner:
            return None
        expires_at = datetime.fromisoformat(headers[EXPIRES])
        if expires_at <= utcnow():
            return None
        export = Export(export_id, headers[STATE], headers[MEDIA_TYPE], expires_at)  # type: ignore[arg-type]
        if export.state != "ready":
            return export
        sealed = found.data or b""
        aead = self._keys.get(headers.get(KEY_VERSION, ""))
        if aead is None:
            log.error("an export is sealed with a master key version no longer held", extra={"id": export_id})
            return None
        try:
            content = aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _bound(export_id, owner))
        except InvalidTag:
            log.error("an export does not open: altered or another owner's", extra={"id": export_id})
            return None
        return Export(export.id, export.state, export.media_type, export.expires_at, content)

    async def _put(self, export: Export, owner: str, content: bytes) -> None:
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._keys[self._current].encrypt(nonce, content, _bound(export.id, owner))
        headers = {
            OWNER: owner,
            STATE: export.state,
            MEDIA_TYPE: export.media_type,
            EXPIRES: export.expires_at.isoformat(),
            KEY_VERSION: self._current,
        }
        await self.store.put(export.id, sealed, meta=ObjectMeta(name=export.id, headers=headers))


def _bound(export_id: str, owner: str) -> bytes:
    return f"{export_id}\n{owner}".encode()
