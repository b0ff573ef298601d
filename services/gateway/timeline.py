"""The order's timeline (§9.2, R-Q-3; API.md `GET /api/v1/orders/{id}/timeline`), joined here because the data
meets here: the gateway holds a client of every service. The payment service's own stages (the order's
`stages`), the stages the fulfilment's owner recorded (documents, consultation or booking, asked with the
caller's token, so each owner applies its visibility rules again), the online calls the order paid for that
belong to no consultation (a consultation's calls are among its own stages) and the product's process from
the catalog for what is still pending. Nothing is re-derived: the join is the pure `join_timeline`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import grpc

from counsel.booking.v1 import booking_service_pb2
from counsel.catalog.v1 import catalog_service_pb2
from counsel.common.v1 import timeline_pb2
from counsel.consultation.v1 import consultation_service_pb2
from counsel.documents.v1 import documents_service_pb2
from counsel.payment.v1 import payment_service_pb2
from services.gateway.clients import Clients
from services.runtime.records import from_timestamp, to_timestamp

FINAL_ORDER_STATUSES = ("completed", "cancelled", "refunded")


@dataclass(frozen=True)
class StageFact:
    """A stage some service recorded for the order: its own stages (payment) or its fulfilment's, as the
    owning service (documents, consultation, booking) reported them."""

    stage: str
    entered_at: datetime
    due_at: datetime | None
    actor: str


@dataclass(frozen=True)
class TimelineEntry:
    stage: str
    status: str  # done|current|pending
    entered_at: datetime | None
    due_at: datetime | None
    actor: str


def join_timeline(
    payment: Sequence[StageFact],
    fulfilment: Sequence[StageFact],
    fulfilment_kind: str,
    process: Sequence[str],
    order_status: str,
) -> list[TimelineEntry]:
    """One timeline from the order's payment stages and its fulfilment's stages, oldest first.

    - The fulfilment's stages follow the payment stage that started it (`in_service` or `<kind>_started`),
      so the client reads payment → fulfilment → what came after; every stage keeps the entered time, due
      time and actor its owner recorded. A fulfilment that began before the order did (a booking is held,
      then its order paid, R-BK-1) is interleaved with payment's stages in time order instead.
    - A stage the fulfilment owns (e.g. `completed` of a document order) is shown once, as its owner
      recorded it; a stage entered several times (drafting after a rejection) appears each time.
    - The last entered stage is `current` unless the order is final (completed, cancelled, refunded);
      every earlier one is `done`.
    - While the order is open, the product's process stages after the furthest one reached are `pending`,
      with no times.
    """
    owned = {f.stage for f in fulfilment}
    starters = {"in_service", f"{fulfilment_kind}_started"} if fulfilment_kind else set()
    kept = [p for p in payment if p.stage not in owned or not fulfilment]
    began = min((f.entered_at for f in fulfilment), default=None)
    if began is not None and payment and began < min(p.entered_at for p in payment):
        # The fulfilment existed before the order (a booking is held, then paid): one story in time order.
        entered = sorted([*kept, *fulfilment], key=lambda s: s.entered_at)
    elif began is not None:
        head = [p for p in kept if p.stage in starters or p.entered_at <= began]
        tail = [p for p in kept if p not in head]
        entered = head + sorted([*fulfilment, *tail], key=lambda s: s.entered_at)
    else:
        entered = list(kept)
    final = order_status in FINAL_ORDER_STATUSES
    timeline = [
        TimelineEntry(
            stage=s.stage,
            status="current" if i == len(entered) - 1 and not final else "done",
            entered_at=s.entered_at,
            due_at=s.due_at,
            actor=s.actor,
        )
        for i, s in enumerate(entered)
    ]
    if final:
        return timeline
    reached = {s.stage for s in entered}
    furthest = max((i for i, stage in enumerate(process) if stage in reached), default=-1)
    timeline.extend(
        TimelineEntry(stage=stage, status="pending", entered_at=None, due_at=None, actor="")
        for stage in process[furthest + 1 :]
        if stage not in reached
    )
    return timeline


async def fulfilment_stages(
    clients: Clients, kind: str, fulfilment_id: str
) -> list[timeline_pb2.TimelineStage]:
    """The stages the fulfilment's owner entered; none without a fulfilment, or when its owner does not know
    it. An owner that does not answer fails the call (503, retry) rather than leaving the timeline silently
    incomplete."""
    try:
        if kind == "document":
            documents = await clients.documents.GetDocumentOrder(
                documents_service_pb2.GetDocumentOrderRequest(document_order_id=fulfilment_id)
            )
            stages = documents.document_order.stages
        elif kind == "consultation":
            consultation = await clients.consultation.GetConsultation(
                consultation_service_pb2.GetConsultationRequest(consultation_id=fulfilment_id)
            )
            stages = consultation.consultation.stages
        elif kind == "booking":
            booking = await clients.booking.GetBooking(
                booking_service_pb2.GetBookingRequest(booking_id=fulfilment_id)
            )
            stages = booking.booking.stages
        else:
            return []
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return []
        raise
    return [s for s in stages if s.HasField("entered_at")]


async def product_process(clients: Clients, product_id: str) -> list[str]:
    """The product's stages as the catalog describes them to the client; none if it is gone."""
    try:
        reply = await clients.catalog.GetProduct(catalog_service_pb2.GetProductRequest(product_id=product_id))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return []
        raise
    return [p.stage for p in reply.product.process]


def pays_for_calls(order: payment_service_pb2.Order) -> bool:
    """Whether online calls may use the order: a phone consultation order or a retainer."""
    return order.category == "retainer" or (
        order.category == "consultation" and order.consultation_kind == "phone"
    )


async def call_stages(clients: Clients, order: payment_service_pb2.Order) -> list[StageFact]:
    """The online calls `order` paid for that belong to no consultation, as stages: `online_call_connected`
    when the lawyer answered (by the lawyer), `online_call_ended` when it ended (by the party who ended it).
    Asked with the caller's token: the consultation service shows the caller only the calls they may see."""
    if not pays_for_calls(order):
        return []
    reply = await clients.consultation.ListOnlineCalls(
        consultation_service_pb2.ListOnlineCallsRequest(order_id=order.id)
    )
    stages = []
    for call in reply.items:
        if call.consultation_id:
            continue
        if call.HasField("started_at"):
            stages.append(
                StageFact("online_call_connected", from_timestamp(call.started_at), None, call.lawyer_id)
            )
        if call.HasField("ended_at"):
            ended_by = call.client_id if call.ended_by == "client" else call.lawyer_id
            stages.append(StageFact("online_call_ended", from_timestamp(call.ended_at), None, ended_by))
    return stages


def fact(stage: timeline_pb2.TimelineStage) -> StageFact:
    return StageFact(
        stage=stage.stage,
        entered_at=from_timestamp(stage.entered_at),
        due_at=from_timestamp(stage.due_at) if stage.HasField("due_at") else None,
        actor=stage.actor,
    )


async def order_timeline(
    clients: Clients, order: payment_service_pb2.Order
) -> list[timeline_pb2.TimelineStage]:
    """The timeline of `order` (as GetOrder answered it, with its stages)."""
    kind, fulfilment_id = order.fulfilment.kind, order.fulfilment.id
    fulfilment, calls, process = await asyncio.gather(
        fulfilment_stages(clients, kind, fulfilment_id),
        call_stages(clients, order),
        product_process(clients, order.product_id),
    )
    entries = join_timeline(
        [fact(s) for s in order.stages], [*(fact(s) for s in fulfilment), *calls], kind, process, order.status
    )
    return [
        timeline_pb2.TimelineStage(
            stage=entry.stage,
            status=entry.status,
            entered_at=to_timestamp(entry.entered_at),
            due_at=to_timestamp(entry.due_at),
            actor=entry.actor,
        )
        for entry in entries
    ]
