"""Links each consultation to its ConsultationWorkflow (`consultation-<id>`) from the service's own events,
through durable consumers, so a committed change always reaches the workflow, even if the process dies right
after the commit (services/consultation/events.py): `consultation.submitted` starts it (consumer
`workflow-starter`); `consultation.replied` tells it about each message (the assigned lawyer's first reply
stops the reply clock) and `consultation.closed` that the client or an agent closed it (consumer
`workflow-signaller`). Redelivery is harmless: a second `first_lawyer_reply` or close changes nothing, a repeated follow-up only restarts the
quiet period, and the workflow's own close (quiet period) comes back to it as a close it already made."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from services.runtime.records import from_timestamp
from services.runtime.temporal import signal_if_running, start_once
from workflows.shared import (
    COMPLAINT_WORKFLOW,
    CONSULTATION_WORKFLOW,
    ComplaintReopened,
    ComplaintWorkflowInput,
    ConsultationWorkflowInput,
    MessagePosted,
    complaint_workflow_id,
    consultation_workflow_id,
)


class WorkflowLink:
    """Starts and signals `consultation-<id>`; services/consultation/events.py says on which events."""

    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue

    async def message_posted(self, replied: events_pb2.ConsultationReplied) -> None:
        await signal_if_running(
            self.temporal,
            consultation_workflow_id(replied.consultation_id),
            "message_posted",
            MessagePosted(author_role=replied.author_role, first_lawyer_reply=replied.first_lawyer_reply),
        )

    async def close(self, closed: events_pb2.ConsultationClosed) -> None:
        await signal_if_running(
            self.temporal, consultation_workflow_id(closed.consultation_id), "close", closed.reason
        )

    async def start(self, submitted: events_pb2.ConsultationSubmitted, envelope: EventEnvelope) -> None:
        """Start the workflow of the consultation `envelope` (its tenant, its time) says was submitted."""
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
        await start_once(
            self.temporal,
            CONSULTATION_WORKFLOW,
            params,
            id=consultation_workflow_id(submitted.consultation_id),
            task_queue=self.task_queue,
        )

    async def complaint_changed(
        self, changed: events_pb2.ComplaintChanged, envelope: EventEnvelope, step: str
    ) -> None:
        """Start `complaint-<id>` when the complaint was raised; tell it when it was resolved, reopened or
        closed (`step`), starting it first when it never ran (a complaint of before its clocks, or an event
        consumed before `complaint.raised`): signal-with-start, so no change is lost either way."""
        due_at = from_timestamp(changed.due_at if changed.HasField("due_at") else envelope.occurred_at)
        signal_args = [ComplaintReopened(due_at=due_at)] if step == "reopened" else []
        await start_once(
            self.temporal,
            COMPLAINT_WORKFLOW,
            ComplaintWorkflowInput(
                complaint_id=changed.complaint_id, tenant_id=envelope.tenant_id, due_at=due_at
            ),
            id=complaint_workflow_id(changed.complaint_id),
            task_queue=self.task_queue,
            start_signal=None if step == "raised" else step,
            start_signal_args=signal_args,
        )
