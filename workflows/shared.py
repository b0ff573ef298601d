"""What workflows and the services that start them share: ids, task queues, names and inputs.
Nothing here does I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel


def consultation_workflow_id(consultation_id: str) -> str:
    return f"consultation-{consultation_id}"


class ConsultationWorkflowInput(BaseModel):
    consultation_id: str
    tenant_id: str
    kind: str
    submitted_at: datetime
    # Clocks come from the product tier (policy in data): None when the kind carries no reply promise.
    reply_within: timedelta | None = None
    # A consultation nobody writes to for this long closes itself.
    auto_close_after: timedelta = timedelta(days=7)


class RecordStageInput(BaseModel):
    consultation_id: str
    stage: str
    actor: str = "system"
    due_at: datetime | None = None
    idempotency_key: str


class CloseConsultationInput(BaseModel):
    consultation_id: str
    reason: str


class ConsultationOutcome(BaseModel):
    consultation_id: str
    closed_reason: str
