"""The order's timeline across payment and fulfilment (§9.2, R-Q-3, API.md `GET /api/v1/orders/{id}/timeline`),
joined by the gateway: the pure join of payment's stage records with the stages the fulfilment's owner
recorded, and the product's process for what is still pending."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import grpc
import pytest

from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import timeline_pb2
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from counsel.documents.v1 import documents_service_pb2 as docs_pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.gateway.clients import Clients
from services.gateway.problems import GRPC_TO_HTTP
from services.gateway.timeline import StageFact, join_timeline, order_timeline
from services.runtime.records import to_timestamp

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
DOCUMENT_PROCESS = ("paid", "awaiting_acknowledgement", "drafting", "in_review", "delivered", "completed")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fact(stage: str, minutes: float, due: float | None = None, actor: str = "system") -> StageFact:
    return StageFact(stage, at(minutes), at(due) if due is not None else None, actor)


PAYMENT = [
    fact("pending_payment", 0, due=30, actor="client-1"),
    fact("paid", 5),
    fact("voucher_issued", 5.1),
    fact("invoice_issued", 5.2),
    # the workflow creates the document order (its first stage) just before moving the order in service
    fact("in_service", 5.4),
]


def test_an_unpaid_order_shows_its_first_stage_current_and_the_products_stages_pending() -> None:
    timeline = join_timeline(PAYMENT[:1], [], "", DOCUMENT_PROCESS, "pending_payment")
    assert [(e.stage, e.status) for e in timeline] == [("pending_payment", "current")] + [
        (stage, "pending") for stage in DOCUMENT_PROCESS
    ]
    assert timeline[0].due_at == at(30) and timeline[0].actor == "client-1"
    assert all(e.entered_at is None and e.due_at is None for e in timeline[1:])


def test_the_fulfilments_stages_follow_the_stage_that_started_it_with_their_owners_times() -> None:
    documents = [
        fact("awaiting_acknowledgement", 5.3, due=35.3),
        fact("drafting", 10, due=24 * 60 + 10, actor="agent-1"),
    ]
    timeline = join_timeline(PAYMENT, documents, "document", DOCUMENT_PROCESS, "in_service")
    assert [(e.stage, e.status) for e in timeline] == [
        ("pending_payment", "done"),
        ("paid", "done"),
        ("voucher_issued", "done"),
        ("invoice_issued", "done"),
        ("in_service", "done"),
        ("awaiting_acknowledgement", "done"),
        ("drafting", "current"),
        ("in_review", "pending"),
        ("delivered", "pending"),
        ("completed", "pending"),
    ]
    drafting = timeline[6]
    assert (drafting.entered_at, drafting.due_at, drafting.actor) == (at(10), at(24 * 60 + 10), "agent-1")


def test_a_completed_order_shows_each_stage_once_done_and_repeated_stages_each_time() -> None:
    documents = [
        fact("awaiting_acknowledgement", 5.3, due=35.3),
        fact("drafting", 10, due=100),
        fact("in_review", 20, actor="lawyer-1"),
        fact("drafting", 25, due=100, actor="reviewer-1"),  # rejected: back to drafting, same due time
        fact("in_review", 30, actor="lawyer-1"),
        fact("delivered", 40, due=40 + 3 * 24 * 60, actor="reviewer-1"),
        fact("completed", 50, actor="client-1"),
    ]
    payment = [*PAYMENT, fact("completed", 50.5)]  # the order's workflow completes it on docorder.completed
    timeline = join_timeline(payment, documents, "document", DOCUMENT_PROCESS, "completed")
    stages = [e.stage for e in timeline]
    assert stages == [
        "pending_payment",
        "paid",
        "voucher_issued",
        "invoice_issued",
        "in_service",
        "awaiting_acknowledgement",
        "drafting",
        "in_review",
        "drafting",
        "in_review",
        "delivered",
        "completed",
    ]
    assert {e.status for e in timeline} == {"done"}
    assert timeline[-1].actor == "client-1"  # the owner's record of the stage, not payment's copy


def test_a_payment_stage_during_the_fulfilment_keeps_its_place_in_time() -> None:
    consultation = [fact("received", 6), fact("assigned", 7), fact("answered", 60)]
    payment = [*PAYMENT, fact("consultation_started", 6.5), fact("refunded", 30, actor="agent-1")]
    process = ("submitted", "assigned", "answered", "closed")
    timeline = join_timeline(payment, consultation, "consultation", process, "refunded")
    assert [e.stage for e in timeline][5:] == [
        "consultation_started",
        "received",
        "assigned",
        "refunded",
        "answered",
    ]
    assert {e.status for e in timeline} == {"done"}  # a refunded order has nothing pending


def test_an_order_in_service_without_stages_from_its_owner_shows_payment_and_what_is_pending() -> None:
    timeline = join_timeline(PAYMENT, [], "booking", ("paid", "held", "confirmed", "completed"), "in_service")
    assert [(e.stage, e.status) for e in timeline][-4:] == [
        ("in_service", "current"),
        ("held", "pending"),
        ("confirmed", "pending"),
        ("completed", "pending"),
    ]


def test_a_booking_held_before_its_order_reads_in_time_order_with_its_due_times() -> None:
    """R-BK-1, §9.2: the booking is held first, then ordered and paid; its stages interleave with payment's."""
    booking = [
        fact("held", -2, due=43, actor="client-1"),
        fact("confirmed", 5.3, due=3 * 24 * 60),
    ]
    payment = [*PAYMENT[:4], fact("booking_started", 5.35), PAYMENT[4]]
    process = ("held", "confirmed", "completed")
    timeline = join_timeline(payment, booking, "booking", process, "in_service")
    assert [(e.stage, e.status) for e in timeline] == [
        ("held", "done"),
        ("pending_payment", "done"),
        ("paid", "done"),
        ("voucher_issued", "done"),
        ("invoice_issued", "done"),
        ("confirmed", "done"),
        ("booking_started", "done"),
        ("in_service", "current"),
        ("completed", "pending"),
    ]
    assert (timeline[0].due_at, timeline[0].actor) == (at(43), "client-1")
    assert timeline[5].due_at == at(3 * 24 * 60)  # confirmed: due at the meeting's start


# --- asking the fulfilment's owner ----------------------------------------------------------------------


def in_service_order() -> payment_pb.Order:
    """An order in service as GetOrder answers it, with its stages."""
    return payment_pb.Order(
        id="o-1",
        product_id="doc-contract-drafting",
        status="in_service",
        fulfilment=payment_pb.Fulfilment(kind="document", id="d-1"),
        stages=[
            timeline_pb2.TimelineStage(
                stage=f.stage,
                entered_at=to_timestamp(f.entered_at),
                due_at=to_timestamp(f.due_at),
                actor=f.actor,
            )
            for f in PAYMENT
        ],
    )


class Owners:
    """The documents service answering `reply` (stages, or an error) and the catalog the product's process."""

    def __init__(self, reply: list[timeline_pb2.TimelineStage] | Exception) -> None:
        self.reply = reply

    async def GetDocumentOrder(
        self, request: docs_pb.GetDocumentOrderRequest
    ) -> docs_pb.GetDocumentOrderResponse:
        assert request.document_order_id == "d-1"
        if isinstance(self.reply, Exception):
            raise self.reply
        return docs_pb.GetDocumentOrderResponse(document_order=docs_pb.DocumentOrder(stages=self.reply))

    async def GetProduct(self, request: catalog_pb.GetProductRequest) -> catalog_pb.GetProductResponse:
        process = [catalog_pb.ProcessStage(stage=stage) for stage in DOCUMENT_PROCESS]
        return catalog_pb.GetProductResponse(
            product=catalog_pb.Product(id=request.product_id, process=process)
        )

    def clients(self) -> Clients:
        none = cast(Any, None)
        return Clients(
            identity=none,
            catalog=cast(Any, self),
            consultation=none,
            documents=cast(Any, self),
            booking=none,
            payment=none,
            notification=none,
            identity_internal=none,
            consultation_internal=none,
            payment_internal=none,
            notification_internal=none,
        )


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="x")


async def test_the_owners_records_join_with_their_times_and_actors() -> None:
    recorded = timeline_pb2.TimelineStage(
        stage="drafting",
        status="current",
        entered_at=to_timestamp(at(10)),
        due_at=to_timestamp(at(100)),
        actor="agent-1",
    )
    entries = await order_timeline(Owners([recorded]).clients(), in_service_order())
    assert [(e.stage, e.status) for e in entries][-5:] == [
        ("in_service", "done"),
        ("drafting", "current"),
        ("in_review", "pending"),
        ("delivered", "pending"),
        ("completed", "pending"),
    ]
    drafting = entries[-4]
    assert (drafting.entered_at.ToDatetime(tzinfo=UTC), drafting.due_at.ToDatetime(tzinfo=UTC)) == (
        at(10),
        at(100),
    )
    assert drafting.actor == "agent-1"


async def test_an_owner_that_does_not_answer_makes_the_timeline_unavailable_not_incomplete() -> None:
    for code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await order_timeline(Owners(rpc_error(code)).clients(), in_service_order())
        assert GRPC_TO_HTTP[failed.value.code()][0] == 503
    unknown = Owners(rpc_error(grpc.StatusCode.NOT_FOUND)).clients()
    timeline = await order_timeline(unknown, in_service_order())
    entered = [(e.stage, e.status) for e in timeline if e.HasField("entered_at")]
    assert entered[-1] == ("in_service", "current")


class CallOwners(Owners):
    """The consultation service answering an order's online calls (one of them a consultation's), the
    catalog the phone consultation's process."""

    def __init__(self, calls: list[consultation_pb.OnlineCall]) -> None:
        super().__init__([])
        self.calls = calls
        self.asked: list[str] = []

    async def ListOnlineCalls(
        self, request: consultation_pb.ListOnlineCallsRequest
    ) -> consultation_pb.ListOnlineCallsResponse:
        self.asked.append(request.order_id)
        return consultation_pb.ListOnlineCallsResponse(items=self.calls)

    async def GetProduct(self, request: catalog_pb.GetProductRequest) -> catalog_pb.GetProductResponse:
        process = [catalog_pb.ProcessStage(stage=stage) for stage in ("submitted", "assigned", "closed")]
        return catalog_pb.GetProductResponse(
            product=catalog_pb.Product(id=request.product_id, process=process)
        )

    def clients(self) -> Clients:
        return dataclasses.replace(super().clients(), consultation=cast(Any, self))


async def test_a_call_an_order_paid_for_without_a_consultation_shows_in_its_timeline() -> None:
    """Issue 24: an online call linked to a phone consultation order and to no consultation shows in the
    order's timeline after the order went into service — answered by the lawyer, ended by the party who
    hung up; a consultation's call is left to the consultation's own stages, and an order that pays for no
    call (a document order) does not ask."""
    calls = [
        consultation_pb.OnlineCall(
            id="call-1",
            client_id="client-1",
            lawyer_id="lawyer-4",
            order_id="o-1",
            status="ended",
            started_at=to_timestamp(at(10)),
            ended_at=to_timestamp(at(40)),
            ended_by="client",
        ),
        consultation_pb.OnlineCall(
            id="call-2",
            lawyer_id="lawyer-4",
            order_id="o-1",
            consultation_id="c-1",
            started_at=to_timestamp(at(50)),
        ),
    ]
    owners = CallOwners(calls)
    order = in_service_order()
    order.product_id, order.category, order.consultation_kind = "consult-phone", "consultation", "phone"
    order.ClearField("fulfilment")
    entries = await order_timeline(owners.clients(), order)
    assert owners.asked == ["o-1"]
    assert [(e.stage, e.status, e.actor) for e in entries][4:] == [
        ("in_service", "done", "system"),
        ("online_call_connected", "done", "lawyer-4"),
        ("online_call_ended", "current", "client-1"),
        ("submitted", "pending", ""),
        ("assigned", "pending", ""),
        ("closed", "pending", ""),
    ]
    assert entries[5].entered_at.ToDatetime(tzinfo=UTC) == at(10)

    document = CallOwners(calls)
    await order_timeline(document.clients(), in_service_order())
    assert document.asked == []
