"""Starts each submitted consultation's workflow from the service's own `consultation.submitted` event,
so a consultation that is committed always gets its workflow, even if the process dies right after the
commit. Starting is idempotent: the workflow id is the business id and duplicates are rejected."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from services.runtime.events import unpack
from services.runtime.records import from_timestamp
from workflows.shared import ConsultationWorkflowInput, consultation_workflow_id

SUBJECTS = ["consultation.consultation.submitted"]


class WorkflowStarter:
    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        submitted = unpack(envelope, events_pb2.ConsultationSubmitted)
        assert isinstance(submitted, events_pb2.ConsultationSubmitted)
        submitted_at = from_timestamp(envelope.occurred_at)
        reply_within = (
            from_timestamp(submitted.reply_due_at) - submitted_at
            if submitted.HasField("reply_due_at")
            else None
        )
        params = ConsultationWorkflowInput(
            consultation_id=submitted.consultation_id,
            tenant_id=envelope.tenant_id,
            kind=submitted.kind,
            submitted_at=submitted_at,
            reply_within=reply_within if reply_within and reply_within > timedelta(0) else None,
        )
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.temporal.start_workflow(
                "ConsultationWorkflow",
                params,
                id=consultation_workflow_id(submitted.consultation_id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
