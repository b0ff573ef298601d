"""Complaints as the public API shows them (R-CS-3, §6.1.4.4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.schemas.common import RequestModel, or_none, rfc3339

SubjectType = Literal["consultation", "document_order", "booking", "order"]


class CreateComplaint(RequestModel):
    subject_type: SubjectType
    subject_id: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)


class RaiseComplaint(RequestModel):
    body: str = Field(min_length=1, max_length=5000)


class UpdateComplaint(RequestModel):
    status: Literal["in_progress", "resolved"]
    resolution: str = Field(default="", max_length=5000, description="Required when resolving.")


class ResolveComplaint(RequestModel):
    resolution: str = Field(min_length=1, max_length=5000)


class ReopenComplaint(RequestModel):
    reason: str = Field(min_length=1, max_length=5000)


class Complaint(BaseModel):
    id: str
    subject_type: SubjectType
    subject_id: str
    consultation_id: str | None = Field(description="Set when the subject is a consultation.")
    client_id: str
    status: str = Field(description="open|in_progress|resolved|reopened|closed")
    body: str
    resolution: str | None
    reopen_reason: str | None
    handled_by: str | None
    due_at: str | None = Field(description="When the running response clock falls due; null when none runs.")
    escalated_at: str | None = Field(
        description="When the running clock ran out and the supervisors were told; null if it has not."
    )
    created_at: str | None
    updated_at: str | None

    @classmethod
    def from_proto(cls, complaint: pb.Complaint) -> Complaint:
        return cls(
            id=complaint.id,
            subject_type=complaint.subject_type,  # type: ignore[arg-type]
            subject_id=complaint.subject_id,
            consultation_id=or_none(complaint.consultation_id),
            client_id=complaint.client_id,
            status=complaint.status,
            body=complaint.body,
            resolution=or_none(complaint.resolution),
            reopen_reason=or_none(complaint.reopen_reason),
            handled_by=or_none(complaint.handled_by),
            due_at=rfc3339(complaint, "due_at"),
            escalated_at=rfc3339(complaint, "escalated_at"),
            created_at=rfc3339(complaint, "created_at"),
            updated_at=rfc3339(complaint, "updated_at"),
        )


class ComplaintPage(BaseModel):
    items: list[Complaint]
    next_cursor: str | None
