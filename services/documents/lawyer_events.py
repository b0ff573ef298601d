"""Feeds the documents service's lawyer projection (`document_staff`) from the catalog's events: a lawyer
profile activated by its firm (`lawyer.activated`, with its legal fields) becomes assignable by field
(R-DOC-3). The effect and the processed event id commit in one transaction (DurableConsumer), so a
redelivered event changes nothing twice."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from services.documents.store import DocumentsStore
from services.runtime.events import unpack

SUBJECTS = ["catalog.lawyer.activated"]


class LawyerProjection:
    def __init__(self, store: DocumentsStore) -> None:
        self.store = store

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        activated = unpack(envelope, events_pb2.LawyerActivated)
        assert isinstance(activated, events_pb2.LawyerActivated)
        if activated.user_id:  # a profile not linked to an account cannot log in to draft
            await self.store.lawyer_activated(session, activated.user_id, list(activated.fields))
