"""Signed cooperation agreements and lawyers' certificate scans in the JetStream Object Store bucket
`qualifications` (replicas from settings); each object's SHA-256 lives in PostgreSQL beside its firm or
lawyer (§4.1.2, §4.2.1). Only the catalog reads or writes the bucket; `counsel migrate` creates it."""

from __future__ import annotations

import hashlib

from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.object_store import ObjectStore

BUCKET = "qualifications"


class QualificationFiles:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> QualificationFiles:
        """The bucket, created when it is missing (with NATS authorization on, only `counsel migrate` may)."""
        try:
            store = await js.object_store(BUCKET)
        except BucketNotFoundError:
            store = await js.create_object_store(
                BUCKET,
                config=ObjectStoreConfig(
                    description="firm agreements and lawyer credentials",
                    storage=StorageType.FILE,
                    replicas=replicas,
                ),
            )
        return cls(store)

    async def put(self, name: str, content: bytes) -> str:
        """Store `content` as `name` (replacing an earlier object of that name); its SHA-256 in hex."""
        await self.store.put(name, content)
        return hashlib.sha256(content).hexdigest()
