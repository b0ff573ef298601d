"""The events notification receives (its durable consumers, subject → handler), each applied once by the
runtime's DurableConsumer in the transaction that records its id:
- `fan-out`: every stage event of the services whose clients are notified (R-Q-3), catalog's next-purchase
  suggestions (opt-in marketing, §5.5), its quality supervision's follow-ups and risk flags (R-Q-4, R-Q-5)
  and its warnings of ending firm agreements (to the operators, §4.1.1) become inbox entries, e-mails and SMS (store/fan_out.py, by the rules of domain.plan_for);
- `erasure`: a user's erasure (services/notification/erasure.py);
- `consent`: marketing consent given at registration (`user.registered`), recorded in the preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.identity.v1 import events_pb2 as identity_events
from services.notification import erasure
from services.notification.dev_outbox import DevOutbox
from services.notification.store.fan_out import FanOut
from services.notification.store.preferences import consent_to_marketing
from services.runtime import erasure as runtime_erasure
from services.runtime.events import ConsumerTable, consumer_subjects, unpack
from services.runtime.keys import DataKeys, user_subject


@dataclass(frozen=True)
class HandlerContext:
    """What notification's event handlers work with."""

    fan_out: FanOut
    keys: DataKeys
    dev_outbox: DevOutbox


async def stage_event(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    await ctx.fan_out.deliver(envelope, session)


async def user_registered(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    registered = unpack(envelope, identity_events.UserRegistered)
    if registered.marketing_consent:
        await consent_to_marketing(session, registered.user_id, envelope.occurred_at.ToDatetime(tzinfo=UTC))


async def user_erased(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    erased = unpack(envelope, identity_events.UserErased)
    await erasure.erase_user(session, erased.user_id)
    await ctx.keys.destroy(user_subject(erased.user_id), await session.connection())
    await ctx.dev_outbox.erase(session, erased.address_indexes)


TABLE: ConsumerTable[HandlerContext] = {
    "fan-out": {
        "consultation.>": stage_event,
        "documents.>": stage_event,
        "booking.>": stage_event,
        "payment.>": stage_event,
        "catalog.recommendation.suggested": stage_event,
        "catalog.quality.>": stage_event,
        "catalog.firm.agreement_ending": stage_event,
    },
    "erasure": {runtime_erasure.SUBJECT: user_erased},
    "consent": {"identity.user.registered": user_registered},
}
# The durable consumers (name → subject suffixes) `counsel migrate` creates as `notification-<name>`; with NATS
# authorization on, notification may read from these alone (deploy/nats_auth.py).
CONSUMERS = consumer_subjects(TABLE)
