"""The events identity receives (its durable consumers, subject → handler), each applied once by the
runtime's DurableConsumer in the transaction that records its id:
- `activity`: the events of the services whose actions are linked to the person who caused them
  (§6.1.1.2, R-ACC-3)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.identity import domain
from services.identity.store.privacy import Privacy
from services.runtime.events import ConsumerTable, consumer_subjects

# The client's own row of an event someone else caused has its own event key, so each is recorded once.
CLIENT_ROW_SUFFIX = ":client"


async def activity(privacy: Privacy, envelope: EventEnvelope, session: AsyncSession) -> None:
    """Events of the platform itself, which no person caused, are skipped; an event that names the client
    whose record it changed (a check-in to their meeting or visit) joins that client's activity too."""
    fact = domain.activity_of_event(envelope.type, envelope.actor_id, envelope.aggregate_id)
    if fact is not None:
        await privacy.record_activity(session, fact, envelope)
    client_fact = domain.client_activity_of_event(
        envelope.type, envelope.client_id, envelope.actor_id, envelope.aggregate_id
    )
    if client_fact is not None:
        await privacy.record_activity(
            session, client_fact, envelope, event_id=envelope.id + CLIENT_ROW_SUFFIX
        )


TABLE: ConsumerTable[Privacy] = {
    "activity": {
        "catalog.>": activity,
        "payment.>": activity,
        "booking.>": activity,
        "consultation.>": activity,
        "documents.>": activity,
    }
}
# The durable consumers (name → subject suffixes) `counsel migrate` creates as `identity-<name>`; with NATS
# authorization on, identity may read from these alone (deploy/nats_auth.py).
CONSUMERS = consumer_subjects(TABLE)
