"""What workflows and the services that start them share: ids, task queues, names and inputs.
Nothing here does I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

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


class FulfilmentRequest(BaseModel):
    order_id: str
    tenant_id: str
    product_id: str
    category: str
    tier: dict[str, Any]


class FulfilmentRef(BaseModel):
    """What fulfils a paid order: `kind` (consultation|document|booking) and the owning service's `id`;
    `workflow` / `workflow_id` name the child workflow the order waits for, if any."""

    kind: str
    id: str
    workflow: str | None = None
    workflow_id: str | None = None


class FulfilmentOutcome(BaseModel):
    # completed | cancelled | failed
    status: str


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
