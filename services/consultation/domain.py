"""Consultation rules, free of I/O: what may be asked, by whom, and which transitions are allowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated

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


PAID_ORDER_STATUSES = ("paid", "in_service")


def spends_order(kind: str, order_status: str, order_category: str, order_consultation_kind: str) -> bool:
    """Whether a consultation of `kind` may use the order (its status, category and the consultation kind
    its product paid for, as the payment service reports them), and whether it spends it: a consultation
    order pays for exactly one consultation of its product's kind (at most one spends it: the store's unique
    index), a retainer for any number. Conflict (409) naming the reason otherwise."""
    if order_category not in ("consultation", "retainer"):
        raise Conflict(
            f"order_id is a {order_category or 'non-consultation'} order, not a consultation order",
            reason="order_not_for_consultation",
        )
    if order_category == "consultation" and order_consultation_kind and order_consultation_kind != kind:
        raise Conflict(
            f"order_id paid for a {order_consultation_kind} consultation, not a {kind} one",
            reason="order_kind_mismatch",
        )
    if order_status not in PAID_ORDER_STATUSES:
        raise Conflict(
            "order_id is not a paid consultation order of your enterprise", reason="order_not_paid"
        )
    return order_category == "consultation"


def served(answered: bool, calls: int) -> bool:
    """A consultation was served when a lawyer answered it or a call with one took place; one that closes
    unserved was cancelled, and its paid order is refunded."""
    return answered or calls > 0


# A professional question's reply clock when its order's tier states none (§6.2.1.2: 24 hours).
DEFAULT_REPLY_WITHIN = timedelta(hours=24)


def reply_within(kind: str, reply_hours: int | None) -> timedelta | None:
    """The reply clock of a new consultation: the bought tier's `reply_hours` (policy in data, copied on
    the order), 24 h when the order carries none; None for kinds without a reply promise."""
    if kind != "professional":
        return None
    if reply_hours is None or reply_hours <= 0:
        return DEFAULT_REPLY_WITHIN
    return timedelta(hours=reply_hours)


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
    if principal.is_firm_system:
        return principal.reads_work_of(assigned_lawyer_id)
    if principal.has_role(*STAFF_WHO_SEE_ALL):
        return True
    return principal.has_role("lawyer") and principal.user_id == assigned_lawyer_id


def sees_history(principal: Principal | None) -> bool:
    """The detailed history (assignment reasons, breaches) is for staff, not for clients."""
    return principal is None or principal.has_role("agent", "supervisor", "lawyer")


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


# --- messages (follow-ups both ways) ------------------------------------------------------------------
MAX_MESSAGE = 20_000


def message_author_role(principal: Principal | None, tenant_id: str, assigned_lawyer_id: str) -> str:
    """The role in which the caller writes on this consultation: the client's enterprise, the assigned
    lawyer or an agent. Anyone who cannot see it gets 404; anyone who can see but not write gets 403."""
    if principal is None:
        raise Unauthenticated("sign in to write a message")
    if not can_see(principal, tenant_id, assigned_lawyer_id):
        raise NotFound("no such consultation")
    if principal.is_client:
        return "client"
    if principal.has_role("lawyer") and principal.user_id == assigned_lawyer_id:
        return "lawyer"
    if principal.has_role("agent"):
        return "agent"
    raise PermissionDenied("only the client, the assigned lawyer or an agent can write here")


def validate_message(status: str, body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidArgument.for_field("body", "must not be empty")
    if len(body) > MAX_MESSAGE:
        raise InvalidArgument.for_field("body", f"must be at most {MAX_MESSAGE} characters")
    if status == "closed":
        raise Conflict("the consultation is closed", reason="consultation_closed")
    return body


# --- rating (R-Q-1) -------------------------------------------------------------------------------------
MAX_COMMENT = 2_000


def validate_rating(
    principal: Principal | None, tenant_id: str, status: str, rated: int, rating: int, comment: str
) -> str:
    if principal is None:
        raise Unauthenticated("sign in to rate")
    if not principal.is_client:
        raise PermissionDenied("only the client rates a consultation")
    if principal.tenant_id != tenant_id:
        raise NotFound("no such consultation")
    if not 1 <= rating <= 5:
        raise InvalidArgument.for_field("rating", "must be an integer from 1 to 5")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidArgument.for_field("comment", f"must be at most {MAX_COMMENT} characters")
    if status not in ("answered", "closed"):
        raise Conflict("a consultation can be rated once it is answered", reason="not_answered")
    if rated:
        raise Conflict("the consultation is already rated", reason="already_rated")
    return comment


def require_lawyer(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("sign in to see your queue")
    if not principal.has_role("lawyer"):
        raise PermissionDenied("the queue is a lawyer's")
    return principal


def validate_reclassification(
    principal: Principal | None, status: str, legal_field: str, fields: Sequence[str]
) -> None:
    """Only agents (and supervisors) classify by hand, into a known field, while the consultation is open."""
    if principal is None:
        raise Unauthenticated("sign in to classify")
    if not principal.has_role("agent", "supervisor"):
        raise PermissionDenied("only an agent classifies a consultation by hand")
    if legal_field not in fields:
        raise InvalidArgument.for_field("legal_field", f"must be one of {', '.join(fields)}")
    if status == "closed":
        raise Conflict("the consultation is closed", reason="consultation_closed")


AT_RISK_DEFAULT = timedelta(hours=2)


def at_risk_window(principal: Principal | None, within_minutes: int) -> timedelta:
    """Agents' dashboard of consultations at risk (due within 2 h by default, at most 7 days ahead)."""
    if principal is None:
        raise Unauthenticated("sign in to see consultations at risk")
    if not principal.has_role(*STAFF_WHO_SEE_ALL):
        raise PermissionDenied("the at-risk dashboard is for agents and supervisors")
    if within_minutes < 0 or within_minutes > 7 * 24 * 60:
        raise InvalidArgument.for_field("within_minutes", "must be between 0 and 10080")
    return timedelta(minutes=within_minutes) if within_minutes else AT_RISK_DEFAULT


# --- complaints (R-CS-3, §6.1.4.4) ---------------------------------------------------------------------
COMPLAINT_STATUSES = ("open", "in_progress", "resolved")
COMPLAINT_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "resolved"}),
    "in_progress": frozenset({"resolved"}),
    "resolved": frozenset(),
}
MAX_COMPLAINT = 5_000


def validate_complaint(principal: Principal | None, tenant_id: str, body: str) -> str:
    if principal is None:
        raise Unauthenticated("sign in to raise a complaint")
    if not principal.is_client:
        raise PermissionDenied("complaints are raised by the client")
    if principal.tenant_id != tenant_id:
        raise NotFound("no such consultation")
    body = body.strip()
    if not body:
        raise InvalidArgument.for_field("body", "must not be empty")
    if len(body) > MAX_COMPLAINT:
        raise InvalidArgument.for_field("body", f"must be at most {MAX_COMPLAINT} characters")
    return body


def require_complaint_handler(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("sign in to handle complaints")
    if not principal.has_role(*STAFF_WHO_SEE_ALL):
        raise PermissionDenied("complaints are handled by agents")
    return principal


def next_complaint_status(current: str, target: str, resolution: str) -> str:
    if target not in COMPLAINT_STATUSES:
        raise InvalidArgument.for_field("status", "must be in_progress or resolved")
    if target == "resolved" and not resolution.strip():
        raise InvalidArgument.for_field("resolution", "must say how the complaint was resolved")
    if len(resolution) > MAX_COMPLAINT:
        raise InvalidArgument.for_field("resolution", f"must be at most {MAX_COMPLAINT} characters")
    if target not in COMPLAINT_TRANSITIONS[current]:
        raise Conflict(f"a {current} complaint cannot become {target}", reason="invalid_transition")
    return target


# --- phone consultations (R-CON-3, §6.2.1.3, §6.2.4.4) -------------------------------------------------
MAX_OUTCOME = 2_000


def validate_start_call(
    principal: Principal | None, kind: str, status: str, lawyer_active: bool | None
) -> Principal:
    """An agent bridges an open phone consultation to an active lawyer. `lawyer_active` is None when the
    lawyer is unknown."""
    if principal is None:
        raise Unauthenticated("sign in to bridge a call")
    if not principal.has_role("agent"):
        raise PermissionDenied("calls are bridged by an agent")
    if kind != "phone":
        raise Conflict("only a phone consultation is bridged by phone", reason="not_a_phone_consultation")
    if status == "closed":
        raise Conflict("the consultation is closed", reason="consultation_closed")
    if not lawyer_active:
        raise InvalidArgument.for_field("lawyer_id", "is not an active lawyer")
    return principal


def validate_end_call(principal: Principal | None, call_status: str, outcome: str) -> tuple[Principal, str]:
    if principal is None:
        raise Unauthenticated("sign in to end a call")
    if not principal.has_role("agent"):
        raise PermissionDenied("calls are ended by an agent")
    outcome = outcome.strip()
    if not outcome:
        raise InvalidArgument.for_field("outcome", "must say what came of the call")
    if len(outcome) > MAX_OUTCOME:
        raise InvalidArgument.for_field("outcome", f"must be at most {MAX_OUTCOME} characters")
    if call_status != "connected":
        raise Conflict("the call has already ended", reason="call_ended")
    return principal, outcome
