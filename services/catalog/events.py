"""The events catalog receives (its durable consumers, subject → handler, each handler given the catalog's
stores), applied idempotently by the runtime's DurableConsumer (each event id once, in the transaction of
its effect):
- `orders`: catalog's view of orders from payment and fulfilment events — who bought which product, who
  served it and whether it finished; it decides who may review what (R-Q-1);
- `firm-events`: a law firm's stream of what happens to its lawyers' work (services/catalog/firm_events.py);
- `erasure`: a user's erasure (services/catalog/erasure.py);
- `quality`: the lawyers' outputs and what the risk controls watch (services/catalog/quality_events.py);
- `next-purchase`: each enterprise's history for the next-purchase analysis
  (store/recommendations.py) — consultations with their legal field, product views, orders paid, ratings,
  meetings and visits (a document order is its paid order) — and, as it grows, a suggestion to notify."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.payment.v1 import events_pb2 as payment_events
from services.catalog import erasure, firm_events, quality_events
from services.catalog.store import CatalogStores
from services.runtime.erasure import SUBJECT, shredding_erasure_handler
from services.runtime.events import ConsumerTable, Handler, consumer_subjects, unpack
from services.runtime.records import utcnow


async def order_created(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    created = unpack(envelope, payment_events.OrderCreated)
    await stores.orders.record_order_event(
        session,
        created.order_id,
        "created",
        client_id=created.client_id,
        tenant_id=envelope.tenant_id,
        product_id=created.product_id,
    )


def order_status(
    message_type: type[
        payment_events.OrderPaid | payment_events.OrderCancelled | payment_events.OrderRefunded
    ],
    status: str,
) -> Handler[CatalogStores]:
    """The handler of a payment event that only moves the order's record to `status`."""

    async def handle(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
        fact = unpack(envelope, message_type)
        await stores.orders.record_order_event(session, fact.order_id, status, client_id=fact.client_id)

    return handle


async def consultation_submitted(
    stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession
) -> None:
    submitted = unpack(envelope, consultation_events.ConsultationSubmitted)
    if submitted.order_id:
        await stores.orders.record_order_event(
            session, submitted.order_id, "", consultation_id=submitted.consultation_id
        )


async def consultation_assigned(
    stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession
) -> None:
    assigned = unpack(envelope, consultation_events.ConsultationAssigned)
    order_id = await stores.orders.order_of_consultation(session, assigned.consultation_id)
    lawyer_id = await stores.orders.lawyer_profile_id(session, assigned.lawyer_id)
    if order_id and lawyer_id:
        await stores.orders.record_order_event(session, order_id, "", lawyer_id=lawyer_id)


async def consultation_closed(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    closed = unpack(envelope, consultation_events.ConsultationClosed)
    order_id = await stores.orders.order_of_consultation(session, closed.consultation_id)
    if order_id:
        await stores.orders.record_order_event(session, order_id, "completed")


async def document_order_completed(
    stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession
) -> None:
    completed = unpack(envelope, documents_events.DocOrderCompleted)
    if completed.order_id:
        await stores.orders.record_order_event(session, completed.order_id, "completed")


async def lawyer_work(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    """Every event of a booking, a document order, a consultation and its calls; those that name no lawyer
    (a consultation not yet assigned) are skipped."""
    await firm_events.record(envelope, session)


async def consultation_classified(
    stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession
) -> None:
    classified = unpack(envelope, consultation_events.ConsultationClassified)
    # The client whose consultation it is (the classifier or an agent decided the field, not the client).
    await stores.histories.record(
        session, envelope, "consultation", classified.legal_field, user_id=envelope.client_id
    )
    await stores.histories.suggest(session, envelope.tenant_id, utcnow())


async def product_viewed(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    viewed = unpack(envelope, catalog_events.ItemViewed)
    if viewed.kind == "product":
        await stores.histories.record(session, envelope, "viewed", viewed.item_id, user_id=viewed.user_id)
        await stores.histories.suggest(session, envelope.tenant_id, utcnow())


async def order_placed(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    created = unpack(envelope, payment_events.OrderCreated)
    await stores.histories.record(
        session,
        envelope,
        "order_created",
        created.product_id,
        user_id=created.client_id,
        reference=created.order_id,
    )


async def order_paid(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    paid = unpack(envelope, payment_events.OrderPaid)
    product_id = await stores.histories.ordered_product(session, paid.order_id)
    await stores.histories.record(
        session, envelope, "order_paid", product_id, user_id=paid.client_id, reference=paid.order_id
    )
    await stores.histories.suggest(session, envelope.tenant_id, utcnow())


async def review_added(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
    review = unpack(envelope, catalog_events.ReviewAdded)
    await stores.histories.record(
        session, envelope, "rated", review.product_id, user_id=envelope.actor_id, stars=review.rating
    )
    await stores.histories.suggest(session, envelope.tenant_id, utcnow())


def meeting(
    kind: str, message_type: type[booking_events.BookingConfirmed | booking_events.BookingCheckedIn]
) -> Handler[CatalogStores]:
    """A booking confirmed (`booking`) or a meeting or visit checked in (`visit`)."""

    async def handle(stores: CatalogStores, envelope: EventEnvelope, session: AsyncSession) -> None:
        await stores.histories.record(
            session, envelope, kind, user_id=unpack(envelope, message_type).client_id
        )
        await stores.histories.suggest(session, envelope.tenant_id, utcnow())

    return handle


TABLE: ConsumerTable[CatalogStores] = {
    "orders": {
        "payment.order.created": order_created,
        "payment.order.paid": order_status(payment_events.OrderPaid, "paid"),
        "payment.order.cancelled": order_status(payment_events.OrderCancelled, "cancelled"),
        "payment.order.refunded": order_status(payment_events.OrderRefunded, "refunded"),
        "consultation.consultation.submitted": consultation_submitted,
        "consultation.consultation.assigned": consultation_assigned,
        "consultation.consultation.closed": consultation_closed,
        "documents.docorder.completed": document_order_completed,
    },
    "firm-events": {
        "booking.booking.>": lawyer_work,
        "documents.docorder.>": lawyer_work,
        "consultation.consultation.>": lawyer_work,
        "consultation.call.>": lawyer_work,
    },
    "erasure": {SUBJECT: shredding_erasure_handler(erasure.erase_user)},
    "quality": quality_events.HANDLERS,
    "next-purchase": {
        "consultation.consultation.classified": consultation_classified,
        "catalog.product.viewed": product_viewed,
        "payment.order.created": order_placed,
        "payment.order.paid": order_paid,
        "catalog.review.added": review_added,
        "booking.booking.confirmed": meeting("booking", booking_events.BookingConfirmed),
        "booking.booking.checked_in": meeting("visit", booking_events.BookingCheckedIn),
    },
}
# The durable consumers (name → subject suffixes) `counsel migrate` creates as `catalog-<name>`; with NATS
# authorization on, catalog may read from these alone (deploy/nats_auth.py).
CONSUMERS = consumer_subjects(TABLE)
