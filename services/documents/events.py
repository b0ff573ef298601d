"""The events documents receives (its durable consumers, subject → handler), each applied once by the
runtime's DurableConsumer in the transaction that records its id:
- `workflow-driver`: the service's own document-order events drive `docorder-<id>` (workflow_link.py);
- `lawyers`: the catalog's `lawyer.changed` carries a lawyer's whole assignable state (fields, activation,
  service hours) on every activation, edit and deactivation, so the projection `document_staff` makes a
  lawyer assignable by field (R-DOC-3) and not once deactivated, as consultation's projection does;
- `erasure`: a user's erasure (services/documents/erasure.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.documents.v1 import events_pb2
from services.documents import erasure
from services.documents.store import DocumentsStores
from services.documents.workflow_link import WorkflowLink
from services.rules.assignment import assignable_fields, service_hours_from_catalog
from services.runtime.erasure import SUBJECT, erasure_handler
from services.runtime.events import ConsumerTable, consumer_subjects, unpack
from services.runtime.records import from_timestamp
from workflows.shared import (
    AcceptSignal,
    AcknowledgeSignal,
    AssignedSignal,
    DraftUploadedSignal,
    ReviewDecisionSignal,
)


@dataclass(frozen=True)
class HandlerContext:
    """What documents' event handlers work with."""

    stores: DocumentsStores
    link: WorkflowLink


async def order_created(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    await ctx.link.start(unpack(envelope, events_pb2.DocOrderCreated), envelope.tenant_id)


async def order_acknowledged(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    ack = unpack(envelope, events_pb2.DocOrderAcknowledged)
    await ctx.link.signal(
        ack.document_order_id,
        "acknowledge",
        AcknowledgeSignal(agent_id=ack.agent_id, at=from_timestamp(ack.acknowledged_at)),
    )


async def order_assigned(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    assigned = unpack(envelope, events_pb2.DocOrderAssigned)
    await ctx.link.signal(
        assigned.document_order_id,
        "assigned",
        AssignedSignal(lawyer_id=assigned.lawyer_id, agent_id=assigned.agent_id),
    )


async def order_drafted(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    drafted = unpack(envelope, events_pb2.DocOrderDrafted)
    await ctx.link.signal(
        drafted.document_order_id,
        "draft_uploaded",
        DraftUploadedSignal(
            version_number=drafted.version_number,
            author_id=drafted.author_id,
            at=from_timestamp(envelope.occurred_at),
        ),
    )


async def order_approved(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    approved = unpack(envelope, events_pb2.DocOrderApproved)
    await ctx.link.signal(
        approved.document_order_id,
        "review_decided",
        ReviewDecisionSignal(
            version_number=approved.version_number,
            reviewer_id=approved.reviewer_id,
            decision="approve",
            at=from_timestamp(approved.approved_at),
        ),
    )


async def order_rejected(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    rejected = unpack(envelope, events_pb2.DocOrderRejected)
    await ctx.link.signal(
        rejected.document_order_id,
        "review_decided",
        ReviewDecisionSignal(
            version_number=rejected.version_number,
            reviewer_id=rejected.reviewer_id,
            decision="reject",
            at=from_timestamp(envelope.occurred_at),
        ),
    )


async def order_accepted(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    accepted = unpack(envelope, events_pb2.DocOrderAccepted)
    await ctx.link.signal(
        accepted.document_order_id,
        "accept",
        AcceptSignal(client_id=accepted.client_id, at=from_timestamp(envelope.occurred_at)),
    )


async def order_cancelled(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    """A cancelled order's workflow is cancelled: its clocks stop, with no change to the workflow's code."""
    await ctx.link.cancel(unpack(envelope, events_pb2.DocOrderCancelled).document_order_id)


async def lawyer_changed(ctx: HandlerContext, envelope: EventEnvelope, session: AsyncSession) -> None:
    changed = unpack(envelope, catalog_events.LawyerChanged)
    if changed.user_id:  # a profile not linked to an account cannot log in to draft
        await ctx.stores.staff.lawyer_changed(
            session,
            changed.user_id,
            assignable_fields(changed.fields, changed.passed_fields),
            active=changed.active,
            service_hours=service_hours_from_catalog(
                (w.weekday, w.start, w.end) for w in changed.service_hours
            ),
        )


TABLE: ConsumerTable[HandlerContext] = {
    "workflow-driver": {
        "documents.docorder.created": order_created,
        "documents.docorder.acknowledged": order_acknowledged,
        "documents.docorder.assigned": order_assigned,
        "documents.docorder.drafted": order_drafted,
        "documents.docorder.approved": order_approved,
        "documents.docorder.rejected": order_rejected,
        "documents.docorder.accepted": order_accepted,
        "documents.docorder.cancelled": order_cancelled,
    },
    "lawyers": {"catalog.lawyer.changed": lawyer_changed},
    # No data key is destroyed here: the drafted documents are the law firm's case file, which it must keep
    # (docs/erasure.md); the enterprise's key goes when that retention ends (docs/privacy.md, to do).
    "erasure": {SUBJECT: erasure_handler(erasure.erase_user)},
}
# The durable consumers (name → subject suffixes) `counsel migrate` creates as `documents-<name>`; with NATS
# authorization on, documents may read from these alone (deploy/nats_auth.py).
CONSUMERS = consumer_subjects(TABLE)
