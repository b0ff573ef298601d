"""Erasure of a user's personal data in catalog (R-PRIV-1): see docs/erasure.md.

Reviews stay (their stars are part of products', lawyers' and firms' ratings, R-Q-1) but lose their author:
`client_id` becomes "" so no review can be traced back to the person. Catalog's view of their orders loses
the buyer too (they can no longer review anything)."""

from __future__ import annotations

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.catalog.models import OrderRecordRow, ReviewRow
from services.runtime.erasure import erased_user_id


async def erase_user(envelope: EventEnvelope, session: AsyncSession) -> None:
    """Handler of the `catalog-erasure` consumer (subject `identity.user.erased`)."""
    user_id = erased_user_id(envelope)
    if not user_id:
        return
    await session.execute(update(ReviewRow).where(col(ReviewRow.client_id) == user_id).values(client_id=""))
    await session.execute(
        update(OrderRecordRow).where(col(OrderRecordRow.client_id) == user_id).values(client_id="")
    )
