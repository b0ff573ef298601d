"""Activities that tell the consultation service what the workflow did, over gRPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.runtime.records import to_timestamp
from workflows.shared import CloseConsultationInput, RecordStageInput

if TYPE_CHECKING:
    from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationServiceAsyncStub


class ConsultationActivities:
    def __init__(self, stub: ConsultationServiceAsyncStub) -> None:
        self.stub = stub

    @activity.defn(name="consultation.record_stage")
    async def record_stage(self, request: RecordStageInput) -> None:
        await self.stub.RecordStage(
            pb.RecordStageRequest(
                consultation_id=request.consultation_id,
                stage=request.stage,
                actor=request.actor,
                due_at=to_timestamp(request.due_at),
                idempotency_key=request.idempotency_key,
            )
        )

    @activity.defn(name="consultation.close")
    async def close(self, request: CloseConsultationInput) -> None:
        await self.stub.CloseConsultation(
            pb.CloseConsultationRequest(consultation_id=request.consultation_id, reason=request.reason)
        )
