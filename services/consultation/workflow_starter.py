"""Starts each submitted consultation's workflow from the service's own `consultation.submitted` event,
so a consultation that is committed always gets its workflow, even if the process dies right after the
commit. Starting is idempotent: the workflow id is the business id and duplicates are rejected."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from services.runtime.events import unpack
from services.runtime.records import from_timestamp
from workflows.shared import ConsultationWorkflowInput, MessagePosted, consultation_workflow_id

log = logging.getLogger(__name__)

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


REPLIED_SUBJECTS = ["consultation.consultation.replied"]


class WorkflowSignaller:
    """Tells the consultation's workflow about each message from the service's own `consultation.replied`
    event, so a committed reply always reaches the workflow (the assigned lawyer's first reply stops the
    reply clock) even if the process dies right after the commit. Redelivery is harmless: a second
    `first_lawyer_reply` changes nothing, and a repeated follow-up only restarts the quiet period."""

    def __init__(self, temporal: Client) -> None:
        self.temporal = temporal

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        replied = unpack(envelope, events_pb2.ConsultationReplied)
        assert isinstance(replied, events_pb2.ConsultationReplied)
        handle = self.temporal.get_workflow_handle(consultation_workflow_id(replied.consultation_id))
        try:
            await handle.signal(
                "message_posted",
                MessagePosted(author_role=replied.author_role, first_lawyer_reply=replied.first_lawyer_reply),
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # The workflow already finished (closed): the message is stored, nothing to tell.
            log.info("message signal not delivered", extra={"workflow_id": handle.id})
