"""Small helpers every store and servicer shares: ids, timestamps, cursors and idempotency keys."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.errors import Conflict, InvalidArgument
from services.runtime.limits import INT64_MAX, INT64_MIN, text_problem
from services.runtime.tables import RuntimeTables

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """Proto Timestamp of an aware datetime; None stays None (the field is left unset)."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument.for_field("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_value(value: Any) -> bool:
    """Whether a decoded cursor value is one we could have issued and PostgreSQL can compare: text it can
    store, an integer it can hold (a crafted cursor is base64 JSON, which may say anything)."""
    if isinstance(value, str):
        return text_problem(value) is None
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    return False


def decode_cursor(cursor: str) -> list[Any]:
    """The values of an opaque keyset cursor; InvalidArgument on anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or not all(_cursor_value(v) for v in values):
            raise ValueError
        return values
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued") from exc


def cursor_time(value: Any) -> datetime:
    """A time read back from a cursor, aware as `encode_cursor` wrote it; InvalidArgument otherwise (a naive
    time cannot be compared with a timestamptz column)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued") from exc
    if parsed.tzinfo is None:
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued")
    return parsed


def time_keyset(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a keyset cursor of `encode_cursor(time, id)` carries; InvalidArgument otherwise."""
    values = decode_cursor(cursor)
    try:
        return cursor_time(values[0]), str(values[1])
    except (IndexError, TypeError, ValueError) as exc:
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued") from exc


def newest_first(statement: Any, created_at: Any, row_id: Any, cursor: str, limit: int) -> Any:
    """`statement` as one keyset page, newest first: rows older than the cursor, plus one more row so that
    `page_of` can tell whether another page follows. `created_at`/`row_id` are the model's columns."""
    if cursor:
        after, last_id = time_keyset(cursor)
        statement = statement.where(or_(created_at < after, and_(created_at == after, row_id < last_id)))
    return statement.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)


def page_of(rows: list[T], limit: int) -> tuple[list[T], str]:
    """The page of rows fetched by `newest_first` and the cursor of the next page ("" at the end)."""
    if len(rows) <= limit:
        return rows, ""
    last: Any = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)


async def every_page(read_page: Callable[[str], Awaitable[tuple[Sequence[T], str]]]) -> list[T]:
    """Every row of a paged read, oldest first: `read_page(cursor)` answers a page newest first (as
    `newest_first` does) and the next cursor, "" at the end. For a person's data export, which reads whole
    histories through the stores' own scoped reads."""
    rows: list[T] = []
    cursor = ""
    while True:
        page, cursor = await read_page(cursor)
        rows.extend(page)
        if not cursor:
            return rows[::-1]


def request_fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


async def claim_idempotency_key(
    session: AsyncSession, tables: RuntimeTables, scope: str, key: str, fingerprint: str, resource_id: str
) -> str | None:
    """Claim `key` for `resource_id` inside the creating transaction.

    Returns None when the key is new (go ahead and create), or the id created by the first request with
    the same key and the same body. Raises Conflict when the key was used for a different body.
    Concurrent requests with one key serialise on the key's row, so exactly one of them creates."""
    table = tables.idempotency_keys
    claimed = await session.execute(
        pg_insert(table)
        .values(scope=scope, key=key, request_hash=fingerprint, resource_id=resource_id)
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if claimed.first() is not None:
        return None
    row = (
        await session.execute(
            select(table.c.request_hash, table.c.resource_id).where(
                table.c.scope == scope, table.c.key == key
            )
        )
    ).one()
    if row.request_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used with a different request", reason="idempotency_key_reused"
        )
    return str(row.resource_id)
