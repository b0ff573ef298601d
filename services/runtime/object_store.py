"""The JetStream Object Store buckets services keep their files in (documents, invoices, exports,
qualifications): each opened the same way."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig
from nats.js.errors import BucketNotFoundError
from nats.js.object_store import ObjectStore


async def open_bucket(js: JetStreamContext, bucket: str, config: ObjectStoreConfig) -> ObjectStore:
    """The bucket, created with `config` when it is missing (with NATS authorization on, only `counsel
    migrate` may create it: a service finds it there)."""
    try:
        return await js.object_store(bucket)
    except BucketNotFoundError:
        return await js.create_object_store(bucket, config=config)
