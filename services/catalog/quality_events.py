"""The handlers of the catalog's `quality` consumer (R-Q-4, R-Q-5; services/catalog/events.py): the lawyers'
completed outputs and the facts the risk controls watch, folded into the quality store
(services/catalog/store/quality.py) in the consumer's transaction, each event once (the runtime's
DurableConsumer):
- outputs sampled for supervisors: a consultation's first lawyer reply, a delivered document version, a
  completed meeting, a recorded visit;
- ratings (a consultation's, and reviews of orders a lawyer served), replies past due (a consultation's
  escalation, or a document order's delivery breach, names the lawyer who missed it), and on-site meetings
  that ended without a check-in."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from services.catalog.models import LawyerRow
from services.catalog.store import CatalogStores
from services.runtime.events import Handler, unpack


async def consultation_replied(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    replied = unpack(envelope, consultation_events.ConsultationReplied)
    if replied.first_lawyer_reply and replied.author_id:
        await stores.quality.record_output(
            session, envelope.id, "consultation_reply", replied.consultation_id, replied.author_id
        )


async def document_delivered(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    delivered = unpack(envelope, documents_events.DocOrderDelivered)
    if delivered.lawyer_id:
        object_id = f"{delivered.document_order_id}/v{delivered.version_number}"
        await stores.quality.record_output(
            session, envelope.id, "document_version", object_id, delivered.lawyer_id
        )


async def meeting_completed(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    completed = unpack(envelope, booking_events.BookingCompleted)
    if not completed.lawyer_id:
        return
    if completed.status == "completed":
        await stores.quality.record_output(
            session, envelope.id, "meeting", completed.booking_id, completed.lawyer_id
        )
    if completed.mode == "on_site" and not completed.checked_in:
        await stores.quality.record_meeting_without_check_in(
            session, completed.lawyer_id, completed.booking_id, completed.status
        )


async def visit_recorded(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    recorded = unpack(envelope, booking_events.VisitRecorded)
    if recorded.lawyer_id:
        await stores.quality.record_output(
            session, envelope.id, "visit", recorded.visit_id, recorded.lawyer_id
        )


async def consultation_rated(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    rated = unpack(envelope, consultation_events.ConsultationRated)
    if rated.lawyer_id:
        await stores.quality.record_rating(session, rated.lawyer_id, rated.consultation_id, rated.rating)


async def review_added(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    """A review names the lawyer's profile; the record is the lawyer's account's."""
    review = unpack(envelope, catalog_events.ReviewAdded)
    if not review.lawyer_id:
        return
    account = (await session.exec(select(LawyerRow.user_id).where(LawyerRow.id == review.lawyer_id))).first()
    if account:
        await stores.quality.record_rating(session, account, review.order_id, review.rating)


async def reply_past_due(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    escalated = unpack(envelope, consultation_events.ConsultationEscalated)
    if escalated.from_lawyer_id:
        await stores.quality.record_reply_past_due(
            session, escalated.from_lawyer_id, escalated.consultation_id
        )


async def delivery_past_due(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    breached = unpack(envelope, documents_events.DocOrderSlaBreached)
    if breached.missed_by_lawyer_id:
        await stores.quality.record_reply_past_due(
            session, breached.missed_by_lawyer_id, breached.document_order_id
        )


HANDLERS: dict[str, Handler[CatalogStores]] = {
    "consultation.consultation.replied": consultation_replied,
    "documents.docorder.delivered": document_delivered,
    "booking.booking.completed": meeting_completed,
    "booking.visit.recorded": visit_recorded,
    "consultation.consultation.rated": consultation_rated,
    "catalog.review.added": review_added,
    "consultation.consultation.escalated": reply_past_due,
    "documents.docorder.sla_breached": delivery_past_due,
}
