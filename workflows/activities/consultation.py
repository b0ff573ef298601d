"""Activities that tell the consultation service what the workflow did, over gRPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.runtime.records import to_timestamp
from workflows.shared import (
    AssignInput,
    AssignResult,
    ClassifyInput,
    ClassifyResult,
    CloseConsultationInput,
    EscalateComplaintInput,
    EscalateInput,
    EscalateResult,
    RecordStageInput,
)

if TYPE_CHECKING:
    from counsel.consultation.v1.consultation_service_pb2_grpc import (
        ConsultationInternalServiceAsyncStub,
        ConsultationServiceAsyncStub,
    )


class ConsultationActivities:
    def __init__(
        self, stub: ConsultationServiceAsyncStub, internal: ConsultationInternalServiceAsyncStub
    ) -> None:
        self.stub = stub
        self.internal = internal

    @activity.defn(name="consultation.record_stage")
    async def record_stage(self, request: RecordStageInput) -> None:
        await self.internal.RecordStage(
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

    @activity.defn(name="consultation.classify")
    async def classify(self, request: ClassifyInput) -> ClassifyResult:
        reply = await self.internal.ClassifyConsultation(
            pb.ClassifyConsultationRequest(
                consultation_id=request.consultation_id, idempotency_key=request.idempotency_key
            )
        )
        return ClassifyResult(
            legal_field=reply.legal_field, needs_manual_classification=reply.needs_manual_classification
        )

    @activity.defn(name="consultation.assign_lawyer")
    async def assign_lawyer(self, request: AssignInput) -> AssignResult:
        reply = await self.internal.AssignLawyer(
            pb.AssignLawyerRequest(
                consultation_id=request.consultation_id,
                exclude_lawyer_ids=request.exclude_lawyer_ids,
                due_at=to_timestamp(request.due_at),
                idempotency_key=request.idempotency_key,
            )
        )
        return AssignResult(lawyer_id=reply.lawyer_id, reason=reply.reason)

    @activity.defn(name="consultation.escalate")
    async def escalate(self, request: EscalateInput) -> EscalateResult:
        reply = await self.internal.EscalateConsultation(
            pb.EscalateConsultationRequest(
                consultation_id=request.consultation_id,
                from_lawyer_id=request.from_lawyer_id,
                missed_due_at=to_timestamp(request.missed_due_at),
                next_due_at=to_timestamp(request.next_due_at),
                exclude_lawyer_ids=request.exclude_lawyer_ids,
                idempotency_key=request.idempotency_key,
            )
        )
        return EscalateResult(
            already_answered=reply.already_answered, to_lawyer_id=reply.to_lawyer_id, reason=reply.reason
        )

    @activity.defn(name="consultation.escalate_complaint")
    async def escalate_complaint(self, request: EscalateComplaintInput) -> bool:
        """Records the complaint's missed response clock and tells the supervisors; False when it no longer
        stood (resolved, or reopened with a new clock) or was recorded already."""
        reply = await self.internal.EscalateComplaint(
            pb.EscalateComplaintRequest(
                complaint_id=request.complaint_id, missed_due_at=to_timestamp(request.missed_due_at)
            )
        )
        return not reply.already_answered

    @activity.defn(name="consultation.close_complaint")
    async def close_complaint(self, complaint_id: str) -> str:
        """Closes a resolution the client left unanswered; returns the complaint's status after the call."""
        reply = await self.internal.CloseComplaint(pb.CloseComplaintRequest(complaint_id=complaint_id))
        return reply.complaint.status
