"""Links each order to its OrderWorkflow (`order-<id>`) from events, through durable consumers
(services/payment/events.py), so a committed change always reaches the workflow, even if the process dies
right after the commit:
- the service's own events (consumer `order-workflows`): `order.created` starts the workflow, `order.paid`
  signals it (signal-with-start), `order.cancelled` tells it the client gave up;
- the fulfilling services' events (consumer `fulfilment-links`) tell it its fulfilment started (the
  consultation submitted against a consultation order) and ended: a consultation closed (served when a lawyer
  answered or a call took place), a document order completed or cancelled, a booking completed (a no-show
  too: the lawyer was there) or cancelled with the refund its policy decided, an online call that used up its
  phone order ended (the call is that order's fulfilment, served). The workflow completes or
  refunds the order; an event naming another enterprise's order is ignored."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from services.payment.models import OrderRow
from services.payment.store.sealed import BOOKING, BOOKING_FACTS, open_answers, order_subject
from services.runtime.keys import DataKeys
from services.runtime.temporal import signal_if_running, start_once
from workflows.shared import (
    ORDER_WORKFLOW,
    FulfilmentEnded,
    FulfilmentRef,
    OrderWorkflowInput,
    order_workflow_id,
)

log = logging.getLogger(__name__)


class OrderWorkflowLink:
    """Starts and signals `order-<id>`; services/payment/events.py says on which events."""

    def __init__(
        self, temporal: Client, task_queue: str, consultation_use_within: timedelta, keys: DataKeys
    ) -> None:
        self.temporal = temporal
        self.task_queue = task_queue
        self.consultation_use_within = consultation_use_within
        # Open the held booking's id for the workflow; erasure destroys them (the `erasure` consumer's context
        # is this link).
        self.keys = keys

    async def workflow_input(self, row: OrderRow) -> OrderWorkflowInput:
        """The workflow's input carries references, never what the client typed: its history is sealed with
        the platform's payload key, which no erasure destroys (docs/privacy.md, "Workflow histories")."""
        booking = open_answers(
            await self.keys.cipher(order_subject(row)), BOOKING, row.booking, BOOKING_FACTS
        )
        return OrderWorkflowInput(
            order_id=row.id,
            tenant_id=row.tenant_id,
            product_id=row.product_id,
            category=row.category,
            tier=row.tier,
            pay_before=row.pay_before,
            client_id=row.client_id,
            booking={"booking_id": booking["booking_id"]} if "booking_id" in booking else {},
            fulfil_within=self.consultation_use_within if row.category == "consultation" else None,
        )

    async def start(self, row: OrderRow, paid_by: str = "") -> None:
        """Start the order's workflow, told at once that payment `paid_by` paid it (when one did)."""
        await start_once(
            self.temporal,
            ORDER_WORKFLOW,
            await self.workflow_input(row),
            id=order_workflow_id(row.id),
            task_queue=self.task_queue,
            start_signal="paid" if paid_by else None,
            start_signal_args=[paid_by] if paid_by else [],
        )

    async def cancelled(self, order_id: str, reason: str) -> None:
        # A workflow that has finished cancelled the order itself (its time to pay ran out).
        await signal_if_running(self.temporal, order_workflow_id(order_id), "cancelled", reason)

    async def fulfilment(
        self,
        session: AsyncSession,
        tenant_id: str,
        order_id: str,
        signal: str,
        arg: FulfilmentRef | FulfilmentEnded,
    ) -> None:
        """Tell the order `order_id`'s workflow what its fulfilment's owner reported (`signal`: started or
        ended); an event of another enterprise (`tenant_id`) or naming no order of payment's is ignored."""
        order = await session.get(OrderRow, order_id) if order_id else None
        if order is None or order.tenant_id != tenant_id:
            return
        if (
            isinstance(arg, FulfilmentEnded)
            and (arg.refund_fen or 0) >= order.amount_fen - order.refunded_fen
        ):
            arg = arg.model_copy(update={"refund_fen": None})  # all that is left
        delivered = await signal_if_running(self.temporal, order_workflow_id(order.id), signal, arg)
        if not delivered and (order.status, order.fulfilment_kind, order.fulfilment_id) == (
            "in_service",
            arg.kind,
            arg.id,
        ):
            # Put in service before OrderWorkflow waited for its fulfilment, its workflow has ended: an agent
            # refunds the order if its fulfilment was cancelled (docs/architecture.md).
            log.warning("an order in service has no workflow to settle it", extra={"order_id": order.id})
