"""A client's review text sealed with its owner's data key (R-PRIV-1, docs/privacy.md): `reviews.comment`,
under `owner_subject(the client's enterprise, the client)`. The stars stay in clear: they are the
products', lawyers' and firms' averages (R-Q-1).

The stores seal the comment in the transaction that writes it and return reviews opened, after their
transaction, so the public product page shows the text while the key exists. After the reviewer's erasure
it reads as ERASED_TEXT: their erasure redacts it (services/catalog/erasure.py) and, for an individual
client or an enterprise's last member, destroys the key."""

from __future__ import annotations

from sqlalchemy import text

from services.catalog.models import ReviewRow
from services.runtime import sealed_rows
from services.runtime.db import Database
from services.runtime.erasure import ERASED_TEXT, opened
from services.runtime.keys import DataKeys, owner_subject
from services.runtime.sealed_rows import SealedColumns

REVIEW_COMMENT = "reviews.comment"


def review_subject(row: ReviewRow) -> str:
    """Whose data key seals a review's text."""
    return owner_subject(row.tenant_id, row.client_id)


async def open_reviews(keys: DataKeys, *rows: ReviewRow) -> None:
    """Open `rows` in place (after their transaction: an opened value must never be flushed back)."""
    for row in rows:
        if row.comment and row.comment != ERASED_TEXT:  # erasure's redaction needs no key (nor its author)
            row.comment = opened(await keys.cipher(review_subject(row)), REVIEW_COMMENT, row.comment)


# --- rows written before sealing -------------------------------------------------------------------------
_SEALED_COLUMNS = (
    SealedColumns(
        "reviews",
        {"comment": REVIEW_COMMENT},
        "SELECT t.id, t.tenant_id, t.client_id, {columns} FROM reviews t WHERE t.client_id <> '' AND {clear}",
    ),
)


async def seal_clear_rows(db: Database, keys: DataKeys) -> int:
    """Seal every review text still in clear (written before catalog sealed it); returns how many rows
    changed (services/runtime/sealed_rows.py: at start, in batches, replicas sharing the work). The text of
    a review whose author was erased before (`client_id` "", their key unknown) is redacted instead."""
    async with db.engine.begin() as conn:
        redacted = await conn.execute(
            text(
                "UPDATE reviews SET comment = :erased WHERE client_id = '' AND comment <> '' "
                "AND comment <> :erased AND comment NOT LIKE :sealed"
            ),
            sealed_rows.CLEAR_PARAMS,
        )
    return redacted.rowcount + await sealed_rows.seal_clear_rows(db, keys, _SEALED_COLUMNS)
