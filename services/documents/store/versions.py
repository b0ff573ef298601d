"""Versions of a document (R-DOC-4, R-DOC-6, §9.5): the assigned lawyer's drafts (bytes in the object
store, SHA-256 beside them), each through review by a reviewer who is not its author; an approval delivers
it (opening the revision window at the first delivery) with the reviewer's licence number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select

from counsel.documents.v1 import events_pb2
from services.documents import domain
from services.documents.models import STAFF_READS, DocumentOrderRow, DocumentVersionRow
from services.documents.store.base import (
    OrderView,
    add_stage,
    breach_count,
    locked_order,
    order_view,
    publish,
)
from services.documents.store.roster import licence_number
from services.documents.store.sealed import REVIEW_COMMENT, VERSION_NOTE, order_subject
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, SubjectCipher
from services.runtime.metrics import count_deadline
from services.runtime.records import new_id, to_timestamp, utcnow
from services.runtime.sealed_files import seal_file


class Versions:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def add_version(
        self,
        principal: Principal,
        document_order_id: str,
        upload: domain.Upload,
        put_file: Callable[[str, bytes], Awaitable[None]],
    ) -> OrderView:
        """Store the file sealed with the order's data key, then its version (in review); the file is
        written before the commit so that a committed version always has its bytes."""
        async with self.db.transaction() as session:
            row = await locked_order(session, principal, document_order_id)
            domain.check_upload(row.stage, principal, row.assigned_lawyer_id)
            cipher = await self.keys.cipher(order_subject(row))
            number = (
                await session.scalar(
                    select(func.coalesce(func.max(DocumentVersionRow.number), 0)).where(
                        DocumentVersionRow.document_order_id == row.id
                    )
                )
                or 0
            ) + 1
            object_name = f"{row.id}/v{number}-{new_id()}"
            await put_file(object_name, seal_file(cipher, object_name, upload.content))
            now = utcnow()
            session.add(
                DocumentVersionRow(
                    id=new_id(),
                    document_order_id=row.id,
                    number=number,
                    author_id=principal.user_id,
                    note=cipher.seal(VERSION_NOTE, upload.note),
                    file_name=upload.file_name,
                    size_bytes=len(upload.content),
                    media_type=upload.media_type,
                    sha256=upload.sha256,
                    object_name=object_name,
                    file_sealed=True,
                    status="in_review",
                    created_at=now,
                )
            )
            row.stage = domain.next_stage(row.stage, "in_review")
            row.updated_at = now
            session.add(row)
            add_stage(session, row.id, "in_review", principal.user_id, None, f"version {number} uploaded")
            await publish(
                session,
                self.outbox,
                row,
                "docorder.drafted",
                events_pb2.DocOrderDrafted(
                    document_order_id=row.id,
                    version_number=number,
                    author_id=principal.user_id,
                    uploaded_at=to_timestamp(now),
                ),
                principal.user_id,
            )
            await session.flush()
            return await order_view(session, row.id, self.keys)

    async def review(
        self, principal: Principal, document_order_id: str, decision: str, comment: str
    ) -> OrderView:
        """A reviewer's decision on the version in review (see domain.review_outcome): approved and
        delivered with `docorder.approved` and `docorder.delivered`, or rejected back to its lawyer."""
        async with self.db.transaction() as session:
            row = await locked_order(session, principal, document_order_id)
            version = (
                await session.exec(
                    select(DocumentVersionRow)
                    .where(
                        DocumentVersionRow.document_order_id == row.id,
                        DocumentVersionRow.status == "in_review",
                    )
                    .order_by(col(DocumentVersionRow.number).desc())
                )
            ).first()
            domain.check_review(row.stage, principal, version.author_id if version else "", decision, comment)
            assert version is not None  # in_review always has its version
            now = utcnow()
            outcome = domain.review_outcome(
                row.stage,
                decision,
                row.first_delivered_at,
                row.revision_window_ends_at,
                row.draft_due_at,
                timedelta(seconds=row.revision_window_seconds),
                now,
            )
            version.status = outcome.version_status
            version.reviewer_id = principal.user_id
            version.review_comment = (await self.keys.cipher(order_subject(row))).seal(
                REVIEW_COMMENT, comment.strip()
            )
            version.reviewed_at = now
            # The first delivery keeps the delivery clock, unless the workflow recorded its breach first
            # (which decided it).
            first_delivery = row.first_delivered_at is None and outcome.first_delivered_at is not None
            if first_delivery and not await breach_count(session, row.id, "delivery"):
                count_deadline(session, "delivery", row.complexity, kept=True)
            row.stage = outcome.stage
            row.first_delivered_at = outcome.first_delivered_at
            row.revision_window_ends_at = outcome.revision_window_ends_at
            add_stage(session, row.id, outcome.stage, principal.user_id, outcome.due_at, version.status)
            if version.status == "approved":
                version.reviewer_licence_number = await licence_number(session, principal.user_id)
                await publish(
                    session,
                    self.outbox,
                    row,
                    "docorder.approved",
                    events_pb2.DocOrderApproved(
                        document_order_id=row.id,
                        version_number=version.number,
                        reviewer_id=principal.user_id,
                        approved_at=to_timestamp(now),
                        sha256=version.sha256,
                        reviewer_licence_number=version.reviewer_licence_number,
                    ),
                    principal.user_id,
                )
                await publish(
                    session,
                    self.outbox,
                    row,
                    "docorder.delivered",
                    events_pb2.DocOrderDelivered(
                        document_order_id=row.id,
                        version_number=version.number,
                        client_id=row.client_id,
                        revision_window_ends_at=to_timestamp(row.revision_window_ends_at),
                        lawyer_id=row.assigned_lawyer_id,
                    ),
                    principal.user_id,
                )
            else:
                await publish(
                    session,
                    self.outbox,
                    row,
                    "docorder.rejected",
                    events_pb2.DocOrderRejected(
                        document_order_id=row.id, version_number=version.number, reviewer_id=principal.user_id
                    ),
                    principal.user_id,
                )
            row.updated_at = now
            session.add(version)
            session.add(row)
            await session.flush()
            return await order_view(session, row.id, self.keys)

    async def file_cipher(self, document_order_id: str) -> SubjectCipher:
        """The cipher the order's files are sealed with (its owner's data key)."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, DocumentOrderRow, document_order_id, "document order")
        return await self.keys.cipher(order_subject(row))

    async def version(
        self, principal: Principal | None, document_order_id: str, number: int
    ) -> DocumentVersionRow:
        """Version `number` as the caller may see it (clients: approved ones only); NotFound otherwise. A
        staff member's read (of the file it is read for) is written to the staff access log."""
        async with self.db.transaction() as session:
            view = await order_view(session, document_order_id, self.keys)
            row = view.row
            domain.require_visible(principal, row.tenant_id, row.assigned_lawyer_id)
            for version in view.versions:
                if version.number == number and domain.may_see_version(principal, version.status):
                    await STAFF_READS.record(session, principal, "document_version", version.id, row)
                    return version
        raise NotFound("no such version")
