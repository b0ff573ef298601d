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
    # After a missed reply deadline the next lawyer gets this long (the original due time stays recorded);
    # after `max_escalations` breaches nobody new is assigned and the supervisor owns it.
    escalation_reply_within: timedelta = timedelta(hours=4)
    max_escalations: int = 2


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


# --- ConsultationWorkflow: classify → assign → reply clock → escalate (R-CON-2) ---------------------------
class ClassifyInput(BaseModel):
    consultation_id: str
    idempotency_key: str


class ClassifyResult(BaseModel):
    legal_field: str
    needs_manual_classification: bool = False


class AssignInput(BaseModel):
    consultation_id: str
    due_at: datetime | None = None
    exclude_lawyer_ids: list[str] = []
    idempotency_key: str


class AssignResult(BaseModel):
    lawyer_id: str  # "" when nobody is eligible: a supervisor takes it
    reason: str = ""


class EscalateInput(BaseModel):
    consultation_id: str
    from_lawyer_id: str
    missed_due_at: datetime
    next_due_at: datetime
    exclude_lawyer_ids: list[str] = []
    idempotency_key: str


class EscalateResult(BaseModel):
    already_answered: bool  # the reply won the race with the timer: no breach
    to_lawyer_id: str = ""
    reason: str = ""


class MessagePosted(BaseModel):
    """Signal `message_posted`: someone wrote on the consultation (restarts the quiet period)."""

    author_role: str
    first_lawyer_reply: bool = False
