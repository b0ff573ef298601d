"""Signed cooperation agreements and lawyers' certificate scans in the JetStream Object Store bucket
`qualifications` (replicas from settings); each object's SHA-256 lives in PostgreSQL beside its firm or
lawyer (§4.1.2, §4.2.1). Only the catalog reads or writes the bucket; `counsel migrate` creates it."""

from __future__ import annotations

import hashlib

from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.object_store import ObjectStore

from services.runtime.object_store import open_bucket

BUCKET = "qualifications"


class QualificationFiles:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> QualificationFiles:
        config = ObjectStoreConfig(
            description="firm agreements and lawyer credentials", storage=StorageType.FILE, replicas=replicas
        )
        return cls(await open_bucket(js, BUCKET, config))

    async def put(self, name: str, content: bytes) -> str:
        """Store `content` as `name` (replacing an earlier object of that name); its SHA-256 in hex."""
        await self.store.put(name, content)
        return hashlib.sha256(content).hexdigest()
