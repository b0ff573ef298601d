"""Erasure of a user's personal data in catalog (R-PRIV-1): see docs/erasure.md.

Reviews stay (their stars are part of products', lawyers' and firms' ratings, R-Q-1) but lose their author
and their text: `client_id` becomes "" so no review can be traced back to the person, and the comment reads
as ERASED_TEXT on the product's page (it was sealed with the owner's data key, which the erasure consumer
destroys for an individual client or an enterprise's last member: store/sealed.py). Catalog's view of their orders loses
the buyer too (they can no longer review anything). Their enterprise's history (the next-purchase analysis)
keeps what the enterprise did but no longer who did it."""

from __future__ import annotations

from sqlalchemy import case
from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalog.models import EnterpriseSignalRow, OrderRecordRow, ReviewRow
from services.runtime.erasure import ERASED_TEXT


async def erase_user(session: AsyncSession, user_id: str) -> None:
    """Erase or pseudonymise `user_id`'s personal data, in the erasure consumer's transaction."""
    await session.execute(
        update(ReviewRow)
        .where(col(ReviewRow.client_id) == user_id)
        .values(client_id="", comment=case((col(ReviewRow.comment) == "", ""), else_=ERASED_TEXT))
    )
    await session.execute(
        update(OrderRecordRow).where(col(OrderRecordRow.client_id) == user_id).values(client_id="")
    )
    await session.execute(
        update(EnterpriseSignalRow).where(col(EnterpriseSignalRow.user_id) == user_id).values(user_id="")
    )
