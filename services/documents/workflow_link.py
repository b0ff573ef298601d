"""Links each document order to its DocumentOrderWorkflow (`docorder-<id>`) from the service's own events,
through its durable consumer `workflow-driver`, so a committed change always reaches the workflow, even if the
process dies right after the commit: `docorder.created` starts it, the facts people caused (acknowledged,
drafted, approved, rejected, accepted) become signals, and a cancelled order's workflow is cancelled (its
clocks stop, with no change to the workflow's code)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.documents.v1 import events_pb2
from services.runtime.events import unpack
from services.runtime.records import from_timestamp
from services.runtime.temporal import cancel_if_running, signal_if_running, start_once
from workflows.shared import (
    DOCUMENT_ORDER_WORKFLOW,
    AcceptSignal,
    AcknowledgeSignal,
    DocumentOrderWorkflowInput,
    DraftUploadedSignal,
    ReviewDecisionSignal,
    document_order_workflow_id,
)

EVENTS = ("created", "acknowledged", "drafted", "approved", "rejected", "accepted", "cancelled")
SUBJECTS = [f"documents.docorder.{name}" for name in EVENTS]


class WorkflowLink:
    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        at = from_timestamp(envelope.occurred_at)
        if envelope.type == "docorder.created":
            await self._start(unpack(envelope, events_pb2.DocOrderCreated), envelope.tenant_id)
        elif envelope.type == "docorder.acknowledged":
            ack = unpack(envelope, events_pb2.DocOrderAcknowledged)
            await self._signal(
                ack.document_order_id,
                "acknowledge",
                AcknowledgeSignal(agent_id=ack.agent_id, at=from_timestamp(ack.acknowledged_at)),
            )
        elif envelope.type == "docorder.drafted":
            drafted = unpack(envelope, events_pb2.DocOrderDrafted)
            await self._signal(
                drafted.document_order_id,
                "draft_uploaded",
                DraftUploadedSignal(
                    version_number=drafted.version_number, author_id=drafted.author_id, at=at
                ),
            )
        elif envelope.type == "docorder.approved":
            approved = unpack(envelope, events_pb2.DocOrderApproved)
            await self._signal(
                approved.document_order_id,
                "review_decided",
                ReviewDecisionSignal(
                    version_number=approved.version_number,
                    reviewer_id=approved.reviewer_id,
                    decision="approve",
                    at=from_timestamp(approved.approved_at),
                ),
            )
        elif envelope.type == "docorder.rejected":
            rejected = unpack(envelope, events_pb2.DocOrderRejected)
            await self._signal(
                rejected.document_order_id,
                "review_decided",
                ReviewDecisionSignal(
                    version_number=rejected.version_number,
                    reviewer_id=rejected.reviewer_id,
                    decision="reject",
                    at=at,
                ),
            )
        elif envelope.type == "docorder.accepted":
            accepted = unpack(envelope, events_pb2.DocOrderAccepted)
            await self._signal(
                accepted.document_order_id, "accept", AcceptSignal(client_id=accepted.client_id, at=at)
            )
        elif envelope.type == "docorder.cancelled":
            cancelled = unpack(envelope, events_pb2.DocOrderCancelled)
            await cancel_if_running(self.temporal, document_order_workflow_id(cancelled.document_order_id))

    async def _start(self, created: events_pb2.DocOrderCreated, tenant_id: str) -> None:
        params = DocumentOrderWorkflowInput(
            document_order_id=created.document_order_id,
            tenant_id=tenant_id,
            client_id=created.client_id,
            complexity=created.complexity,
            assigned_lawyer_id=created.assigned_lawyer_id,
            paid_at=from_timestamp(created.paid_at),
            acknowledge_within=timedelta(seconds=created.acknowledge_within_seconds),
            draft_within=timedelta(seconds=created.draft_within_seconds),
            revision_window=timedelta(seconds=created.revision_window_seconds),
        )
        await start_once(
            self.temporal,
            DOCUMENT_ORDER_WORKFLOW,
            params,
            id=document_order_workflow_id(created.document_order_id),
            task_queue=self.task_queue,
        )

    async def _signal(self, document_order_id: str, name: str, arg: BaseModel) -> None:
        await signal_if_running(self.temporal, document_order_workflow_id(document_order_id), name, arg)
