"""Consultation rules, free of I/O: what may be asked, by whom, and which transitions are allowed."""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, Unauthenticated

KINDS = ("general", "professional", "phone")
STATUSES = ("submitted", "assigned", "answered", "closed")
MAX_SUBJECT = 200
MAX_QUESTION = 20_000
STAFF_WHO_SEE_ALL = ("agent", "supervisor")

# Allowed status transitions; "closed" is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"assigned", "answered", "closed"}),
    "assigned": frozenset({"assigned", "answered", "closed"}),
    "answered": frozenset({"answered", "closed"}),
    "closed": frozenset(),
}


@dataclass(frozen=True)
class NewConsultation:
    kind: str
    subject: str
    question: str
    order_id: str


def validate_new(kind: str, subject: str, question: str, order_id: str) -> NewConsultation:
    """Normalised request, or InvalidArgument naming the first bad field."""
    if kind not in KINDS:
        raise InvalidArgument.for_field("kind", f"must be one of {', '.join(KINDS)}")
    subject, question = subject.strip(), question.strip()
    if not subject:
        raise InvalidArgument.for_field("subject", "must not be empty")
    if len(subject) > MAX_SUBJECT:
        raise InvalidArgument.for_field("subject", f"must be at most {MAX_SUBJECT} characters")
    if not question:
        raise InvalidArgument.for_field("question", "must not be empty")
    if len(question) > MAX_QUESTION:
        raise InvalidArgument.for_field("question", f"must be at most {MAX_QUESTION} characters")
    if kind in ("professional", "phone") and not order_id:
        # R-CON-2: a professional (or phone) consultation is a paid service.
        raise InvalidArgument.for_field("order_id", f"a {kind} consultation needs a paid consultation order")
    return NewConsultation(kind, subject, question, order_id.strip())


def require_client(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("sign in to ask a question")
    if not principal.is_client or not principal.tenant_id:
        raise PermissionDenied("only members of a client enterprise can submit consultations")
    return principal


def can_see(principal: Principal | None, tenant_id: str, assigned_lawyer_id: str) -> bool:
    """R-ACC-4: clients see their enterprise's consultations, lawyers their assigned ones, agents and
    supervisors all. Internal callers without a user token (workflow activities) see all."""
    if principal is None:
        return True
    if principal.is_client:
        return principal.tenant_id == tenant_id
    if principal.has_role(*STAFF_WHO_SEE_ALL):
        return True
    return principal.has_role("lawyer") and principal.user_id == assigned_lawyer_id


def require_internal(principal: Principal | None) -> None:
    """Stage records come from workflows, never from a user's token."""
    if principal is not None and not principal.has_role("supervisor"):
        raise PermissionDenied("stages are recorded by the consultation's workflow")


def next_status(current: str, target: str) -> str:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a {current} consultation cannot become {target}", reason="invalid_transition")
    return target


def status_for_stage(stage: str) -> str | None:
    """The status a recorded workflow stage implies, if it changes the status at all."""
    return {"assigned": "assigned", "escalated": "assigned", "answered": "answered", "closed": "closed"}.get(
        stage
    )
