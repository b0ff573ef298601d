"""Activities of the documents service, over gRPC: what the DocumentOrderWorkflow's clocks decided, and the
document order that fulfils a paid order (OrderWorkflow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from counsel.documents.v1 import documents_service_pb2 as pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.runtime.records import to_timestamp
from workflows.activities.refusals import refusal_is_final
from workflows.shared import BreachInput, DocStageInput, FulfilmentRef, FulfilmentRequest

if TYPE_CHECKING:
    from counsel.documents.v1.documents_service_pb2_grpc import (
        DocumentsInternalServiceAsyncStub,
        DocumentsServiceAsyncStub,
    )
    from counsel.payment.v1.payment_service_pb2_grpc import PaymentInternalServiceAsyncStub


class DocumentsActivities:
    def __init__(
        self,
        stub: DocumentsServiceAsyncStub,
        internal: DocumentsInternalServiceAsyncStub,
        payment: PaymentInternalServiceAsyncStub,
    ) -> None:
        self.stub = stub
        self.internal = internal
        # Where a paid order's requirement answers are read (sealed there, never in a workflow's history).
        self.payment = payment

    @activity.defn(name="documents.record_stage")
    async def record_stage(self, request: DocStageInput) -> None:
        await self.internal.RecordStage(
            pb.RecordStageRequest(
                document_order_id=request.document_order_id,
                stage=request.stage,
                actor=request.actor,
                due_at=to_timestamp(request.due_at),
                reason=request.reason,
                idempotency_key=request.idempotency_key,
            )
        )

    @activity.defn(name="documents.record_breach")
    async def record_breach(self, request: BreachInput) -> str:
        """Records the missed deadline; returns the lawyer now assigned (reassigned after a drafting breach)."""
        reply = await self.internal.RecordBreach(
            pb.RecordBreachRequest(
                document_order_id=request.document_order_id,
                kind=request.kind,
                due_at=to_timestamp(request.due_at),
                new_due_at=to_timestamp(request.new_due_at),
                idempotency_key=request.idempotency_key,
            )
        )
        return reply.document_order.assigned_lawyer_id

    @activity.defn(name="documents.create_document_order")
    async def create_document_order(self, request: FulfilmentRequest) -> FulfilmentRef:
        """The document order of a paid document product. Idempotent by order id (a retry returns the same
        one); the documents service takes the tier's clocks from the catalog and starts `docorder-<id>`
        itself. The requirement answers are read from payment here, so they pass through no workflow
        history. Requirements it refuses are final, and the order is refunded."""
        answers = await self.payment.GetOrderRequirements(
            payment_pb.GetOrderRequirementsRequest(order_id=request.order_id)
        )
        with refusal_is_final("documents"):
            reply = await self.stub.CreateDocumentOrder(
                pb.CreateDocumentOrderRequest(
                    order_id=request.order_id,
                    tenant_id=request.tenant_id,
                    client_id=request.client_id,
                    product_id=request.product_id,
                    complexity=str(request.tier.get("complexity") or request.tier.get("id") or ""),
                    paid_at=to_timestamp(request.paid_at),
                    requirements=answers.requirements,
                )
            )
        return FulfilmentRef(kind="document", id=reply.document_order.id)
