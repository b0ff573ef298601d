"""Links each document order to its DocumentOrderWorkflow (`docorder-<id>`) from the service's own events,
through its durable consumer `workflow-driver` (services/documents/events.py), so a committed change always
reaches the workflow, even if the process dies right after the commit: `docorder.created` starts it, the
facts people caused (acknowledged, assigned by an agent, drafted, approved, rejected, accepted) become
signals, and a cancelled order's workflow is cancelled (its clocks stop, with no change to the workflow's
code)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import Client

from counsel.documents.v1 import events_pb2
from services.runtime.records import from_timestamp
from services.runtime.temporal import cancel_if_running, signal_if_running, start_once
from workflows.shared import (
    DOCUMENT_ORDER_WORKFLOW,
    DocumentOrderWorkflowInput,
    document_order_workflow_id,
)


class WorkflowLink:
    """Starts, signals and cancels `docorder-<id>`; services/documents/events.py says on which events."""

    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue

    async def start(self, created: events_pb2.DocOrderCreated, tenant_id: str) -> None:
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

    async def signal(self, document_order_id: str, name: str, arg: BaseModel) -> None:
        await signal_if_running(self.temporal, document_order_workflow_id(document_order_id), name, arg)

    async def cancel(self, document_order_id: str) -> None:
        await cancel_if_running(self.temporal, document_order_workflow_id(document_order_id))
