"""Drives each order's workflow from the service's own events, so a committed order always gets its
workflow and a committed payment always reaches it, even if the process dies right after the commit:
`order.created` starts `order-<id>`, `order.paid` signals it (signal-with-start), `order.cancelled`
tells it the client gave up. Starting is idempotent: the workflow id is the business id."""

from __future__ import annotations

import contextlib
import logging

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.payment.v1 import events_pb2
from services.payment.models import OrderRow
from services.runtime.events import unpack
from workflows.shared import OrderWorkflowInput, order_workflow_id

log = logging.getLogger(__name__)

SUBJECTS = ["payment.order.created", "payment.order.paid", "payment.order.cancelled"]


def workflow_input(row: OrderRow) -> OrderWorkflowInput:
    return OrderWorkflowInput(
        order_id=row.id,
        tenant_id=row.tenant_id,
        product_id=row.product_id,
        category=row.category,
        tier=row.tier,
        pay_before=row.pay_before,
        client_id=row.client_id,
        requirements=row.requirements,
        booking=row.booking,
    )


class OrderWorkflowStarter:
    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue

    async def _start(self, row: OrderRow, signal: str | None = None, args: list[str] | None = None) -> None:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.temporal.start_workflow(
                "OrderWorkflow",
                workflow_input(row),
                id=order_workflow_id(row.id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                start_signal=signal,
                start_signal_args=args or [],
            )

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        row = await session.get(OrderRow, envelope.aggregate_id)
        if row is None:
            log.error("event for an unknown order", extra={"event_id": envelope.id})
            return
        if envelope.type == "order.created":
            await self._start(row)
        elif envelope.type == "order.paid":
            paid = unpack(envelope, events_pb2.OrderPaid)
            assert isinstance(paid, events_pb2.OrderPaid)
            await self._start(row, "paid", [paid.payment_id])
        elif envelope.type == "order.cancelled":
            cancelled = unpack(envelope, events_pb2.OrderCancelled)
            assert isinstance(cancelled, events_pb2.OrderCancelled)
            try:
                await self.temporal.get_workflow_handle(order_workflow_id(row.id)).signal(
                    "cancelled", cancelled.reason
                )
            except RPCError as exc:  # the workflow itself cancelled the order and has finished
                log.info("cancel signal not delivered", extra={"order_id": row.id, "error": exc.status.name})
