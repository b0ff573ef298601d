"""Consultations as the public API shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from counsel.common.v1 import timeline_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.schemas.common import ConsultationKind, LegalField, RequestModel, or_none, rfc3339
from services.gateway.schemas.major_matters import MajorMatter


class CreateConsultation(RequestModel):
    kind: ConsultationKind
    subject: str = Field(min_length=1, max_length=200)
    question: str = Field(min_length=1, max_length=20000)
    order_id: str | None = Field(
        default=None, max_length=200, description="The paid order this fulfils (professional and phone)."
    )


class CloseConsultation(RequestModel):
    reason: str | None = Field(default=None, max_length=200, description="e.g. resolved, withdrawn")


class PostMessage(RequestModel):
    body: str = Field(min_length=1, max_length=20000)


class Reclassify(RequestModel):
    legal_field: LegalField


class RateConsultation(RequestModel):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class Message(BaseModel):
    id: str
    author_id: str
    author_role: str
    body: str
    created_at: str | None

    @classmethod
    def from_proto(cls, message: pb.ConsultationMessage) -> Message:
        return cls(
            id=message.id,
            author_id=message.author_id,
            author_role=message.author_role,
            body=message.body,
            created_at=rfc3339(message, "created_at"),
        )


class Stage(BaseModel):
    stage: str
    status: str = Field(description="done|current|pending")
    entered_at: str | None
    due_at: str | None
    actor: str | None

    @classmethod
    def from_proto(cls, stage: timeline_pb2.TimelineStage) -> Stage:
        return cls(
            stage=stage.stage,
            status=stage.status,
            entered_at=rfc3339(stage, "entered_at"),
            due_at=rfc3339(stage, "due_at"),
            actor=or_none(stage.actor),
        )


class StartCall(RequestModel):
    lawyer_id: str = Field(min_length=1, max_length=200)


class EndCall(RequestModel):
    outcome: str = Field(min_length=1, max_length=2000)


class CallRecord(BaseModel):
    id: str
    agent_id: str
    lawyer_id: str
    status: str = Field(description="connected|ended")
    started_at: str | None
    ended_at: str | None
    duration_seconds: int
    outcome: str | None
    recording_ref: str | None = Field(description="Object-storage key of the recording.")
    provider: str

    @classmethod
    def from_proto(cls, call: pb.CallRecord) -> CallRecord:
        return cls(
            id=call.id,
            agent_id=call.agent_id,
            lawyer_id=call.lawyer_id,
            status=call.status,
            started_at=rfc3339(call, "started_at"),
            ended_at=rfc3339(call, "ended_at"),
            duration_seconds=call.duration_seconds,
            outcome=or_none(call.outcome),
            recording_ref=or_none(call.recording_ref),
            provider=call.provider,
        )


class HistoryEntry(BaseModel):
    stage: str
    actor: str | None
    entered_at: str | None
    due_at: str | None
    detail: str | None

    @classmethod
    def from_proto(cls, entry: pb.ConsultationHistoryEntry) -> HistoryEntry:
        return cls(
            stage=entry.stage,
            actor=or_none(entry.actor),
            entered_at=rfc3339(entry, "entered_at"),
            due_at=rfc3339(entry, "due_at"),
            detail=or_none(entry.detail),
        )


class Consultation(BaseModel):
    id: str
    status: str
    kind: str
    subject: str
    question: str
    legal_field: str | None = Field(description="Null until the consultation is classified.")
    assigned_lawyer_id: str | None
    reply_due_at: str | None
    created_at: str | None
    order_id: str | None
    client_id: str
    messages: list[Message]
    stages: list[Stage]
    needs_manual_classification: bool = Field(
        description="The classifier was not confident: an agent classifies it by hand."
    )
    current_due_at: str | None = Field(
        description="The assigned lawyer's own deadline; differs from reply_due_at after an escalation."
    )
    escalations: int = Field(description="How many reply deadlines were missed.")
    assignment_reason: str | None
    answered_at: str | None
    rating: int | None
    rating_comment: str | None
    call_records: list[CallRecord] = Field(default_factory=list, description="Phone consultations' calls.")
    history: list[HistoryEntry] = Field(
        default_factory=list,
        description="Staff only: every step with what happened (assignment reasons, breaches).",
    )
    major: MajorMatter | None = Field(
        default=None, description="Set once escalated as a major matter: its team, meeting and conclusion."
    )

    @classmethod
    def from_proto(cls, consultation: pb.Consultation) -> Consultation:
        return cls(
            id=consultation.id,
            status=consultation.status,
            kind=consultation.kind,
            subject=consultation.subject,
            question=consultation.question,
            legal_field=or_none(consultation.legal_field),
            assigned_lawyer_id=or_none(consultation.assigned_lawyer_id),
            reply_due_at=rfc3339(consultation, "reply_due_at"),
            created_at=rfc3339(consultation, "created_at"),
            order_id=or_none(consultation.order_id),
            client_id=consultation.client_id,
            messages=[Message.from_proto(m) for m in consultation.messages],
            stages=[Stage.from_proto(s) for s in consultation.stages],
            needs_manual_classification=consultation.needs_manual_classification,
            current_due_at=rfc3339(consultation, "current_due_at"),
            escalations=consultation.escalations,
            assignment_reason=or_none(consultation.assignment_reason),
            answered_at=rfc3339(consultation, "answered_at"),
            rating=consultation.rating or None,
            rating_comment=or_none(consultation.rating_comment),
            call_records=[CallRecord.from_proto(c) for c in consultation.call_records],
            history=[HistoryEntry.from_proto(h) for h in consultation.history],
            major=MajorMatter.from_proto(consultation.major) if consultation.HasField("major") else None,
        )


class ConsultationPage(BaseModel):
    items: list[Consultation]
    next_cursor: str | None
