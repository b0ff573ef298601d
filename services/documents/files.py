"""Document files in the JetStream Object Store bucket `documents` (replicas from settings); the metadata and
SHA-256 of every object live in PostgreSQL beside the version (R-DOC-6)."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from services.runtime.errors import NotFound

log = logging.getLogger(__name__)

BUCKET = "documents"


class DocumentFiles:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> DocumentFiles:
        """The bucket, created on first use."""
        try:
            store = await js.object_store(BUCKET)
        except BucketNotFoundError:
            store = await js.create_object_store(
                BUCKET,
                config=ObjectStoreConfig(
                    description="document versions", storage=StorageType.FILE, replicas=replicas
                ),
            )
        return cls(store)

    async def put(self, name: str, content: bytes) -> None:
        await self.store.put(name, content)

    async def get(self, name: str) -> bytes:
        try:
            result = await self.store.get(name)
        except ObjectNotFoundError as exc:
            raise NotFound("the file of this version is missing") from exc
        return bytes(result.data or b"")

    async def delete(self, name: str) -> None:
        """Remove an object whose version was never committed; a failure is logged, not raised."""
        try:
            await self.store.delete(name)
        except Exception:
            log.warning("could not delete an uncommitted document file", extra={"object": name})
