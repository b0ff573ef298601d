"""Rows written before a service sealed a column, sealed when it starts (docs/privacy.md): the one way every
service does it. Migrations never hold the master key, so each service calls `seal_clear_rows` at start,
before it serves: a batch of rows per transaction, locked `FOR UPDATE SKIP LOCKED` so replicas starting
together share the work, and a second run finds nothing. A clear leftover of a subject whose data key was
already destroyed is redacted instead (nothing can be sealed for it any more)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.db import Database
from services.runtime.erasure import ERASED_TEXT
from services.runtime.keys import SEALED_PREFIX, DataKeys, SubjectCipher, owner_subject

BATCH = 500
# The bind parameters every query of clear rows may use: erasure's redaction and the sealed values' prefix.
CLEAR_PARAMS = {"erased": ERASED_TEXT, "sealed": SEALED_PREFIX + "%"}

RowSealer = Callable[[AsyncConnection, SubjectCipher, Mapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class SealedColumns:
    """A table's sealed text columns and the query of its rows still holding a clear value — selecting `t.id`
    and the owner's `tenant_id` and `client_id` ("" for an enterprise's own record) — `{columns}` standing
    for the columns and `{clear}` for the condition on them. Values in `kept` stay in clear: facts the
    platform writes itself (a cancellation reason like `hold_expired`), not a person's words."""

    table: str
    columns: dict[str, str]  # column → field name (the associated data)
    rows: str
    kept: tuple[str, ...] = ()

    def query(self) -> str:
        clear = " OR ".join(
            f"(t.{column} <> '' AND t.{column} <> :erased AND t.{column} NOT LIKE :sealed "
            f"AND t.{column} <> ALL(:kept))"
            for column in self.columns
        )
        return self.rows.format(columns=", ".join(f"t.{c}" for c in self.columns), clear=f"({clear})")

    async def seal_row(self, conn: AsyncConnection, cipher: SubjectCipher, row: Mapping[str, Any]) -> None:
        updates = {
            column: sealed_value(cipher, field, row[column])
            for column, field in self.columns.items()
            if row[column] not in self.kept
        }
        assignments = ", ".join(f"{column} = :{column}" for column in updates)
        await conn.execute(
            text(f"UPDATE {self.table} SET {assignments} WHERE id = :id"), {**updates, "id": row["id"]}
        )


def sealed_value(cipher: SubjectCipher, field: str, value: str) -> str:
    """`value` sealed unless it is already, or empty, or erasure's redaction; a shredded subject's clear
    leftovers are redacted."""
    if not value or value == ERASED_TEXT or value.startswith(SEALED_PREFIX):
        return value
    return ERASED_TEXT if cipher.destroyed else cipher.seal(field, value)


async def seal_clear_rows(db: Database, keys: DataKeys, tables: Sequence[SealedColumns]) -> int:
    """Seal every value of `tables` still in clear, a batch per transaction; returns how many rows changed."""
    changed = 0
    for sealed in tables:
        changed += await seal_in_batches(
            db, keys, sealed.query(), {"kept": list(sealed.kept)}, sealed.seal_row
        )
    return changed


async def seal_in_batches(
    db: Database,
    keys: DataKeys,
    query: str,
    params: Mapping[str, Any],
    seal_row: RowSealer,
    batch: int = BATCH,
) -> int:
    """Run `query` (rows still holding a clear value, with `id`, `tenant_id` and `client_id`; it may use
    CLEAR_PARAMS) `batch` rows at a time and hand each row to `seal_row` with its owner's cipher, until none
    is left; returns how many rows it handed over. For columns that are not plain text (a JSON document's
    values) and for files. `seal_row` must leave a row out of `query`'s answer, or the loop never ends."""

    async def with_owner_cipher(conn: AsyncConnection, row: Row[Any]) -> None:
        values = dict(row._mapping)
        await seal_row(
            conn, await keys.cipher(owner_subject(values["tenant_id"], values["client_id"])), values
        )

    statement = text(f"{query} LIMIT {batch} FOR UPDATE OF t SKIP LOCKED")
    return await in_batches(db, statement, {**CLEAR_PARAMS, **params}, with_owner_cipher)


async def in_batches(
    db: Database,
    statement: TextClause,
    params: Mapping[str, Any],
    handle_row: Callable[[AsyncConnection, Row[Any]], Awaitable[None]],
) -> int:
    """The one batch loop of sealing at start: run `statement` (rows still to seal, `LIMIT … FOR UPDATE SKIP
    LOCKED`) and `handle_row` on each row, a transaction a batch, until it finds none; returns how many rows
    were handled. `handle_row` must leave a row out of `statement`'s answer, or the loop never ends."""
    changed = 0
    while True:
        async with db.engine.begin() as conn:
            rows = (await conn.execute(statement, params)).all()
            for row in rows:
                await handle_row(conn, row)
        if not rows:
            return changed
        changed += len(rows)
