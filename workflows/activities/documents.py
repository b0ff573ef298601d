"""Activities that tell the documents service what the DocumentOrderWorkflow's clocks decided, over gRPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from counsel.documents.v1 import documents_service_pb2 as pb
from services.runtime.records import to_timestamp
from workflows.shared import BreachInput, DocStageInput

if TYPE_CHECKING:
    from counsel.documents.v1.documents_service_pb2_grpc import DocumentsInternalServiceAsyncStub


class DocumentsActivities:
    def __init__(self, stub: DocumentsInternalServiceAsyncStub) -> None:
        self.stub = stub

    @activity.defn(name="documents.record_stage")
    async def record_stage(self, request: DocStageInput) -> None:
        await self.stub.RecordStage(
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
        reply = await self.stub.RecordBreach(
            pb.RecordBreachRequest(
                document_order_id=request.document_order_id,
                kind=request.kind,
                due_at=to_timestamp(request.due_at),
                new_due_at=to_timestamp(request.new_due_at),
                idempotency_key=request.idempotency_key,
            )
        )
        return reply.document_order.assigned_lawyer_id
