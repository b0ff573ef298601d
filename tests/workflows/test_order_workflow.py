"""OrderWorkflow on the time-skipping test server (R-PAY-2, R-PAY-3): the payment deadline and a consultation
order's time to be used are Temporal timers; every branch — timeout, late confirmation, payment,
cancellation, a fulfilment started by its owner or by the client, completed, refused, cancelled, never
served, a booking cancelled with part of its price refunded — is driven here. Activities are fakes
registered by name; the fulfilment's start and end arrive as the signals the payment service's
fulfilment-links consumer sends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from workflows.orders import OrderWorkflow
from workflows.shared import (
    AdvanceOrderInput,
    FulfilmentEnded,
    FulfilmentRef,
    FulfilmentRequest,
    OrderWorkflowInput,
    RefundOrderInput,
    order_workflow_id,
)

PAY_WITHIN = timedelta(minutes=30)
USE_WITHIN = timedelta(days=30)


class FakeServices:
    """Payment's commands and the fulfilling services' starts, as the workflow calls them."""

    def __init__(self, *, late_status: str = "cancelled", refuse_fulfilment: bool = False) -> None:
        self.late_status = late_status
        self.refuse_fulfilment = refuse_fulfilment
        self.fulfilment_requests: list[FulfilmentRequest] = []
        self.calls: list[str] = []
        self.expired_at: list[datetime] = []
        self.voucher_at: list[datetime] = []
        self.advanced: list[AdvanceOrderInput] = []
        self.refunds: list[RefundOrderInput] = []
        self.refunded_at: list[datetime] = []

    def _at(self) -> datetime:
        return activity.info().current_attempt_scheduled_time

    @activity.defn(name="payment.expire_order")
    async def expire_order(self, order_id: str) -> str:
        self.calls.append("expire_order")
        self.expired_at.append(self._at())
        return self.late_status

    @activity.defn(name="payment.issue_voucher")
    async def issue_voucher(self, order_id: str) -> None:
        self.calls.append("issue_voucher")
        self.voucher_at.append(self._at())

    @activity.defn(name="payment.issue_invoice")
    async def issue_invoice(self, order_id: str) -> None:
        self.calls.append("issue_invoice")

    def _start(self, request: FulfilmentRequest, kind: str) -> FulfilmentRef:
        self.calls.append(f"start:{kind}")
        self.fulfilment_requests.append(request)
        if self.refuse_fulfilment:
            raise ApplicationError(
                "requirements.parties: is required", type="INVALID_ARGUMENT", non_retryable=True
            )
        return FulfilmentRef(kind=kind, id=f"{kind}-1")

    @activity.defn(name="documents.create_document_order")
    async def create_document_order(self, request: FulfilmentRequest) -> FulfilmentRef:
        return self._start(request, "document")

    @activity.defn(name="booking.confirm_booking")
    async def confirm_booking(self, request: FulfilmentRequest) -> FulfilmentRef:
        return self._start(request, "booking")

    @activity.defn(name="payment.advance_order")
    async def advance_order(self, request: AdvanceOrderInput) -> None:
        self.calls.append(f"advance:{request.status}")
        self.advanced.append(request)

    @activity.defn(name="payment.refund_order")
    async def refund_order(self, request: RefundOrderInput) -> None:
        self.calls.append("refund_order")
        self.refunds.append(request)
        self.refunded_at.append(self._at())

    def activities(self) -> list:
        return [
            self.expire_order,
            self.issue_voucher,
            self.issue_invoice,
            self.create_document_order,
            self.confirm_booking,
            self.advance_order,
            self.refund_order,
        ]


async def start(
    env: WorkflowEnvironment,
    task_queue: str,
    category: str = "document",
    tier: dict | None = None,
    **extra: object,
) -> WorkflowHandle:
    """Starts an order whose time to pay ends PAY_WITHIN from the server's now (`handle.pay_before`)."""
    order_id = uuid.uuid4().hex
    params = OrderWorkflowInput.model_validate(
        {
            "order_id": order_id,
            "tenant_id": "tenant-1",
            "product_id": "p1",
            "category": category,
            "tier": tier or {"id": "standard", "price": 99900},
            "pay_before": await env.get_current_time() + PAY_WITHIN,
            **({"fulfil_within": USE_WITHIN} if category == "consultation" else {}),
            **extra,
        }
    )
    handle = await env.client.start_workflow(
        OrderWorkflow.run, params, id=order_workflow_id(order_id), task_queue=task_queue
    )
    handle.pay_before = params.pay_before  # type: ignore[attr-defined]
    return handle


def worker(env: WorkflowEnvironment, services: FakeServices) -> Worker:
    return Worker(
        env.client,
        task_queue=f"tq-{uuid.uuid4().hex}",
        workflows=[OrderWorkflow],
        activities=services.activities(),
    )


async def in_service(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    """Let the workflow work (tiny skips) until it waits in service for its fulfilment."""
    for _ in range(30):
        await env.sleep(timedelta(seconds=1))
        if await handle.query(OrderWorkflow.stage) == "in_service":
            return
    raise AssertionError("the order never went in service")


def ended(kind: str, served: bool, refund_fen: int | None = None) -> FulfilmentEnded:
    return FulfilmentEnded(kind=kind, id=f"{kind}-1", served=served, refund_fen=refund_fen)


async def test_an_unpaid_order_is_cancelled_when_its_time_to_pay_runs_out(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue)
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("cancelled", "payment_timeout")
    assert services.calls == ["expire_order"]  # the service re-queries the provider before it cancels
    assert services.expired_at[0] >= handle.pay_before  # type: ignore[attr-defined]


async def test_a_payment_the_provider_confirms_at_the_deadline_is_not_lost(env: WorkflowEnvironment) -> None:
    services = FakeServices(late_status="paid")
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue)
        await env.sleep(PAY_WITHIN)
        await in_service(env, handle)
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("document", served=True))
        outcome = await handle.result()
    assert outcome.status == "completed"
    assert services.calls == [
        "expire_order",
        "issue_voucher",
        "issue_invoice",
        "start:document",
        "advance:in_service",
        "advance:completed",
    ]


async def test_payment_issues_the_voucher_and_puts_the_order_in_service(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await handle.signal(OrderWorkflow.paid, "pay-2")  # a second signal changes nothing
        await in_service(env, handle)
        assert services.calls == ["issue_voucher", "issue_invoice", "start:document", "advance:in_service"]
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("document", served=True))
        await handle.result()
    assert services.voucher_at[0] < handle.pay_before  # type: ignore[attr-defined]  # no timer had to fire


async def test_a_cancelled_order_ends_without_waiting_or_expiring(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.cancelled, "client_request")
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("cancelled", "client_request")
    assert services.calls == []


async def test_a_completed_fulfilment_completes_the_order(env: WorkflowEnvironment) -> None:
    """Only the end of the order's own fulfilment counts; a redelivered end changes nothing."""
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await in_service(env, handle)
        other = FulfilmentEnded(kind="document", id="document-9", served=True)
        await handle.signal(OrderWorkflow.fulfilment_ended, other)
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("document", served=True))
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("document", served=True))
        outcome = await handle.result()
        stage = await handle.query(OrderWorkflow.stage)
    assert (outcome.status, stage) == ("completed", "completed")
    assert (services.advanced[0].fulfilment_kind, services.advanced[0].fulfilment_id) == (
        "document",
        "document-1",
    )
    assert services.calls[-1] == "advance:completed" and not services.refunds


async def test_a_cancelled_fulfilment_is_compensated_by_a_refund_in_full(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await in_service(env, handle)
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("document", served=False))
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("refunded", "fulfilment_cancelled")
    assert [r.reason for r in services.refunds] == ["fulfilment_cancelled"] and services.refunds[
        0
    ].amount == 0
    assert "advance:completed" not in services.calls


async def test_a_paid_document_order_starts_its_document_order_and_waits_in_service(
    env: WorkflowEnvironment,
) -> None:
    """The document order runs its own `docorder-<id>` workflow (started by the documents service); the
    order is in service with it as the fulfilment until its end arrives. What the client typed is not handed
    on: the fulfilment's activity reads it from payment by the order's id."""
    services = FakeServices()
    requirements = {"contract_type": "服务 Services", "parties": ["甲方", "乙方"], "key_terms": "按月付款"}
    tier = {"id": "simple", "complexity": "simple", "price": 49900, "acknowledge_minutes": 30}
    async with worker(env, services) as w:
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
        await in_service(env, handle)
        await env.sleep(timedelta(days=10))  # the wait for the end has no clock of its own
        assert await handle.query(OrderWorkflow.stage) == "in_service"
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("document", served=True))
        await handle.result()
    assert services.calls[:4] == ["issue_voucher", "issue_invoice", "start:document", "advance:in_service"]
    [request] = services.fulfilment_requests
    assert (request.category, request.product_id, request.client_id) == (
        "document",
        "doc-contract-drafting",
        "client-1",
    )
    # The answers of an input recorded before (docs/privacy.md) are not copied on: the activity reads them.
    assert request.tier == tier and request.requirements == {}
    assert request.paid_at is not None and abs(request.paid_at - signalled_at) < timedelta(seconds=5)
    assert (services.advanced[0].fulfilment_kind, services.advanced[0].fulfilment_id) == (
        "document",
        "document-1",
    )
    assert not services.refunds


async def test_a_fulfilment_the_owning_service_refuses_is_compensated_by_a_refund(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(refuse_fulfilment=True)
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue)
        await handle.signal(OrderWorkflow.paid, "pay-1")
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("refunded", "fulfilment_failed")
    assert services.calls == ["issue_voucher", "issue_invoice", "start:document", "refund_order"]
    assert services.refunds[0].amount == 0 and not services.advanced


async def test_a_consultation_order_completes_when_its_consultation_closes_served(
    env: WorkflowEnvironment,
) -> None:
    """The client starts the fulfilment: the consultation submitted against the order is linked once (a
    second one is never the order's), and its close, served, completes the order."""
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, "consultation")
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await in_service(env, handle)
        await env.sleep(timedelta(days=3))
        consultation = FulfilmentRef(kind="consultation", id="consultation-1")
        await handle.signal(OrderWorkflow.fulfilment_started, consultation)
        await handle.signal(OrderWorkflow.fulfilment_started, FulfilmentRef(kind="consultation", id="c-2"))
        await handle.signal(
            OrderWorkflow.fulfilment_ended, FulfilmentEnded(kind="consultation", id="c-2", served=False)
        )
        await env.sleep(timedelta(days=40))  # past the time to use it: it was used
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("consultation", served=True))
        outcome = await handle.result()
    assert outcome.status == "completed" and not services.refunds
    assert services.calls == [
        "issue_voucher",
        "issue_invoice",
        "advance:in_service",
        "advance:in_service",
        "advance:completed",
    ]
    linked = services.advanced[1]
    assert (linked.fulfilment_kind, linked.fulfilment_id) == ("consultation", "consultation-1")
    assert services.fulfilment_requests == []  # nothing to start in another service


async def test_a_consultation_closed_unserved_is_refunded(env: WorkflowEnvironment) -> None:
    """The end can overtake the start (both come from events): the close alone ends the order."""
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, "consultation")
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await handle.signal(OrderWorkflow.fulfilment_ended, ended("consultation", served=False))
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("refunded", "fulfilment_cancelled")
    assert services.refunds[0].amount == 0  # in full
    assert services.advanced[-1].fulfilment_id == "consultation-1"


async def test_a_consultation_order_never_used_is_refunded_when_its_time_runs_out(
    env: WorkflowEnvironment,
) -> None:
    """The order's terms (`fulfil_within`, from the payment service) race the client's consultation on a
    Temporal timer: nothing is submitted, and the order is refunded in full at the deadline, not before."""
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, "consultation")
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await in_service(env, handle)
        paid_at = await env.get_current_time()
        await env.sleep(USE_WITHIN - timedelta(hours=1))
        assert services.refunds == [] and await handle.query(OrderWorkflow.stage) == "in_service"
        outcome = await handle.result()
    assert (outcome.status, outcome.reason) == ("refunded", "fulfilment_not_served")
    [refund] = services.refunds
    assert refund.amount == 0 and refund.idempotency_key
    assert services.refunded_at[0] - paid_at >= USE_WITHIN - timedelta(seconds=5)
    assert services.calls == ["issue_voucher", "issue_invoice", "advance:in_service", "refund_order"]


@pytest.mark.parametrize(
    ("refund_fen", "status", "calls"),
    [
        (None, "refunded", ["refund_order"]),
        (29950, "completed", ["refund_order", "advance:completed"]),
        (0, "completed", ["advance:completed"]),
    ],
    ids=["refunded in full", "part of the price kept", "the whole price kept"],
)
async def test_a_cancelled_booking_refunds_what_its_policy_decided(
    env: WorkflowEnvironment, refund_fen: int | None, status: str, calls: list[str]
) -> None:
    """The booking service's cancellation policy decides the refund (`booking.cancelled`); the order makes
    it, and an order that keeps part of its price is complete."""
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, "booking", booking={"booking_id": "booking-1"})
        await handle.signal(OrderWorkflow.paid, "pay-1")
        await in_service(env, handle)
        end = ended("booking", False, refund_fen).model_copy(
            update={"reason": "booking_cancelled: client_request"}
        )
        await handle.signal(OrderWorkflow.fulfilment_ended, end)
        outcome = await handle.result()
    assert outcome.status == status
    assert services.calls[:4] == ["issue_voucher", "issue_invoice", "start:booking", "advance:in_service"]
    assert services.calls[4:] == calls
    assert [(r.amount, r.reason) for r in services.refunds] == (
        [(refund_fen or 0, "booking_cancelled: client_request")] if refund_fen != 0 else []
    )
    assert services.fulfilment_requests[0].booking == {"booking_id": "booking-1"}


async def test_a_retainer_is_in_service_for_its_term(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, "retainer")
        await handle.signal(OrderWorkflow.paid, "pay-1")
        outcome = await handle.result()
    assert outcome.status == "in_service"
    assert services.calls == ["issue_voucher", "issue_invoice", "advance:in_service"]


async def test_recorded_histories_replay_deterministically(env: WorkflowEnvironment) -> None:
    """Guards later changes of OrderWorkflow: histories of the completed, refunded, never-used and timed-out
    paths replay (those recorded before the order waited for its fulfilment: tests/workflows/histories)."""
    histories = []
    for category, refuse, pay, end in (
        ("document", False, False, None),
        ("document", False, True, ended("document", served=True)),
        ("document", True, True, None),
        ("consultation", False, True, ended("consultation", served=False)),
        ("consultation", False, True, None),
    ):
        services = FakeServices(refuse_fulfilment=refuse)
        async with worker(env, services) as w:
            handle = await start(env, w.task_queue, category)
            if pay:
                await handle.signal(OrderWorkflow.paid, "pay-1")
            if end is not None:
                await handle.signal(OrderWorkflow.fulfilment_ended, end)
            await handle.result()
            histories.append(await handle.fetch_history())
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=env.client.data_converter)
    for history in histories:
        await replayer.replay_workflow(history)
