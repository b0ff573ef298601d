"""Common test data: events as services publish them, protos as services answer, products as the catalog
sells them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1 import timeline_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from services.payment import domain as payment_domain
from services.runtime.events import Context, Handler, bind, handler_for

# A document product of one tier, as payment snapshots it when an order is created.
DOCUMENT_PRODUCT = payment_domain.ProductSnapshot(
    product_id="p1",
    name="合同审查",
    category="document",
    currency="CNY",
    tiers=({"id": "std", "price": 99900},),
)


def envelope(event_type: str, payload: Message | None = None, **fields: Any) -> EventEnvelope:
    """An event as a service's outbox publishes it: a fresh id, occurred now, `payload` packed; `fields`
    set the envelope's other fields (tenant_id, actor_id, aggregate_id, or a fixed id)."""
    event = EventEnvelope(id=uuid.uuid4().hex, type=event_type)
    event.occurred_at.GetCurrentTime()
    if payload is not None:
        event.payload.Pack(payload)
    for name, value in fields.items():
        setattr(event, name, value)
    return event


def stamp(iso: str) -> Timestamp:
    """A protobuf Timestamp of an ISO 8601 time."""
    result = Timestamp()
    result.FromDatetime(datetime.fromisoformat(iso).astimezone(UTC))
    return result


def consultation(**overrides: Any) -> consultation_pb.Consultation:
    """A submitted professional consultation of user-1 (tenant-1), as the consultation service answers."""
    message = consultation_pb.Consultation(
        id="c-1",
        tenant_id="tenant-1",
        client_id="user-1",
        kind="professional",
        status="submitted",
        subject="Overtime pay",
        question="Is my employer allowed to…?",
        created_at=stamp("2026-11-28T08:00:00+00:00"),
        reply_due_at=stamp("2026-11-29T08:00:00+00:00"),
        order_id="o-1",
        stages=[
            timeline_pb2.TimelineStage(
                stage="submitted",
                status="current",
                entered_at=stamp("2026-11-28T08:00:00+00:00"),
                actor="user-1",
            )
        ],
    )
    message.MergeFrom(consultation_pb.Consultation(**overrides))
    return message


# The service that publishes each entity's events (the first word of an event type), for subjects.
PUBLISHER_OF_ENTITY = {
    "booking": "booking",
    "call": "consultation",
    "chat": "consultation",
    "consultation": "consultation",
    "docorder": "documents",
    "firm": "catalog",
    "lawyer": "catalog",
    "online_call": "consultation",
    "order": "payment",
    "product": "catalog",
    "quality": "catalog",
    "recommendation": "catalog",
    "review": "catalog",
    "user": "identity",
}


def subject_of(event: EventEnvelope) -> str:
    """The subject suffix (after the subject root) the event is published on."""
    return f"{PUBLISHER_OF_ENTITY[event.type.split('.', 1)[0]]}.{event.type}"


async def deliver(
    handlers: Mapping[str, Handler[Context]], context: Context, event: EventEnvelope, session: AsyncSession
) -> None:
    """Hand `event` to its subject's handler among one consumer's `handlers` (a service's events.py), as the
    consumer does, in the caller's `session`."""
    await handler_for(bind(handlers, context), subject_of(event))(event, session)
