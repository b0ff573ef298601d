"""Tables every service has in its own database: the transactional outbox, the consumer's record of
processed events, and idempotency keys. Defined per service metadata so registries never mix."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    text,
)


@dataclass(frozen=True)
class RuntimeTables:
    outbox: Table
    processed_events: Table
    idempotency_keys: Table


def define_runtime_tables(metadata: MetaData) -> RuntimeTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("event_id", Text, nullable=False, unique=True),
        Column("subject", Text, nullable=False),
        Column("payload", LargeBinary, nullable=False),  # a serialized counsel.common.v1.EventEnvelope
        Column("correlation_id", Text, nullable=False, server_default=""),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("outbox_unpublished_idx", "seq", postgresql_where=text("published_at IS NULL")),
    )
    processed_events = Table(
        "processed_events",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("event_id", Text, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("scope", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("request_hash", Text, nullable=False),
        Column("resource_id", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return RuntimeTables(outbox, processed_events, idempotency_keys)
