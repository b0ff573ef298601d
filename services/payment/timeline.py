"""The order's timeline across payment and fulfilment (§9.2, API.md `GET /api/v1/orders/{id}/timeline`):
payment's own stage records joined with the stages the fulfilment's owning service recorded, asked over
gRPC with the caller's token (so the owner applies its own visibility rules again), and the product's
process from the catalog for what is still pending. Nothing is re-derived here: the join is
`domain.join_timeline`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import grpc

from counsel.booking.v1 import booking_service_pb2
from counsel.catalog.v1 import catalog_service_pb2
from counsel.common.v1 import timeline_pb2
from counsel.consultation.v1 import consultation_service_pb2
from counsel.documents.v1 import documents_service_pb2
from services.payment import domain
from services.payment.store.base import OrderView
from services.runtime.errors import Unavailable
from services.runtime.records import from_timestamp

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceAsyncStub
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationServiceAsyncStub
    from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceAsyncStub

# kind → reads the fulfilment's recorded stages from its owner.
StageSource = Callable[[str], Awaitable[Sequence[timeline_pb2.TimelineStage]]]


def documents_source(documents: DocumentsServiceAsyncStub) -> StageSource:
    async def stages(document_order_id: str) -> Sequence[timeline_pb2.TimelineStage]:
        reply = await documents.GetDocumentOrder(
            documents_service_pb2.GetDocumentOrderRequest(document_order_id=document_order_id)
        )
        return list(reply.document_order.stages)

    return stages


def consultation_source(consultation: ConsultationServiceAsyncStub) -> StageSource:
    async def stages(consultation_id: str) -> Sequence[timeline_pb2.TimelineStage]:
        reply = await consultation.GetConsultation(
            consultation_service_pb2.GetConsultationRequest(consultation_id=consultation_id)
        )
        return list(reply.consultation.stages)

    return stages


def booking_source(booking: BookingServiceAsyncStub) -> StageSource:
    async def stages(booking_id: str) -> Sequence[timeline_pb2.TimelineStage]:
        reply = await booking.GetBooking(booking_service_pb2.GetBookingRequest(booking_id=booking_id))
        return list(reply.booking.stages)

    return stages


def fact(stage: timeline_pb2.TimelineStage) -> domain.StageFact:
    return domain.StageFact(
        stage=stage.stage,
        entered_at=from_timestamp(stage.entered_at),
        due_at=from_timestamp(stage.due_at) if stage.HasField("due_at") else None,
        actor=stage.actor,
    )


class OrderTimeline:
    def __init__(self, catalog: CatalogServiceAsyncStub | None, sources: dict[str, StageSource]) -> None:
        self.catalog = catalog
        self.sources = sources

    async def build(self, view: OrderView) -> list[domain.TimelineEntry]:
        row = view.row
        payment = [
            domain.StageFact(stage=s.stage, entered_at=s.entered_at, due_at=s.due_at, actor=s.actor)
            for s in view.stages
        ]
        fulfilment: list[domain.StageFact] = []
        source = self.sources.get(row.fulfilment_kind) if row.fulfilment_id else None
        if source is not None:
            fulfilment = [fact(s) for s in await self._owned(row.fulfilment_kind, source, row.fulfilment_id)]
        return domain.join_timeline(
            payment, fulfilment, row.fulfilment_kind, await self._process(row.product_id), row.status
        )

    async def _owned(
        self, kind: str, source: StageSource, fulfilment_id: str
    ) -> list[timeline_pb2.TimelineStage]:
        """The owner's entered stages. An owner that does not answer makes the timeline unavailable (503,
        retry) rather than silently incomplete; one that does not know the fulfilment adds no stages."""
        try:
            stages = await source(fulfilment_id)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return []
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise Unavailable(f"the {kind} service did not answer; try again") from exc
            raise
        return [s for s in stages if s.HasField("entered_at")]

    async def _process(self, product_id: str) -> list[str]:
        """The product's stages as the catalog describes them to the client; none if it is gone."""
        if self.catalog is None:
            return []
        try:
            reply = await self.catalog.GetProduct(
                catalog_service_pb2.GetProductRequest(product_id=product_id)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return []
            raise
        return [p.stage for p in reply.product.process]
