"""Links a paid consultation order to the consultation its client submits against it (API.md: "a
consultation order's fulfilment is the consultation submitted against it"), from consultation's own
`consultation.submitted` event, so the order's `fulfilment` appears without a call between services."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from services.payment.store import PaymentStore
from services.runtime.events import unpack

SUBJECTS = ["consultation.consultation.submitted"]


class FulfilmentLinker:
    def __init__(self, store: PaymentStore) -> None:
        self.store = store

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        submitted = unpack(envelope, events_pb2.ConsultationSubmitted)
        assert isinstance(submitted, events_pb2.ConsultationSubmitted)
        if submitted.order_id:
            await self.store.link_fulfilment(
                session, envelope.tenant_id, submitted.order_id, "consultation", submitted.consultation_id
            )
