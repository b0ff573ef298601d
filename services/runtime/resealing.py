"""Sealing anew at start, with a person's data key, what the secret-key `FieldCipher` sealed before data keys
existed (`v1:` values): notification's contact addresses, identity's e-mails, phones and logins' places
(docs/privacy.md). Migrations never hold the master key, so a service does it before it serves: a batch of
rows per transaction, locked `FOR UPDATE SKIP LOCKED` by the caller's query, so replicas starting together
share the work and a second start finds nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import Row, TextClause
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.keys import SubjectCipher

BATCH = 500  # rows per transaction: the `LIMIT` of each caller's query
FORMER = "v1:"  # FieldCipher's values
FORMER_PATTERN = FORMER + "%"  # for the callers' `LIKE`


def sealed_anew(cipher: SubjectCipher, former: FieldCipher, field: str, value: str) -> str:
    """`value` sealed with `cipher` as `field` when `former` sealed it, else as it is. A shredded person's
    leftover goes (""): nothing can be sealed for them any more."""
    if not value.startswith(FORMER):
        return value
    return "" if cipher.destroyed else cipher.seal(field, former.decrypt(value))


async def in_batches(
    db: Database,
    query: TextClause,
    params: Mapping[str, Any],
    seal_row: Callable[[AsyncConnection, Row[Any]], Awaitable[None]],
) -> int:
    """Run `query` (its rows still to seal, `LIMIT BATCH FOR UPDATE SKIP LOCKED`) and `seal_row` on each row,
    a transaction a batch, until it finds none; returns how many rows were sealed."""
    changed = 0
    while True:
        async with db.engine.begin() as conn:
            rows = (await conn.execute(query, params)).all()
            for row in rows:
                await seal_row(conn, row)
        if not rows:
            return changed
        changed += len(rows)
