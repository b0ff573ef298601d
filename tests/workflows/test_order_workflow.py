"""OrderWorkflow on the time-skipping test server (R-PAY-2, R-PAY-3): the payment deadline is a Temporal
timer; every branch — timeout, late confirmation, payment, cancellation, fulfilment completed, failed or
cancelled (refund as compensation) — is driven here. Activities are fakes registered by name."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from workflows.orders import OrderWorkflow
from workflows.shared import (
    AdvanceOrderInput,
    FulfilmentOutcome,
    FulfilmentRef,
    FulfilmentRequest,
    OrderWorkflowInput,
    RefundOrderInput,
    order_workflow_id,
)

PAY_WITHIN = timedelta(minutes=30)


@workflow.defn(name="FakeFulfilmentWorkflow")
class FakeFulfilmentWorkflow:
    @workflow.run
    async def run(self, request: FulfilmentRequest) -> FulfilmentOutcome:
        outcome = request.tier.get("outcome", "completed")
        if outcome == "crash":
            raise ApplicationError("the fulfilment failed", non_retryable=True)
        await workflow.sleep(timedelta(hours=48))  # e.g. a 48 h delivery
        return FulfilmentOutcome(status=outcome)


class FakePaymentService:
    def __init__(
        self,
        *,
        late_status: str = "cancelled",
        fulfilment: FulfilmentRef | None = None,
        refuse_fulfilment: bool = False,
    ) -> None:
        self.late_status = late_status
        self.fulfilment = fulfilment
        self.refuse_fulfilment = refuse_fulfilment
        self.fulfilment_requests: list[FulfilmentRequest] = []
        self.calls: list[str] = []
        self.expired_at: list = []
        self.voucher_at: list = []
        self.advanced: list[AdvanceOrderInput] = []
        self.refunds: list[RefundOrderInput] = []

    @activity.defn(name="payment.expire_order")
    async def expire_order(self, order_id: str) -> str:
        self.calls.append("expire_order")
        self.expired_at.append(activity.info().current_attempt_scheduled_time)
        return self.late_status

    @activity.defn(name="payment.issue_voucher")
    async def issue_voucher(self, order_id: str) -> None:
        self.calls.append("issue_voucher")
        self.voucher_at.append(activity.info().current_attempt_scheduled_time)

    @activity.defn(name="payment.issue_invoice")
    async def issue_invoice(self, order_id: str) -> None:
        self.calls.append("issue_invoice")

    @activity.defn(name="payment.start_fulfilment")
    async def start_fulfilment(self, request: FulfilmentRequest) -> FulfilmentRef | None:
        self.calls.append("start_fulfilment")
        self.fulfilment_requests.append(request)
        if self.refuse_fulfilment:
            raise ApplicationError(
                "requirements.parties: is required", type="INVALID_ARGUMENT", non_retryable=True
            )
        return self.fulfilment

    @activity.defn(name="payment.advance_order")
    async def advance_order(self, request: AdvanceOrderInput) -> None:
        self.calls.append(f"advance:{request.status}")
        self.advanced.append(request)

    @activity.defn(name="payment.refund_order")
    async def refund_order(self, request: RefundOrderInput) -> None:
        self.calls.append("refund_order")
        self.refunds.append(request)

    def activities(self) -> list:
        return [
            self.expire_order,
            self.issue_voucher,
            self.issue_invoice,
            self.start_fulfilment,
            self.advance_order,
            self.refund_order,
        ]


async def start(
    env: WorkflowEnvironment, task_queue: str, tier: dict | None = None, **extra: object
) -> WorkflowHandle:
    """Starts an order whose time to pay ends PAY_WITHIN from the server's now (`handle.pay_before`)."""
    order_id = uuid.uuid4().hex
    params = OrderWorkflowInput.model_validate(
        {
            "order_id": order_id,
            "tenant_id": "tenant-1",
            "product_id": "p1",
            "category": "document",
            "tier": tier or {"id": "standard", "price": 99900},
            "pay_before": await env.get_current_time() + PAY_WITHIN,
            **extra,
        }
    )
    handle = await env.client.start_workflow(
        OrderWorkflow.run, params, id=order_workflow_id(order_id), task_queue=task_queue
    )
    handle.pay_before = params.pay_before  # type: ignore[attr-defined]
    return handle


def worker(env: WorkflowEnvironment, service: FakePaymentService) -> Worker:
    return Worker(
        env.client,
        task_queue=f"tq-{uuid.uuid4().hex}",
        workflows=[OrderWorkflow, FakeFulfilmentWorkflow],
        activities=service.activities(),
    )


async def test_an_unpaid_order_is_cancelled_when_its_time_to_pay_runs_out(env: WorkflowEnvironment) -> None:
    service = FakePaymentService()
    async with worker(env, service) as w:
        handle = await start(env, w.task_queue)
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("cancelled", "payment_timeout")
    assert service.calls == ["expire_order"]  # the service re-queries the provider before it cancels
    assert service.expired_at[0] >= handle.pay_before  # type: ignore[attr-defined]


async def test_a_payment_the_provider_confirms_at_the_deadline_is_not_lost(env: WorkflowEnvironment) -> None:
    service = FakePaymentService(late_status="paid")
    async with worker(env, service) as w:
        outcome = await (await start(env, w.task_queue)).result()
    assert outcome.status == "in_service"
    assert service.calls == [
        "expire_order",
        "issue_voucher",
        "issue_invoice",
        "start_fulfilment",
        "advance:in_service",
    ]


async def test_payment_issues_the_voucher_and_puts_the_order_in_service(env: WorkflowEnvironment) -> None:
    service = FakePaymentService()
    async with worker(env, service) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await handle.signal(OrderWorkflow.paid, "pay-2")  # a second signal changes nothing
        outcome = await handle.result()
        stage = await handle.query(OrderWorkflow.stage)
    assert (outcome.status, stage) == ("in_service", "in_service")
    assert service.calls == ["issue_voucher", "issue_invoice", "start_fulfilment", "advance:in_service"]
    assert service.voucher_at[0] < handle.pay_before  # type: ignore[attr-defined]  # no timer had to fire


async def test_a_cancelled_order_ends_without_waiting_or_expiring(env: WorkflowEnvironment) -> None:
    service = FakePaymentService()
    async with worker(env, service) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.cancelled, "client_request")
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("cancelled", "client_request")
    assert service.calls == []


async def test_a_completed_fulfilment_completes_the_order(env: WorkflowEnvironment) -> None:
    ref = FulfilmentRef(
        kind="document", id="doc-1", workflow="FakeFulfilmentWorkflow", workflow_id=f"f-{uuid.uuid4().hex}"
    )
    service = FakePaymentService(fulfilment=ref)
    async with worker(env, service) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.paid, "pay-1")
        outcome = await handle.result()
    assert outcome.status == "completed"
    assert service.advanced[0].fulfilment_kind == "document" and service.advanced[0].fulfilment_id == "doc-1"
    assert service.calls[-1] == "advance:completed" and not service.refunds


@pytest.mark.parametrize(
    ("behaviour", "reason"), [("crash", "fulfilment_failed"), ("cancelled", "fulfilment_cancelled")]
)
async def test_a_failed_or_cancelled_fulfilment_is_compensated_by_a_refund(
    env: WorkflowEnvironment, behaviour: str, reason: str
) -> None:
    ref = FulfilmentRef(
        kind="document", id="doc-2", workflow="FakeFulfilmentWorkflow", workflow_id=f"f-{uuid.uuid4().hex}"
    )
    service = FakePaymentService(fulfilment=ref)
    async with worker(env, service) as w:
        handle = await start(env, w.task_queue, tier={"id": "standard", "price": 99900, "outcome": behaviour})
        await handle.signal(OrderWorkflow.paid, "pay-1")
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("refunded", reason)
    assert [r.reason for r in service.refunds] == [reason] and service.refunds[0].amount == 0  # in full
    assert "advance:completed" not in service.calls


async def test_a_paid_document_order_starts_its_document_order_and_waits_in_service(
    env: WorkflowEnvironment,
) -> None:
    """The document order runs its own `docorder-<id>` workflow (started by the documents service); the
    order is in service with it as the fulfilment, and is completed by the payment service on
    `documents.docorder.completed`, so no child workflow is awaited here."""
    service = FakePaymentService(fulfilment=FulfilmentRef(kind="document", id="docorder-row-1"))
    requirements = {"contract_type": "服务 Services", "parties": ["甲方", "乙方"], "key_terms": "按月付款"}
    tier = {"id": "simple", "complexity": "simple", "price": 49900, "acknowledge_minutes": 30}
    async with worker(env, service) as w:
        handle = await start(
            env,
            w.task_queue,
            tier=tier,
            product_id="doc-contract-drafting",
            client_id="client-1",
            requirements=requirements,
        )
        await env.sleep(timedelta(minutes=5))  # the client pays five minutes after ordering
        signalled_at = await env.get_current_time()
        await handle.signal(OrderWorkflow.paid, "pay-1")
        outcome = await handle.result()
        stage = await handle.query(OrderWorkflow.stage)
    assert (outcome.status, stage) == ("in_service", "in_service")
    assert service.calls == ["issue_voucher", "issue_invoice", "start_fulfilment", "advance:in_service"]
    [request] = service.fulfilment_requests
    assert (request.category, request.product_id, request.client_id) == (
        "document",
        "doc-contract-drafting",
        "client-1",
    )
    assert request.tier == tier and request.requirements == requirements
    assert request.paid_at is not None and abs(request.paid_at - signalled_at) < timedelta(seconds=5)
    assert (service.advanced[0].fulfilment_kind, service.advanced[0].fulfilment_id) == (
        "document",
        "docorder-row-1",
    )
    assert not service.refunds


async def test_a_fulfilment_the_owning_service_refuses_is_compensated_by_a_refund(
    env: WorkflowEnvironment,
) -> None:
    service = FakePaymentService(refuse_fulfilment=True)
    async with worker(env, service) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.paid, "pay-1")
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("refunded", "fulfilment_failed")
    assert service.calls == ["issue_voucher", "issue_invoice", "start_fulfilment", "refund_order"]
    assert service.refunds[0].amount == 0 and not service.advanced


async def test_recorded_histories_replay_deterministically(env: WorkflowEnvironment) -> None:
    """Guards later changes of OrderWorkflow: histories of the paid, refunded and timed-out paths replay."""
    ref = FulfilmentRef(
        kind="document", id="doc-3", workflow="FakeFulfilmentWorkflow", workflow_id=f"f-{uuid.uuid4().hex}"
    )
    histories = []
    for late_status, fulfilment, tier, pay in (
        ("cancelled", None, None, False),
        ("cancelled", None, None, True),
        ("cancelled", ref, {"id": "standard", "price": 99900, "outcome": "crash"}, True),
    ):
        service = FakePaymentService(late_status=late_status, fulfilment=fulfilment)
        async with worker(env, service) as w:
            handle = await start(env, w.task_queue, tier=tier)
            if pay:
                await handle.signal(OrderWorkflow.paid, "pay-1")
            await handle.result()
            histories.append(await handle.fetch_history())
    replayer = Replayer(
        workflows=[OrderWorkflow, FakeFulfilmentWorkflow], data_converter=pydantic_data_converter
    )
    for history in histories:
        await replayer.replay_workflow(history)
