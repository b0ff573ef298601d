"""Reviews and ratings (R-Q-1): the catalog's record of each order, folded from payment and fulfilment
events, decides who may review what; a review moves the product's, the lawyer's and the firm's averages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import domain
from services.catalog.models import FirmRow, LawyerRow, OrderRecordRow, ProductRow, ReviewRow
from services.catalog.store.sealed import REVIEW_COMMENT, open_reviews
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, owner_subject
from services.runtime.records import new_id, utcnow


class OrderRecords:
    """The order facts the `catalog-orders` consumer records, in its transaction."""

    async def record_order_event(
        self,
        session: AsyncSession,
        order_id: str,
        event: str,
        *,
        client_id: str = "",
        tenant_id: str = "",
        product_id: str = "",
        consultation_id: str = "",
        lawyer_id: str = "",
    ) -> None:
        """Fold one payment/fulfilment fact into the order's record, inside the consumer's transaction.
        `event` is created|paid|completed|cancelled|refunded, or "" for a fact that changes no status."""
        row = await session.get(OrderRecordRow, order_id, with_for_update=True)
        if row is None:
            row = OrderRecordRow(order_id=order_id, updated_at=utcnow())
        recorded = domain.OrderFacts(
            row.status, row.client_id, row.tenant_id, row.product_id, row.consultation_id, row.lawyer_id
        )
        fact = domain.OrderFacts("", client_id, tenant_id, product_id, consultation_id, lawyer_id)
        folded = domain.fold_order_fact(recorded, event, fact)
        row.status, row.client_id, row.tenant_id = folded.status, folded.client_id, folded.tenant_id
        row.product_id, row.consultation_id = folded.product_id, folded.consultation_id
        row.lawyer_id = folded.lawyer_id
        row.updated_at = utcnow()
        session.add(row)
        await session.flush()

    @staticmethod
    async def order_of_consultation(session: AsyncSession, consultation_id: str) -> str:
        """The order a consultation fulfils, "" when it was not bought (a general question)."""
        statement = select(OrderRecordRow.order_id).where(OrderRecordRow.consultation_id == consultation_id)
        return (await session.exec(statement)).first() or ""

    @staticmethod
    async def lawyer_profile_id(session: AsyncSession, lawyer: str) -> str:
        """The profile id of a lawyer named by profile id or by identity user id ("" when unknown)."""
        statement = select(LawyerRow.id).where(
            or_(col(LawyerRow.id) == lawyer, col(LawyerRow.user_id) == lawyer)
        )
        return (await session.exec(statement)).first() or ""


async def _add_rating(session: AsyncSession, model: Any, key: str, rating: int) -> None:
    # One UPDATE: both SET expressions read the old values, so concurrent reviews never lose a count.
    table = model.__table__
    await session.execute(
        update(table)
        .where(table.c.id == key)
        .values(
            rating_average=(table.c.rating_average * table.c.rating_count + rating)
            / (table.c.rating_count + 1),
            rating_count=table.c.rating_count + 1,
        )
    )


class Reviews:
    """Every method returns its reviews opened (store/sealed.py), after their transaction."""

    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def written_by(self, client_id: str) -> list[ReviewRow]:
        """Every review the person wrote, oldest first (their data export)."""
        async with self.db.transaction() as session:
            statement = (
                select(ReviewRow)
                .where(ReviewRow.client_id == client_id)
                .order_by(col(ReviewRow.created_at), col(ReviewRow.id))
            )
            rows = list((await session.exec(statement)).all())
        await open_reviews(self.keys, *rows)
        return rows

    async def create_review(
        self, principal: Principal, order_id: str, rating: int, comment: str
    ) -> ReviewRow:
        """One review per completed order, by the client who bought it; updates the product's, the
        lawyer's and the firm's averages and publishes review.added in the same transaction. Sending the
        same review again returns it; a different second review is Conflict."""
        review = await self._create_review(principal, order_id, rating, comment)
        await open_reviews(self.keys, review)
        return review

    async def _create_review(
        self, principal: Principal, order_id: str, rating: int, comment: str
    ) -> ReviewRow:
        cipher = await self.keys.cipher(owner_subject(principal.tenant_id, principal.user_id))
        async with self.db.transaction() as session:
            order = await session.get(OrderRecordRow, order_id, with_for_update=True) if order_id else None
            if order is None or order.client_id != principal.user_id:
                raise NotFound("no such order")  # never reveal another client's orders
            existing = (await session.exec(select(ReviewRow).where(ReviewRow.order_id == order_id))).first()
            stored = (
                domain.Rating(existing.rating, opened(cipher, REVIEW_COMMENT, existing.comment))
                if existing is not None
                else None
            )
            if not domain.reviews_order(order.status, stored, domain.Rating(rating, comment)):
                assert existing is not None
                return existing
            lawyer = await session.get(LawyerRow, order.lawyer_id) if order.lawyer_id else None
            review = ReviewRow(
                id=new_id(),
                order_id=order_id,
                product_id=order.product_id,
                lawyer_id=lawyer.id if lawyer else "",
                firm_id=lawyer.firm_id if lawyer else "",
                client_id=principal.user_id,
                tenant_id=principal.tenant_id,
                rating=rating,
                comment=cipher.seal(REVIEW_COMMENT, comment),
                created_at=utcnow(),
            )
            session.add(review)
            await session.flush()
            for model, key in [
                (ProductRow, review.product_id),
                (LawyerRow, review.lawyer_id),
                (FirmRow, review.firm_id),
            ]:
                if key:
                    await _add_rating(session, model, key, rating)
            await self.outbox.add(
                session,
                "review.added",
                events_pb2.ReviewAdded(
                    review_id=review.id,
                    order_id=order_id,
                    rating=rating,
                    product_id=review.product_id,
                    lawyer_id=review.lawyer_id,
                ),
                aggregate_id=review.id,
                tenant_id=principal.tenant_id,
                actor_id=principal.user_id,
            )
            return review
