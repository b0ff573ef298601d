"""Drives each order's DocumentOrderWorkflow from the service's own events: `docorder.created` starts it
(idempotent: the workflow id is the business id), and the facts people caused (acknowledged, drafted,
approved, rejected, accepted) become signals; a cancelled order's workflow is cancelled (its clocks stop). Because the events come from the outbox, a committed change
always reaches its workflow, even if the process dies right after the commit."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import TypeVar

from google.protobuf.message import Message
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.documents.v1 import events_pb2
from services.runtime.events import unpack
from services.runtime.records import from_timestamp
from workflows.shared import (
    AcceptSignal,
    AcknowledgeSignal,
    DocumentOrderWorkflowInput,
    DraftUploadedSignal,
    ReviewDecisionSignal,
    document_order_workflow_id,
)

M = TypeVar("M", bound=Message)

EVENTS = ("created", "acknowledged", "drafted", "approved", "rejected", "accepted", "cancelled")
SUBJECTS = [f"documents.docorder.{name}" for name in EVENTS]


class WorkflowDriver:
    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        at = from_timestamp(envelope.occurred_at)
        if envelope.type == "docorder.created":
            await self._start(_payload(envelope, events_pb2.DocOrderCreated), envelope.tenant_id)
        elif envelope.type == "docorder.acknowledged":
            ack = _payload(envelope, events_pb2.DocOrderAcknowledged)
            await self._signal(
                ack.document_order_id,
                "acknowledge",
                AcknowledgeSignal(agent_id=ack.agent_id, at=from_timestamp(ack.acknowledged_at)),
            )
        elif envelope.type == "docorder.drafted":
            drafted = _payload(envelope, events_pb2.DocOrderDrafted)
            await self._signal(
                drafted.document_order_id,
                "draft_uploaded",
                DraftUploadedSignal(
                    version_number=drafted.version_number, author_id=drafted.author_id, at=at
                ),
            )
        elif envelope.type == "docorder.approved":
            approved = _payload(envelope, events_pb2.DocOrderApproved)
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
            rejected = _payload(envelope, events_pb2.DocOrderRejected)
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
            accepted = _payload(envelope, events_pb2.DocOrderAccepted)
            await self._signal(
                accepted.document_order_id, "accept", AcceptSignal(client_id=accepted.client_id, at=at)
            )
        elif envelope.type == "docorder.cancelled":
            cancelled = _payload(envelope, events_pb2.DocOrderCancelled)
            await self._cancel(cancelled.document_order_id)

    async def _cancel(self, document_order_id: str) -> None:
        """Cancel the order's workflow (a Temporal cancellation: its timers stop and it ends as cancelled,
        without a change to the workflow's code). A workflow already closed needs nothing."""
        handle = self.temporal.get_workflow_handle(document_order_workflow_id(document_order_id))
        try:
            await handle.cancel()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            description = await handle.describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                raise

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
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.temporal.start_workflow(
                "DocumentOrderWorkflow",
                params,
                id=document_order_workflow_id(created.document_order_id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    async def _signal(self, document_order_id: str, name: str, arg: object) -> None:
        handle = self.temporal.get_workflow_handle(document_order_workflow_id(document_order_id))
        try:
            await handle.signal(name, arg)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # Not started yet (redelivered later) or already finished (nothing left to tell): only the
            # first is retried.
            description = await handle.describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                raise


def _payload(envelope: EventEnvelope, message_type: type[M]) -> M:
    message = unpack(envelope, message_type)
    assert isinstance(message, message_type)
    return message
