"""Erasure of a user's personal data in documents (R-PRIV-1): see docs/erasure.md for what is kept.

A document order of the erased client stays (ids, product, tier clocks, stages, breaches, reviewers and the
approved versions' SHA-256) because the drafted documents are the firm's case file of a service it was paid
for; the client's own words go: the requirement answers (names, parties, facts of the case) and the
instructions of the revisions they asked for, and so do the words a supervisor typed as the reason for
cancelling one of their orders (the order keeps only `stated`, services/rules/reasons.reason_code). The
uploaded versions are kept (see the decision table)."""

from __future__ import annotations

import json

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.documents.models import DocumentOrderRow, DocumentRevisionRow, DocumentStageRow
from services.rules.reasons import STATED_REASON, reason_code
from services.runtime.erasure import ERASED_TEXT, redact_values


async def erase_user(session: AsyncSession, user_id: str) -> None:
    """Erase or pseudonymise `user_id`'s personal data, in the erasure consumer's transaction."""
    orders = (
        await session.exec(
            select(DocumentOrderRow).where(col(DocumentOrderRow.client_id) == user_id).with_for_update()
        )
    ).all()
    for order in orders:
        order.requirements_json = json.dumps(
            redact_values(json.loads(order.requirements_json or "{}")), ensure_ascii=False
        )
        session.add(order)
    await session.execute(
        update(DocumentRevisionRow)
        .where(
            col(DocumentRevisionRow.document_order_id).in_([o.id for o in orders])
            | (col(DocumentRevisionRow.requested_by) == user_id)
        )
        .values(instructions=ERASED_TEXT)
    )
    cancellations = (
        await session.exec(
            select(DocumentStageRow)
            .where(
                col(DocumentStageRow.document_order_id).in_([o.id for o in orders]),
                col(DocumentStageRow.stage) == "cancelled",
            )
            .with_for_update()
        )
    ).all()
    for cancelled in cancellations:
        if reason_code(cancelled.reason) == STATED_REASON:
            cancelled.reason = ERASED_TEXT
            session.add(cancelled)
