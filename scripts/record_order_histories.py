"""Record OrderWorkflow histories for the replay test (tests/workflows/test_replay.py).

    python scripts/record_order_histories.py

Runs the paid and the payment-timeout paths on the time-skipping test server with no-op activities and
writes tests/workflows/histories/order_*.json. Re-record only for a deliberate, patched() change; keep old
files too."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from deploy.local.servers import find_binary
from workflows.orders import OrderWorkflow
from workflows.shared import AdvanceOrderInput, FulfilmentRef, FulfilmentRequest, OrderWorkflowInput

OUT = Path(__file__).resolve().parent.parent / "tests" / "workflows" / "histories"


@activity.defn(name="payment.expire_order")
async def expire_order(order_id: str) -> str:
    return "cancelled"


@activity.defn(name="payment.issue_voucher")
async def issue_voucher(order_id: str) -> None:
    return None


@activity.defn(name="payment.issue_invoice")
async def issue_invoice(order_id: str) -> None:
    return None


@activity.defn(name="payment.start_fulfilment")
async def start_fulfilment(request: FulfilmentRequest) -> FulfilmentRef | None:
    return None


@activity.defn(name="payment.advance_order")
async def advance_order(request: AdvanceOrderInput) -> None:
    return None


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with (
        await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=find_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        ) as env,
        Worker(
            env.client,
            task_queue="record",
            workflows=[OrderWorkflow],
            activities=[expire_order, issue_voucher, issue_invoice, start_fulfilment, advance_order],
        ),
    ):
        for name, pay in [("payment_timeout", False), ("paid", True)]:
            params = OrderWorkflowInput(
                order_id=f"rec-{name}",
                tenant_id="t1",
                product_id="p1",
                category="consultation",
                tier={"id": "standard", "price": 19900, "reply_hours": 24},
                pay_before=await env.get_current_time() + timedelta(minutes=30),
            )
            handle = await env.client.start_workflow(
                OrderWorkflow.run, params, id=f"order-rec-{name}", task_queue="record"
            )
            if pay:
                await handle.signal(OrderWorkflow.paid, "pay-1")
            await handle.result()
            history = await handle.fetch_history()
            (OUT / f"order_{name}.json").write_text(history.to_json())


if __name__ == "__main__":
    asyncio.run(main())
