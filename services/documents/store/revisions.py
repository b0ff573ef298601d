"""Revisions and acceptance (R-DOC-5): within the revision window the client asks for any number of
revisions (the workflow's Update validator has the final word on the window), or accepts the delivered
document, which completes the order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from counsel.documents.v1 import events_pb2
from services.documents import domain
from services.documents.models import DocumentRevisionRow
from services.documents.store.base import OrderView, add_stage, complete, locked_order, order_view, publish
from services.documents.store.sealed import INSTRUCTIONS, order_subject
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.records import utcnow


class Revisions:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def request_revision(
        self,
        principal: Principal,
        document_order_id: str,
        instructions: str,
        ask_workflow: Callable[[datetime | None], Awaitable[None]],
    ) -> OrderView:
        """Record a revision request once the workflow accepted it (its validator is the final word on the
        window; a refusal raises Conflict and nothing is written)."""
        async with self.db.transaction() as session:
            row = await locked_order(session, principal, document_order_id)
            domain.check_client_owns(principal, row.tenant_id)
            instructions = domain.check_revision(
                row.stage, row.revision_window_ends_at, utcnow(), instructions
            )
            await ask_workflow(row.revision_window_ends_at)
            cipher = await self.keys.cipher(order_subject(row))
            now = utcnow()
            row.revisions_requested += 1
            session.add(
                DocumentRevisionRow(
                    document_order_id=row.id,
                    number=row.revisions_requested,
                    requested_by=principal.user_id,
                    instructions=cipher.seal(INSTRUCTIONS, instructions),
                    requested_at=now,
                )
            )
            stage = domain.stage_after_revision_request(row.stage)
            if stage is not None:
                row.stage = stage
                add_stage(session, row.id, stage, principal.user_id, None, "revision requested")
            row.updated_at = now
            session.add(row)
            await publish(
                session,
                self.outbox,
                row,
                "docorder.revision_requested",
                # No instructions: the event stream is no place for the client's words.
                events_pb2.DocOrderRevisionRequested(
                    document_order_id=row.id, requested_by=principal.user_id
                ),
                principal.user_id,
            )
            await session.flush()
            return await order_view(session, row.id, self.keys)

    async def accept(self, principal: Principal, document_order_id: str) -> OrderView:
        """The client accepts the delivered document: `docorder.accepted`, and the order completes."""
        async with self.db.transaction() as session:
            row = await locked_order(session, principal, document_order_id)
            domain.check_client_owns(principal, row.tenant_id)
            domain.check_accept(row.stage)
            await publish(
                session,
                self.outbox,
                row,
                "docorder.accepted",
                events_pb2.DocOrderAccepted(document_order_id=row.id, client_id=principal.user_id),
                principal.user_id,
            )
            await complete(session, self.outbox, row, principal.user_id, "accepted")
            return await order_view(session, row.id, self.keys)
