"""What workflows and the services that start them share: ids, task queues, names and inputs.
Nothing here does I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

# --- names ------------------------------------------------------------------------------------------------
# Workflow types, as the worker registers them and the services start them: a service names a workflow, it
# never imports one.
CONSULTATION_WORKFLOW = "ConsultationWorkflow"
DOCUMENT_ORDER_WORKFLOW = "DocumentOrderWorkflow"
ORDER_WORKFLOW = "OrderWorkflow"
BOOKING_WORKFLOW = "BookingWorkflow"
SIGNING_KEY_ROTATION_WORKFLOW = "SigningKeyRotationWorkflow"
COMPLAINT_WORKFLOW = "ComplaintWorkflow"
QUALIFICATION_DEADLINE_WORKFLOW = "QualificationDeadlineWorkflow"

# A task queue per domain (like reference-app-orders), each polled by a worker of its own, so a backlog in
# one domain (a burst of orders, a morning of due reply clocks) never delays another's tasks.
ORDERS_QUEUE = "orders"
CONSULTATION_QUEUE = "consultation"
DOCUMENTS_QUEUE = "documents"
BOOKING_QUEUE = "booking"
PLATFORM_QUEUE = "platform"


def task_queue(deployment: str, domain: str) -> str:
    """The task queue of `domain` (one of the `*_QUEUE` names) in the deployment named by the
    `temporal_task_queue` setting (`counsel` → `counsel-orders`), so deployments sharing a Temporal server
    never take each other's tasks."""
    return f"{deployment}-{domain}"


# --- consultations ----------------------------------------------------------------------------------------
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


# --- complaints (R-CS-3, §6.1.4.4) ----------------------------------------------------------------------
def complaint_workflow_id(complaint_id: str) -> str:
    return f"complaint-{complaint_id}"


class ComplaintWorkflowInput(BaseModel):
    complaint_id: str
    tenant_id: str
    # The first response clock's due time, as the consultation service set it (policy in the service).
    due_at: datetime
    # A resolution the client neither accepts nor reopens within this closes the complaint.
    answer_within: timedelta = timedelta(days=7)


class ComplaintReopened(BaseModel):
    """The client reopened the resolution: a new response clock due at `due_at`."""

    due_at: datetime


class EscalateComplaintInput(BaseModel):
    complaint_id: str
    missed_due_at: datetime


class ComplaintOutcome(BaseModel):
    complaint_id: str
    # Response clocks that ran out before a resolution (each escalated to the supervisors).
    breaches: int
    # "accepted" (or closed by an agent's own act) or "unanswered" (the answer window ran out).
    closed_by: str


# -- orders and payment (issue 5) ------------------------------------------------------------------
def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


class OrderWorkflowInput(BaseModel):
    order_id: str
    tenant_id: str
    product_id: str
    category: str
    # The tier as bought (price and clocks: delivery_hours, revision_days, acknowledge_minutes, reply_hours).
    tier: dict[str, Any]
    # The client's deadline to pay (R-PAY-2); a Temporal timer races the `paid` signal.
    pay_before: datetime
    # Who ordered, handed to the fulfilment (e.g. a document order).
    client_id: str = ""
    # No longer sent: what the client typed stays sealed in payment, and the fulfilment reads it there by
    # order id (docs/privacy.md, "Workflow histories"). Kept so the histories recorded with it still decode.
    requirements: dict[str, Any] = {}
    # The held booking a booking product's order names (`{"booking_id": ...}`), a reference only; empty
    # otherwise. Histories recorded before carry the order's other booking details too.
    booking: dict[str, Any] = {}
    # The order's terms for a fulfilment its client starts (a consultation order's consultation): not started
    # within this long after payment, the order is refunded in full. None: no such clock.
    fulfil_within: timedelta | None = None


class FulfilmentRequest(BaseModel):
    """What the fulfilling service needs to start a paid order's fulfilment (`<svc>.` activities)."""

    order_id: str
    tenant_id: str
    product_id: str
    category: str
    tier: dict[str, Any]
    client_id: str = ""
    # No longer sent (see OrderWorkflowInput.requirements): `documents.create_document_order` reads them.
    requirements: dict[str, Any] = {}
    # When the workflow learnt the order was paid (the document acknowledgement clock starts then).
    paid_at: datetime | None = None
    # The held booking a booking product's order names (`{"booking_id": ...}`), which the payment confirms.
    booking: dict[str, Any] = {}


class FulfilmentRef(BaseModel):
    """What fulfils a paid order: `kind` (consultation|document|booking|online_call) and the owning service's `id`.
    Also the signal `fulfilment_started`: the client started the order's consultation."""

    kind: str
    id: str


class FulfilmentEnded(BaseModel):
    """Signal `fulfilment_ended`: the fulfilment's owner recorded its end. A fulfilment `served` completes the
    order; one that was not (cancelled, failed, closed unanswered) refunds `refund_fen` of it (None: all that
    is left; 0: nothing, the terms keep the price), and an order refunded only in part is then completed."""

    kind: str
    id: str
    served: bool
    refund_fen: int | None = None
    # The refund's reason, as the client's refund notice shows it.
    reason: str = "fulfilment_cancelled"


class AdvanceOrderInput(BaseModel):
    order_id: str
    status: str
    fulfilment_kind: str = ""
    fulfilment_id: str = ""


class RefundOrderInput(BaseModel):
    order_id: str
    reason: str
    # 0 refunds everything not yet refunded.
    amount: int = 0
    idempotency_key: str


class OrderOutcome(BaseModel):
    order_id: str
    status: str
    reason: str = ""


# --- document orders (DocumentOrderWorkflow, `docorder-<id>`) ------------------------------------------


def document_order_workflow_id(document_order_id: str) -> str:
    return f"docorder-{document_order_id}"


class DocumentOrderWorkflowInput(BaseModel):
    """The tier's numbers travel as input (policy in data): R-DOC-2 (30 min), R-DOC-3 (24/48/72 h),
    R-DOC-5 (3/5/7 days)."""

    document_order_id: str
    tenant_id: str
    client_id: str
    complexity: str
    assigned_lawyer_id: str
    paid_at: datetime
    acknowledge_within: timedelta = timedelta(minutes=30)
    draft_within: timedelta = timedelta(hours=48)
    revision_window: timedelta = timedelta(days=5)
    # After a missed draft deadline the order is reassigned and the client is told this new expected time.
    extension_after_breach: timedelta = timedelta(hours=24)


class AcknowledgeSignal(BaseModel):
    agent_id: str
    at: datetime


class AssignedSignal(BaseModel):
    """An agent assigned the order nobody was assigned (`docorder.assigned`)."""

    lawyer_id: str
    agent_id: str


class DraftUploadedSignal(BaseModel):
    version_number: int
    author_id: str
    at: datetime


class ReviewDecisionSignal(BaseModel):
    version_number: int
    reviewer_id: str
    decision: str  # approve | reject
    at: datetime


class AcceptSignal(BaseModel):
    client_id: str
    at: datetime


class RevisionRequest(BaseModel):
    requested_by: str
    # No longer sent: the client's words stay sealed in the documents service (docs/privacy.md). Kept so the
    # histories recorded with it still decode.
    instructions: str = ""
    # The window end the documents service recorded at delivery. The workflow's own value wins; this one
    # covers the moment between the approval's commit and its signal reaching the workflow.
    window_ends_at: datetime | None = None


class RevisionAccepted(BaseModel):
    revision_number: int
    revision_window_ends_at: datetime


class DocumentOrderStatus(BaseModel):
    stage: str
    assigned_lawyer_id: str
    acknowledged: bool
    draft_due_at: datetime | None
    revision_window_ends_at: datetime | None
    breaches: list[str]
    revisions_requested: int
    delivered_version: int | None
    completed_reason: str | None


class DocStageInput(BaseModel):
    document_order_id: str
    stage: str
    actor: str = "system"
    due_at: datetime | None = None
    reason: str = ""
    idempotency_key: str


class BreachInput(BaseModel):
    document_order_id: str
    kind: str  # acknowledgement | delivery
    due_at: datetime
    new_due_at: datetime | None = None
    idempotency_key: str


class DocumentOrderOutcome(BaseModel):
    document_order_id: str
    completed_reason: str
    breaches: list[str]
    revisions_requested: int


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


# --- bookings (BookingWorkflow, `booking-<id>`; R-BK-1) ----------------------------------------------------


def booking_workflow_id(booking_id: str) -> str:
    return f"booking-{booking_id}"


class BookingWorkflowInput(BaseModel):
    """The booking policy's clocks travel as input (policy in data; services/booking/domain.py Policy)."""

    booking_id: str
    tenant_id: str
    start: datetime
    minutes: int
    # The unpaid hold is released then (a Temporal timer races the `confirmed` signal).
    hold_expires_at: datetime
    reminders: list[timedelta] = [timedelta(hours=24), timedelta(hours=1)]
    no_show_grace: timedelta = timedelta(minutes=30)
    auto_complete_after: timedelta = timedelta(hours=24)


class BookingConfirmedSignal(BaseModel):
    order_id: str
    # The paying product's terms (services/booking/domain.policy_for) for the clocks after confirmation;
    # None keeps the workflow input's (histories recorded before these fields replay unchanged).
    reminders: list[timedelta] | None = None
    no_show_grace: timedelta | None = None
    auto_complete_after: timedelta | None = None


class BookingRescheduledSignal(BaseModel):
    start: datetime


class BookingCancelledSignal(BaseModel):
    # A code (booking.cancelled's reason), never the words a client typed.
    reason: str
    # The paid order and what the cancellation policy refunds of it (decided by the booking service).
    order_id: str = ""
    refund_fen: int = 0


class BookingReminderInput(BaseModel):
    booking_id: str
    lead_minutes: int


class BookingOutcome(BaseModel):
    booking_id: str
    # completed | no_show | cancelled | expired
    status: str
    refund_fen: int = 0
    reminders_sent: list[int] = []


# The platform's one signing-key rotation clock (identity's keys, issue 17).
SIGNING_KEY_ROTATION_WORKFLOW_ID = "identity-signing-key-rotation"


class SigningKeyRotationInput(BaseModel):
    period: timedelta = timedelta(days=30)
    # Rotations before the workflow continues as new (its history stays short).
    rotations_per_run: int = 12


class RotatedKey(BaseModel):
    kid: str
    signs_from: datetime


# --- qualifications (firm agreements, lawyers' annual inspections) ---------------------------------------
def firm_agreement_workflow_id(firm_id: str, ends_on: date) -> str:
    """One clock per agreement: a renewed agreement (a new end date) runs its own; the old one's wake-ups
    find the firm changed and do nothing harmful (the catalog recomputes every lawyer's standing)."""
    return f"firm-agreement-{firm_id}-{ends_on.isoformat()}"


def inspection_workflow_id(lawyer_id: str, due_on: date) -> str:
    return f"lawyer-inspection-{lawyer_id}-{due_on.isoformat()}"


class QualificationDeadlineInput(BaseModel):
    """A date that changes whether lawyers may take new work: a firm's agreement end (`firm_id`, warned
    `warn_before` ahead) or a lawyer's annual inspection (`lawyer_id`, no warning). `lapses_at` is the
    instant the date's Beijing day ends."""

    firm_id: str = ""
    lawyer_id: str = ""
    ends_on: date
    lapses_at: datetime
    warn_before: timedelta | None = None


class QualificationDeadlineStatus(BaseModel):
    warn_at: datetime | None
    lapses_at: datetime
    warned: bool
    lapsed: bool
