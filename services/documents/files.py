"""Document files in the JetStream Object Store bucket `documents` (replicas from settings); the metadata and
SHA-256 of every object live in PostgreSQL beside the version (R-DOC-6)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from services.runtime.errors import NotFound
from services.runtime.object_store import open_bucket

log = logging.getLogger(__name__)

BUCKET = "documents"


class DocumentFiles:
    def __init__(self, store: ObjectStore, js: JetStreamContext) -> None:
        self.store = store
        self.js = js

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> DocumentFiles:
        config = ObjectStoreConfig(
            description="document versions", storage=StorageType.FILE, replicas=replicas
        )
        return cls(await open_bucket(js, BUCKET, config), js)

    async def put(self, name: str, content: bytes) -> None:
        await self.store.put(name, content)

    async def chunks(self, name: str) -> AsyncIterator[bytes]:
        """The object's bytes chunk by chunk, in order, each read from the bucket's stream only when the
        caller asks for it: a download holds one chunk (128 KiB by default) in memory, whatever the size."""
        try:
            info = await self.store.get_info(name)
        except ObjectNotFoundError as exc:
            raise NotFound("the file of this version is missing") from exc
        if not info.size:
            return
        stream, subject = f"OBJ_{BUCKET}", f"$O.{BUCKET}.C.{info.nuid}"
        sequence = 1
        for _ in range(info.chunks or 0):
            message = await self.js.get_msg(stream, seq=sequence, subject=subject, next=True)
            yield message.data or b""
            sequence = (message.seq or sequence) + 1

    async def delete(self, name: str) -> None:
        """Remove an object whose version was never committed; a failure is logged, not raised."""
        try:
            await self.store.delete(name)
        except Exception:
            log.warning("could not delete an uncommitted document file", extra={"object": name})
