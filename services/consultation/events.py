"""The events consultation receives (its durable consumers, subject → handler), each applied once by the
runtime's DurableConsumer in the transaction that records its id:
- `workflow-starter` and `workflow-signaller`: the service's own consultation events start and signal
  `consultation-<id>` (workflow_link.py);
- `lawyers`: the catalog's lawyer profiles decide who can be assigned (R-CON-2);
- `intent-signals`: browsing and orders feed the purchase-intent prediction agents see (R-CS-2);
- `complaint-clock`: the service's own complaint events start and signal `complaint-<id>`;
- `erasure`: a user's erasure (services/consultation/erasure.py), their data keys destroyed with it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from counsel.payment.v1 import events_pb2 as payment_events
from services.consultation import erasure
from services.consultation.store.lawyers import LawyerProjection
from services.consultation.store.signals import PurchaseSignals
from services.consultation.workflow_link import WorkflowLink
from services.runtime.erasure import SUBJECT, shredding_erasure_handler
from services.runtime.events import ConsumerTable, Handler, consumer_subjects, unpack
from services.runtime.keys import DataKeys
from services.runtime.records import from_timestamp


@dataclass(frozen=True)
class HandlerContext:
    """What the handlers need besides the event: the workflows to start and signal, the data keys to shred."""

    link: WorkflowLink
    keys: DataKeys


async def submitted(context: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    await context.link.start(unpack(envelope, events_pb2.ConsultationSubmitted), envelope)


async def replied(context: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    await context.link.message_posted(unpack(envelope, events_pb2.ConsultationReplied))


def complaint_step(step: str) -> Handler[HandlerContext]:
    """The handler of `complaint.<step>`: the complaint's response clock hears of it."""

    async def handle(context: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
        await context.link.complaint_changed(unpack(envelope, events_pb2.ComplaintChanged), envelope, step)

    return handle


async def closed(context: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    await context.link.close(unpack(envelope, events_pb2.ConsultationClosed))


async def lawyer_changed(context: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    changed = unpack(envelope, catalog_events.LawyerChanged)
    if not changed.user_id:
        return  # no identity account: nobody to assign work to
    when = from_timestamp(changed.updated_at if changed.HasField("updated_at") else envelope.occurred_at)
    await LawyerProjection.apply_lawyer_changed(session, changed, when)


async def product_viewed(context: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    viewed = unpack(envelope, catalog_events.ItemViewed)
    if viewed.user_id:
        await PurchaseSignals.record_signal(
            session, envelope, "product_viewed", viewed.user_id, viewed.item_id
        )


def order_signal(
    message_type: type[
        payment_events.OrderCreated | payment_events.OrderPaid | payment_events.OrderCancelled
    ],
    kind: str,
) -> Handler[HandlerContext]:
    """The handler of a payment event that is the client's purchase-intent signal `kind` about the order."""

    async def handle(context: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
        order = unpack(envelope, message_type)
        if order.client_id:
            await PurchaseSignals.record_signal(session, envelope, kind, order.client_id, order.order_id)

    return handle


TABLE: ConsumerTable[HandlerContext] = {
    "workflow-starter": {"consultation.consultation.submitted": submitted},
    "workflow-signaller": {
        "consultation.consultation.replied": replied,
        "consultation.consultation.closed": closed,
    },
    "complaint-clock": {
        f"consultation.complaint.{step}": complaint_step(step)
        for step in ("raised", "resolved", "reopened", "closed")
    },
    "erasure": {SUBJECT: shredding_erasure_handler(erasure.erase_user)},
    "lawyers": {"catalog.lawyer.changed": lawyer_changed},
    "intent-signals": {
        "catalog.product.viewed": product_viewed,
        "payment.order.created": order_signal(payment_events.OrderCreated, "order_created"),
        "payment.order.paid": order_signal(payment_events.OrderPaid, "order_paid"),
        "payment.order.cancelled": order_signal(payment_events.OrderCancelled, "order_cancelled"),
    },
}
# The durable consumers (name → subject suffixes) `counsel migrate` creates as `consultation-<name>`; with NATS
# authorization on, consultation may read from these alone (deploy/nats_auth.py).
CONSUMERS = consumer_subjects(TABLE)
