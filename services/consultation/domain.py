"""Consultation rules, free of I/O: what may be asked, by whom, and which transitions are allowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.legal_fields import FALLBACK_FIELD
from services.legal_fields.classifier import Prediction
from services.runtime.context import Principal
from services.runtime.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from services.runtime.vocabulary import ConsultationKind, words

KINDS = words(ConsultationKind)
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


def status_after_stage(current: str, stage: str) -> str | None:
    """The status a consultation in `current` moves to when its workflow records `stage` for the first
    time; None when the stage leaves the status as it is."""
    implied = {"assigned": "assigned", "escalated": "assigned", "answered": "answered", "closed": "closed"}
    status = implied.get(stage)
    if status is None or status == current:
        return None
    return next_status(current, status)


def reply_due_at(kind: str, submitted_at: datetime, reply_within: timedelta | None) -> datetime | None:
    """When a new consultation's reply is due: professional questions only, by the order's reply clock."""
    return submitted_at + reply_within if kind == "professional" and reply_within else None


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


def is_first_reply(author_role: str, answered: bool) -> bool:
    """The assigned lawyer's first message answers the consultation and stops its reply clock."""
    return author_role == "lawyer" and not answered


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


# --- classification and assignment (R-CON-2) ----------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    """The classifier's decision on a question, and the line the staff's history shows for it."""

    legal_field: str
    confidence: float
    needs_manual: bool
    detail: str


def classification(prediction: Prediction) -> Classification:
    detail = (
        f"not confident ({prediction.confidence:.0%}): an agent classifies it by hand"
        if prediction.needs_manual
        else f"{prediction.field} ({prediction.confidence:.0%})"
    )
    return Classification(prediction.field, prediction.confidence, prediction.needs_manual, detail)


def reassigns_after_reclassification(status: str, lawyer_practises_field: bool) -> bool:
    """An agent's new field moves an unassigned consultation to a lawyer, and an assigned, unanswered one
    whose lawyer does not practise the new field to one who does."""
    return status == "submitted" or (status == "assigned" and not lawyer_practises_field)


@dataclass(frozen=True)
class Assignment:
    """Who holds a consultation (`lawyer_id` "" when nobody eligible was found: a supervisor decides) and
    why."""

    lawyer_id: str
    reason: str


def assignment(legal_field: str, chosen: tuple[str, str] | None, why: str) -> Assignment:
    """The assignment of a consultation of `legal_field` to `chosen` (lawyer id and the ranking's reason,
    None when nobody is eligible), `why` saying what started it (matched, reassigned after a breach, …)."""
    if chosen is None:
        return Assignment("", f"no eligible {legal_field or FALLBACK_FIELD} lawyer: left to a supervisor")
    lawyer_id, ranked = chosen
    return Assignment(lawyer_id, f"{why}: {ranked}")


def assignment_due(status: str, already_recorded: bool) -> bool:
    """Whether an assignment the workflow asks for is made: not on a retry of one already recorded, nor once
    the consultation is answered or closed (the current holder stands)."""
    return not already_recorded and status not in ("answered", "closed")


@dataclass(frozen=True)
class Escalation:
    """What a missed reply deadline did: nothing when `already_answered` (a reply recorded before the
    breach wins the race), else who the consultation moved to ("" = nobody eligible) and why."""

    already_answered: bool
    to_lawyer_id: str
    reason: str


@dataclass(frozen=True)
class Breach:
    """A missed reply deadline as recorded: who missed it, who may not take it over, the history's line."""

    from_lawyer_id: str
    exclude: list[str]
    detail: str


def breach(
    holder_id: str,
    reported_holder_id: str,
    exclude: Sequence[str],
    missed_due_at: datetime | None,
    original_due_at: datetime | None,
    escalations: int,
) -> Breach:
    """The `escalations`-th breach of a consultation. The row's holder (`holder_id`) wins over the one the
    workflow reports: an agent's reclassification may have moved it since. The original promise
    (`original_due_at`) is what the client was told and never moves."""
    from_lawyer_id = holder_id or reported_holder_id
    missed = missed_due_at or original_due_at
    return Breach(
        from_lawyer_id,
        [*exclude, from_lawyer_id] if from_lawyer_id else list(exclude),
        f"reply deadline {_iso(missed)} missed by {from_lawyer_id or 'nobody assigned'}; "
        f"breach {escalations}; original due {_iso(original_due_at)}",
    )


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


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
# What a client can complain about: each of their enterprise's services, payment disputes (orders) too.
COMPLAINT_SUBJECTS = ("consultation", "document_order", "booking", "order")
COMPLAINT_STATUSES = ("open", "in_progress", "resolved", "reopened", "closed")
# Agents take a complaint on and resolve it; the client reopens a resolution (with a reason) or accepts it;
# a resolution left unanswered closes by itself. "closed" is final.
COMPLAINT_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "resolved"}),
    "in_progress": frozenset({"resolved"}),
    "resolved": frozenset({"reopened", "closed"}),
    "reopened": frozenset({"in_progress", "resolved"}),
    "closed": frozenset(),
}
# The response clock's kind in counsel_sla_deadlines (services/runtime/metrics.py).
COMPLAINT_CLOCK = "complaint_response"
# The statuses in which the response clock runs: until an agent resolves the complaint.
COMPLAINT_AWAITING_RESPONSE = frozenset({"open", "in_progress", "reopened"})
# The standard sets no response time for complaints (§6.1.4.4 asks that they are recorded, tracked and
# resolved), so a complaint gets the platform's own promise to a waiting client, the 24 h of a reply.
COMPLAINT_RESPONSE_WITHIN = timedelta(hours=24)
# A resolution the client neither accepts nor reopens within this closes the complaint.
COMPLAINT_ANSWER_WITHIN = timedelta(days=7)
MAX_COMPLAINT = 5_000


@dataclass(frozen=True)
class NewComplaint:
    subject_type: str
    subject_id: str
    body: str


def validate_complaint(
    principal: Principal | None, subject_type: str, subject_id: str, body: str
) -> tuple[Principal, NewComplaint]:
    """The client raising it and what they raise. Whether the subject is theirs is the caller's question."""
    if principal is None:
        raise Unauthenticated("sign in to raise a complaint")
    if not principal.is_client:
        raise PermissionDenied("complaints are raised by the client")
    if subject_type not in COMPLAINT_SUBJECTS:
        raise InvalidArgument.for_field("subject_type", f"must be one of {', '.join(COMPLAINT_SUBJECTS)}")
    if not subject_id.strip():
        raise InvalidArgument.for_field("subject_id", "must not be empty")
    return principal, NewComplaint(subject_type, subject_id.strip(), _complaint_text("body", body))


def require_complaint_handler(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("sign in to handle complaints")
    if not principal.has_role(*STAFF_WHO_SEE_ALL):
        raise PermissionDenied("complaints are handled by agents")
    return principal


def require_complaint_reader(principal: Principal | None, tenant_id: str) -> Principal:
    """Agents and supervisors see every complaint, a client their enterprise's; another's is not found."""
    if principal is None:
        raise Unauthenticated("sign in to see complaints")
    if principal.has_role(*STAFF_WHO_SEE_ALL):
        return principal
    if principal.is_client and principal.tenant_id == tenant_id:
        return principal
    raise NotFound("no such complaint")


def require_complaint_client(principal: Principal | None, tenant_id: str) -> Principal:
    """Reopening or accepting a resolution is the client's: their enterprise's complaints only."""
    if principal is None:
        raise Unauthenticated("sign in to answer a complaint's resolution")
    if principal.is_client and principal.tenant_id == tenant_id:
        return principal
    if principal.has_role(*STAFF_WHO_SEE_ALL):
        raise PermissionDenied("a resolution is accepted or reopened by the client")
    raise NotFound("no such complaint")


def next_complaint_status(current: str, target: str) -> str:
    """`target` when a `current` complaint may become it; Conflict (invalid_transition) otherwise."""
    if target not in COMPLAINT_STATUSES:
        raise InvalidArgument.for_field("status", f"must be one of {', '.join(COMPLAINT_STATUSES)}")
    if target not in COMPLAINT_TRANSITIONS[current]:
        raise Conflict(f"a {current} complaint cannot become {target}", reason="invalid_transition")
    return target


# What an agent may make of a complaint; reopening and closing are the client's (or the clock's).
AGENT_COMPLAINT_MOVES = ("in_progress", "resolved")


@dataclass(frozen=True)
class ComplaintMove:
    status: str
    resolution: str


def agent_complaint_move(current: str, target: str, resolution: str) -> ComplaintMove:
    """An agent's move of a `current` complaint to `target` (`resolution` required to resolve)."""
    if target not in AGENT_COMPLAINT_MOVES:
        raise InvalidArgument.for_field("status", f"must be one of {', '.join(AGENT_COMPLAINT_MOVES)}")
    if target == "resolved":
        resolution = _complaint_text("resolution", resolution)
    return ComplaintMove(next_complaint_status(current, target), resolution)


def validate_reopen_reason(reason: str) -> str:
    return _complaint_text("reason", reason)


def complaint_clock_kept(resolved_at: datetime, due_at: datetime) -> bool:
    """Whether a resolution at `resolved_at` kept the response clock due at `due_at`."""
    return resolved_at <= due_at


def complaint_breach_applies(status: str, due_at: datetime | None, missed_due_at: datetime) -> bool:
    """Whether the workflow's breach of the clock due at `missed_due_at` still stands: the complaint awaits
    a response on that very clock (not resolved meanwhile, not restarted by a reopen)."""
    return status in COMPLAINT_AWAITING_RESPONSE and due_at == missed_due_at


def _complaint_text(field: str, text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidArgument.for_field(field, "must not be empty")
    if len(text) > MAX_COMPLAINT:
        raise InvalidArgument.for_field(field, f"must be at most {MAX_COMPLAINT} characters")
    return text


# --- phone consultations (R-CON-3, §6.2.1.3, §6.2.4.4) -------------------------------------------------
MAX_OUTCOME = 2_000


@dataclass(frozen=True)
class LawyerStanding:
    """Whether a lawyer may take new work now and, when not, the catalog's reason."""

    active: bool
    unavailable_reason: str = ""


def validate_start_call(
    principal: Principal | None, kind: str, status: str, lawyer: LawyerStanding | None
) -> Principal:
    """An agent bridges an open phone consultation to a lawyer who may take new work (active, verified, their
    firm's agreement in force, their inspection current): Conflict `not_assignable` with the reason
    otherwise, as booking and assignment refuse them. `lawyer` is None when the lawyer is unknown."""
    if principal is None:
        raise Unauthenticated("sign in to bridge a call")
    if not principal.has_role("agent"):
        raise PermissionDenied("calls are bridged by an agent")
    if kind != "phone":
        raise Conflict("only a phone consultation is bridged by phone", reason="not_a_phone_consultation")
    if status == "closed":
        raise Conflict("the consultation is closed", reason="consultation_closed")
    if lawyer is None:
        raise InvalidArgument.for_field("lawyer_id", "is not a lawyer")
    require_takes_new_work(lawyer)
    return principal


def require_takes_new_work(lawyer: LawyerStanding) -> None:
    """Conflict `not_assignable` with the catalog's reason unless the lawyer may take new work now (active,
    verified, their firm's agreement in force, their inspection current), as booking and assignment refuse."""
    if not lawyer.active or lawyer.unavailable_reason:
        raise Conflict(
            lawyer.unavailable_reason or "the lawyer takes no new work now", reason="not_assignable"
        )


def call_seconds(started_at: datetime, ended_at: datetime) -> int:
    return max(0, round((ended_at - started_at).total_seconds()))


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


# --- online calls: a client calls an online lawyer in the browser (§6.2.4.1, §6.2.4.4) ----------------------
ONLINE_CALL_MEDIA = ("audio", "video")
ONLINE_CALL_STATUSES = ("ringing", "connected", "ended")


def validate_start_online_call(principal: Principal | None, media: str) -> Principal:
    """A client calls a lawyer by voice or video."""
    if principal is None:
        raise Unauthenticated("sign in to call a lawyer")
    if not principal.is_client:
        raise PermissionDenied("clients call lawyers online")
    if media not in ONLINE_CALL_MEDIA:
        raise InvalidArgument.for_field("media", "must be audio or video")
    return principal


@dataclass(frozen=True)
class CallOrder:
    """A paid order as the payment service reports it, offered to pay for an online call."""

    order_id: str
    status: str
    category: str
    consultation_kind: str


@dataclass(frozen=True)
class ProductToBuy:
    """The catalog's phone consultation product a client without a usable order is asked to buy."""

    product_id: str
    name: str


def online_call_spends(order: CallOrder) -> bool | None:
    """Whether an online call may use `order` and, if so, whether it uses it up: a paid phone consultation order
    pays for one call (True), a paid retainer for any number (False). None when it pays for no call."""
    if order.status not in PAID_ORDER_STATUSES:
        return None
    if order.category == "retainer":
        return False
    if order.category == "consultation" and order.consultation_kind == "phone":
        return True
    return None


def order_required(product: ProductToBuy | None, why: str) -> Conflict:
    """The refusal of an online call no paid order pays for, naming the product to buy (409 order_required,
    its `product_id` member when the catalog has one): a call is never free by accident."""
    buy = f"buy {product.name} ({product.product_id})" if product else "buy a phone consultation"
    return Conflict(
        f"{why}: {buy} first",
        reason="order_required",
        violations=[FieldViolation("order_id", f"{buy} first")],
        members={"product_id": product.product_id} if product else None,
    )


def require_callable_lawyer(active: bool | None, unavailable_reason: str, online: bool) -> None:
    """A client calls a lawyer who may take new work (Conflict `not_assignable` with the reason, as an agent's
    bridged call) and is online. `active` is None when the catalog knows no such lawyer."""
    if not active:
        raise InvalidArgument.for_field("lawyer_id", "is not an active lawyer")
    require_takes_new_work(LawyerStanding(active, unavailable_reason))
    if not online:
        raise Conflict("the lawyer is offline", reason="lawyer_offline")


def online_call_party(
    principal: Principal | None, tenant_id: str, client_id: str, lawyer_user_id: str
) -> str:
    """Which party of the call the caller is: "client" or "lawyer". Anyone else is told there is no such call."""
    if principal is not None and principal.user_id == client_id and principal.tenant_id == tenant_id:
        return "client"
    if principal is not None and principal.user_id == lawyer_user_id and principal.has_role("lawyer"):
        return "lawyer"
    raise NotFound("no such call")


def validate_list_online_calls(principal: Principal | None, status: str) -> Principal:
    """A lawyer lists their own calls in one status."""
    if principal is None:
        raise Unauthenticated("sign in to see your calls")
    if not principal.has_role("lawyer"):
        raise PermissionDenied("lawyers list the calls made to them")
    if status not in ONLINE_CALL_STATUSES:
        raise InvalidArgument.for_field("status", "must be ringing, connected or ended")
    return principal


def order_calls_scope(principal: Principal | None) -> tuple[str, str]:
    """Whose calls of an order the caller sees, as (column, value) to match: a client their enterprise's
    (`tenant_id`), a lawyer their own (`lawyer_user_id`), agents and supervisors every one (`""`)."""
    if principal is None:
        raise Unauthenticated("sign in to see an order's calls")
    if principal.is_client:
        return "tenant_id", principal.tenant_id
    if principal.has_role("agent", "supervisor"):
        return "", ""
    if principal.has_role("lawyer"):
        return "lawyer_user_id", principal.user_id
    raise PermissionDenied("the order's client, its lawyer, agents and supervisors see its calls")


def validate_accept_online_call(party: str, status: str) -> None:
    if party != "lawyer":
        raise PermissionDenied("the called lawyer accepts the call")
    if status != "ringing":
        raise Conflict(f"the call is {status}", reason=f"call_{status}")


def validate_end_online_call(status: str, outcome: str) -> str:
    """Either party ends a ringing or connected call with what came of it."""
    outcome = outcome.strip()
    if not outcome:
        raise InvalidArgument.for_field("outcome", "must say what came of the call")
    if len(outcome) > MAX_OUTCOME:
        raise InvalidArgument.for_field("outcome", f"must be at most {MAX_OUTCOME} characters")
    if status == "ended":
        raise Conflict("the call has already ended", reason="call_ended")
    return outcome
