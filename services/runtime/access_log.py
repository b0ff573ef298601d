"""Staff access to a client's case material, written where the material lives (R-PRIV-1, issue 20).

Every read of another person's case material by staff (lawyer, agent, reviewer, supervisor, a firm's
system) appends one record to the owning service's `staff_access_log`: who, what, when and why (the case it
was read for). The log is append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and hash-chained: each
record's hash is SHA-256 over the previous record's hash and its own canonical form, so an altered or removed
record breaks every later link. An anchor — the chain's head, signed with HMAC-SHA256 under a key derived
from `COUNSEL_SECRET_KEY` — is written to `staff_access_anchors` and published as an event, so rewriting the
tail (and recomputing its hashes) no longer matches a signed head. `counsel audit verify` checks both, and the
chain and the anchors table against the anchors published (a copy outside the database): rewriting a tail
together with its anchor rows, or deleting or altering an anchor row, no longer goes unseen."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, Table, Text, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.access_log_pb2 import AccessLogAnchored, StaffAccess
from services.runtime.context import Principal
from services.runtime.crypto import derive_key
from services.runtime.db import Database, after_commit
from services.runtime.events import Outbox
from services.runtime.records import utcnow
from services.runtime.tenancy import signed_in

GENESIS_HASH = "0" * 64
ANCHOR_KEY_ID = "secret-key/v1"
_ANCHOR_INFO = b"counsel/access-log-anchor/v1"
# Serialises appends within a service's database, so the chain never forks.
_APPEND_LOCK = 0x5AFF_ACCE


@dataclass(frozen=True)
class AccessLogTables:
    log: Table
    anchors: Table


def define_access_log_tables(metadata: MetaData) -> AccessLogTables:
    """The staff access log and its anchors on a service's metadata (its migration calls
    `create_access_log_tables`)."""
    log = Table(
        "staff_access_log",
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),  # 1, 2, … with no gap
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor_id", Text, nullable=False),
        Column("actor_roles", Text, nullable=False),  # sorted, comma-separated
        Column("owner_id", Text, nullable=False),  # the client whose material was read
        Column("tenant_id", Text, nullable=False),
        Column("resource", Text, nullable=False),  # e.g. consultation, document_version
        Column("resource_id", Text, nullable=False),
        Column("case_id", Text, nullable=False),  # why: the case it was read for
        Column("prev_hash", Text, nullable=False),
        Column("hash", Text, nullable=False),
        Index("staff_access_log_owner_idx", "owner_id", "seq"),
    )
    anchors = Table(
        "staff_access_anchors",
        metadata,
        Column("head_seq", BigInteger, primary_key=True, autoincrement=False),
        Column("head_hash", Text, nullable=False),
        Column("anchored_at", DateTime(timezone=True), nullable=False),
        Column("key_id", Text, nullable=False),
        Column("signature", Text, nullable=False),
    )
    return AccessLogTables(log, anchors)


def create_access_log_tables(connection: object) -> None:
    """In a service's migration: `create_access_log_tables(op.get_bind())` — both tables, append-only."""
    metadata = MetaData()
    tables = define_access_log_tables(metadata)
    metadata.create_all(connection)  # type: ignore[arg-type]
    execute = connection.exec_driver_sql  # type: ignore[attr-defined]
    execute(
        "CREATE FUNCTION staff_access_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
    )
    for table in (tables.log.name, tables.anchors.name):
        execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION staff_access_append_only()"
        )
        execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION staff_access_append_only()"
        )


def drop_access_log_tables(connection: object) -> None:
    execute = connection.exec_driver_sql  # type: ignore[attr-defined]
    execute("DROP TABLE staff_access_anchors, staff_access_log")
    execute("DROP FUNCTION staff_access_append_only()")


def is_staff_access(principal: Principal | None, owner_id: str, tenant_id: str) -> bool:
    """Whether `principal` reading material of `owner_id` (of enterprise `tenant_id`) is staff access: anyone
    but the owner and the clients of the owner's own enterprise (a client's own reads are not logged)."""
    if principal is None or principal.user_id == owner_id:
        return False
    return not (principal.is_client and principal.tenant_id == tenant_id)


def record_hash(prev_hash: str, record: dict[str, object]) -> str:
    """SHA-256 (hex) over the previous hash and the record's canonical JSON (`prev_hash` and `hash` left out)."""
    fields = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}
    fields = {k: v for k, v in fields.items() if k not in ("prev_hash", "hash")}
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class Case(Protocol):
    """The case a read is for: a consultation, a document order, a booking, an order (its row)."""

    id: str
    client_id: str
    tenant_id: str


@dataclass(frozen=True)
class StaffReads:
    """The staff access log of `service` (`tables` on its own metadata)."""

    service: str
    tables: AccessLogTables

    async def record(
        self, session: AsyncSession, principal: Principal | None, resource: str, resource_id: str, case: Case
    ) -> bool:
        """Record the read of `resource`/`resource_id` (material of `case`'s client, read for `case`) by
        `principal` — unless it is not staff access (`is_staff_access`). Returns whether a record is written:
        appended once the read's transaction (`session`, of `Database.transaction`) has committed and before
        that transaction returns to the read, so nothing read is answered before its record is committed; a
        read whose transaction fails is not recorded. The appends of one process's concurrent reads share
        one lock, transaction and commit (`_GroupAppend`)."""
        owner_id, tenant_id = case.client_id, case.tenant_id
        if principal is None or not is_staff_access(principal, owner_id, tenant_id):
            return False
        entry: dict[str, object] = {
            "at": utcnow(),
            "actor_id": principal.user_id,
            "actor_roles": ",".join(sorted(principal.roles)),
            "owner_id": owner_id,
            "tenant_id": tenant_id,
            "resource": resource,
            "resource_id": resource_id,
            "case_id": case.id,
        }
        appends = self._group_append(session)
        after_commit(session, lambda: appends.append(entry))
        return True

    def _group_append(self, session: AsyncSession) -> _GroupAppend:
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        found = _GROUP_APPENDS.get(engine.sync_engine)
        if found is None:
            found = _GROUP_APPENDS[engine.sync_engine] = _GroupAppend(engine, self.tables.log)
        return found

    async def of_caller(self, db: Database, principal: Principal | None, limit: int) -> list[StaffAccess]:
        """The signed-in caller's own entries (`GET /api/v1/me/access-log`), newest first; Unauthenticated
        without a caller."""
        caller = signed_in(principal, "see who read your case material")
        async with db.transaction() as session:
            return await self.of_owner(session, caller.user_id, limit)

    async def of_owner(self, session: AsyncSession, owner_id: str, limit: int) -> list[StaffAccess]:
        """Who among staff read `owner_id`'s material, newest first."""
        log = self.tables.log
        rows = await session.execute(
            select(log).where(log.c.owner_id == owner_id).order_by(log.c.seq.desc()).limit(limit)
        )
        entries = []
        for row in rows:
            entry = StaffAccess(
                actor_id=row.actor_id,
                actor_roles=row.actor_roles.split(","),
                service=self.service,
                resource=row.resource,
                resource_id=row.resource_id,
                case_id=row.case_id,
            )
            entry.at.FromDatetime(row.at)
            entries.append(entry)
        return entries

    async def anchor(self, session: AsyncSession, secret_key: str) -> Anchor | None:
        """Sign the chain's head and keep the anchor (None when the log is empty or the head is anchored
        already). The caller publishes it too, so a copy lives outside this database."""
        log, anchors = self.tables.log, self.tables.anchors
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
        head = (
            await session.execute(select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1))
        ).first()
        if head is None:
            return None
        if (await session.execute(select(anchors.c.head_seq).where(anchors.c.head_seq == head.seq))).first():
            return None
        anchor = Anchor(
            head.seq, head.hash, utcnow(), ANCHOR_KEY_ID, anchor_signature(secret_key, head.seq, head.hash)
        )
        await session.execute(insert(anchors).values(**asdict(anchor)))
        return anchor


class _GroupAppend:
    """Appends the records of one process's staff reads to the chain of one database, in groups: the
    records that arrive while a group commits form the next group, written under the chain's lock in one
    transaction with one commit (group commit). Each read waits for its group's commit, so the cost of the
    lock — held only for the group's insert and commit, in a transaction of its own — is shared by every
    read waiting, instead of each read holding it through its own transaction."""

    def __init__(self, engine: AsyncEngine, log: Table) -> None:
        self.engine = engine
        self.log = log
        self._waiting: list[tuple[dict[str, object], asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def append(self, entry: dict[str, object]) -> None:
        """Append `entry` (a record without its seq and hashes); returns once it is committed."""
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entry, committed))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_groups())
        await asyncio.shield(committed)  # a read given up on leaves its record to be written all the same

    async def _write_groups(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._write([entry for entry, _ in group])
            except Exception as exc:
                for _, committed in group:
                    committed.set_exception(exc)
            else:
                for _, committed in group:
                    committed.set_result(None)

    async def _write(self, entries: list[dict[str, object]]) -> None:
        log = self.log
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
            head = (
                await conn.execute(select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1))
            ).first()
            seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
            rows = []
            for entry in entries:
                seq += 1
                record = {"seq": seq, **entry}
                hashed = record_hash(prev_hash, record)
                rows.append({**record, "prev_hash": prev_hash, "hash": hashed})
                prev_hash = hashed
            await conn.execute(insert(log), rows)


# One group append per database engine of this process (a service has one).
_GROUP_APPENDS: weakref.WeakKeyDictionary[Engine, _GroupAppend] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Anchor:
    head_seq: int
    head_hash: str
    anchored_at: datetime
    key_id: str
    signature: str


async def keep_anchoring(
    db: Database, outbox: Outbox, staff_reads: StaffReads, secret_key: str, every_seconds: float
) -> None:
    """Every `every_seconds`, `anchor_and_publish` (a background task of the service; several replicas
    write one anchor per head)."""
    while True:
        await asyncio.sleep(every_seconds)
        await anchor_and_publish(db, outbox, staff_reads, secret_key)


async def anchor_and_publish(db: Database, outbox: Outbox, staff_reads: StaffReads, secret_key: str) -> None:
    """Anchor the log's head and publish `<service>.access_log.anchored` in the same transaction."""
    async with db.transaction() as session:
        anchor = await staff_reads.anchor(session, secret_key)
        if anchor is None:
            return
        event = AccessLogAnchored(
            head_seq=anchor.head_seq,
            head_hash=anchor.head_hash,
            key_id=anchor.key_id,
            signature=anchor.signature,
        )
        event.anchored_at.FromDatetime(anchor.anchored_at)
        await outbox.add(session, "access_log.anchored", event, aggregate_id=str(anchor.head_seq))


def anchor_signature(secret_key: str, head_seq: int, head_hash: str) -> str:
    """HMAC-SHA256 (hex) of a chain head under the anchor key derived from `COUNSEL_SECRET_KEY`."""
    key = derive_key(secret_key.encode(), _ANCHOR_INFO)
    return hmac.new(key, f"{head_seq}:{head_hash}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    records: int
    anchors: int
    problem: str = ""  # empty when intact; else names the first broken record or anchor

    @property
    def intact(self) -> bool:
        return not self.problem


def published_anchor(event: AccessLogAnchored) -> Anchor:
    """An anchor as `keep_anchoring` published it (`<service>.access_log.anchored`)."""
    return Anchor(
        event.head_seq,
        event.head_hash,
        event.anchored_at.ToDatetime(tzinfo=UTC),
        event.key_id,
        event.signature,
    )


async def verify(
    session: AsyncSession, tables: AccessLogTables, secret_key: str, published: Sequence[Anchor] = ()
) -> ChainReport:
    """Walk the chain in seq order and check every anchor: the first record whose seq, link or hash is wrong;
    then the anchors `published` (read from the event stream, outside this database): one whose signature
    is wrong, whose head is no longer in the chain as signed (a tail rewritten together with its anchor
    rows), or that the anchors table no longer holds as published (a row deleted or altered); then the
    table's own anchors: a wrong signature or a head no longer in the chain as signed."""
    log, anchors = tables.log, tables.anchors
    hashes: dict[int, str] = {}
    expected_prev, count = GENESIS_HASH, 0
    for row in await session.execute(select(log).order_by(log.c.seq)):
        record = dict(row._mapping)
        seq = int(record["seq"])
        if seq != count + 1:
            return ChainReport(count, 0, f"record {count + 1} is missing (found {seq} next)")
        if record["prev_hash"] != expected_prev:
            return ChainReport(count, 0, f"record {seq}: prev_hash is not the previous record's hash")
        if record_hash(expected_prev, record) != record["hash"]:
            return ChainReport(count, 0, f"record {seq} was altered after it was written")
        expected_prev = hashes[seq] = str(record["hash"])
        count += 1
    kept = {row.head_seq: row for row in await session.execute(select(anchors))}
    for sent in sorted(published, key=lambda anchor: anchor.head_seq):
        if problem := _published_problem(sent, secret_key, hashes, count, kept.get(sent.head_seq)):
            return ChainReport(count, 0, problem)
    checked = 0
    for anchor in await session.execute(select(anchors).order_by(anchors.c.head_seq)):
        if not hmac.compare_digest(
            anchor.signature, anchor_signature(secret_key, anchor.head_seq, anchor.head_hash)
        ):
            return ChainReport(count, checked, f"anchor of record {anchor.head_seq}: bad signature")
        if hashes.get(anchor.head_seq) != anchor.head_hash:
            return ChainReport(
                count,
                checked,
                f"record {anchor.head_seq} no longer matches its signed anchor (tail rewritten)",
            )
        checked += 1
    return ChainReport(count, checked)


def _published_problem(
    sent: Anchor, secret_key: str, hashes: dict[int, str], count: int, kept: Any | None
) -> str:
    """What is wrong with the chain or the anchors table against the anchor `sent` to the stream ("" if
    nothing): `kept` is the table's row of the same head, `hashes` the chain's hash by seq."""
    seq = sent.head_seq
    if not hmac.compare_digest(sent.signature, anchor_signature(secret_key, seq, sent.head_hash)):
        return f"published anchor of record {seq}: bad signature"
    if seq > count:
        return (
            f"record {seq} was anchored and published, but the chain ends at record {count} (tail rewritten)"
        )
    if hashes[seq] != sent.head_hash:
        return f"record {seq} no longer matches its published anchor (tail rewritten)"
    if kept is None:
        return f"anchor of record {seq} was published but is missing from the database (deleted)"
    if (kept.head_hash, kept.key_id, kept.signature) != (sent.head_hash, sent.key_id, sent.signature):
        return f"anchor of record {seq} differs from the one published (altered)"
    return ""
