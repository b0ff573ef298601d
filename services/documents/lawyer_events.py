"""Feeds the documents service's lawyer projection (`document_staff`) from the catalog's events: the catalog
publishes a lawyer's whole assignable state (`lawyer.changed`: fields, activation, service hours) on every
activation, edit and deactivation, so a lawyer becomes assignable by field (R-DOC-3) and stops being
assignable when deactivated, exactly as consultation's projection follows the same event. The effect and the
processed event id commit in one transaction (DurableConsumer), so a redelivered event changes nothing twice."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from services.documents.store import DocumentsStores
from services.runtime.assignment import service_hours_from_catalog
from services.runtime.events import unpack

SUBJECTS = ["catalog.lawyer.changed"]


class LawyerProjection:
    def __init__(self, store: DocumentsStores) -> None:
        self.store = store

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        changed = unpack(envelope, events_pb2.LawyerChanged)
        assert isinstance(changed, events_pb2.LawyerChanged)
        if changed.user_id:  # a profile not linked to an account cannot log in to draft
            await self.store.lawyer_changed(
                session,
                changed.user_id,
                list(changed.fields),
                active=changed.active,
                service_hours=service_hours_from_catalog(
                    (w.weekday, w.start, w.end) for w in changed.service_hours
                ),
            )
