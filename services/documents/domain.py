"""Document-order rules, free of I/O: who may do what in which stage, upload limits, due-time arithmetic."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.legal_fields import FALLBACK_FIELD, LEGAL_FIELDS
from services.rules.forms import validate_bounds
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.runtime.vocabulary import DocumentComplexity, words

STAGES = (
    "awaiting_acknowledgement",
    "drafting",
    "in_review",
    "delivered",
    "revising",
    "completed",
    "cancelled",
)
COMPLEXITIES = words(DocumentComplexity)
# Tier defaults (§6.2.2.3, §6.2.2.4), used when the creating call does not carry the tier's numbers.
TIER_DEFAULTS: dict[str, tuple[timedelta, timedelta]] = {
    "simple": (timedelta(hours=24), timedelta(days=3)),
    "standard": (timedelta(hours=48), timedelta(days=5)),
    "complex": (timedelta(hours=72), timedelta(days=7)),
}
ACKNOWLEDGE_WITHIN = timedelta(minutes=30)  # §6.2.2.2
# The clocks counted in counsel_sla_deadlines_total, by kind and tier (the complexity).
DEADLINE_CLOCKS = tuple(
    (kind, tier) for kind in ("acknowledge_30m", "delivery", "revision_window") for tier in COMPLEXITIES
)

# Allowed transitions; "completed" and "cancelled" are final. Breaches keep the stage (or move an
# unacknowledged order on). Any open order can be cancelled by a supervisor (the client is refunded).
TRANSITIONS: dict[str, frozenset[str]] = {
    "awaiting_acknowledgement": frozenset({"drafting", "cancelled"}),
    "drafting": frozenset({"drafting", "in_review", "cancelled"}),
    "in_review": frozenset({"drafting", "revising", "delivered", "cancelled"}),
    "delivered": frozenset({"revising", "completed", "cancelled"}),
    "revising": frozenset({"revising", "in_review", "completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
# Who may cancel a document order (no public API path; see DocumentsService.CancelDocumentOrder).
STAFF_WHO_CANCEL = ("supervisor",)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_NOTE = 2_000
MAX_INSTRUCTIONS = 10_000
MAX_FILE_NAME = 255
# Media types a document may have (docx, pdf, odt, txt, images), each with its accepted file extensions.
MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/pdf": (".pdf",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "text/plain": (".txt",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
}
STAFF_WHO_SEE_ALL = ("agent", "supervisor", "reviewer")


def next_stage(current: str, target: str) -> str:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a document order in {current} cannot move to {target}", reason="invalid_transition")
    return target


def breach_decides_clock(kind: str, stage: str, delivered: bool, breaches_of_kind: int) -> bool:
    """Whether a breach just recorded (the `breaches_of_kind`-th of its kind) is its clock's outcome: the first
    one of a clock the awaited act has not stopped yet. A late acknowledgement or a first delivery that
    came before the breach was recorded decided the clock already; later breaches are of its extensions."""
    if breaches_of_kind != 1:
        return False
    if kind == "acknowledgement":
        return stage == "awaiting_acknowledgement"
    return not delivered


def tier_clocks(
    complexity: str, draft_within: timedelta | None, revision_window: timedelta | None
) -> tuple[timedelta, timedelta]:
    default_draft, default_window = TIER_DEFAULTS[complexity]
    return draft_within or default_draft, revision_window or default_window


def validate_complexity(complexity: str) -> str:
    if complexity not in COMPLEXITIES:
        raise InvalidArgument.for_field("complexity", f"must be one of {', '.join(COMPLEXITIES)}")
    return complexity


def validate_requirements(requirements: dict[str, str]) -> dict[str, str]:
    """The client's answers, bounded in number and size (checked against the product's form with
    `services.rules.forms.validate_requirements_against` when the product is known)."""
    validate_bounds(requirements)
    return dict(requirements)


@dataclass(frozen=True)
class Upload:
    file_name: str
    media_type: str
    content: bytes
    note: str
    sha256: str


def validate_upload(file_name: str, media_type: str, content: bytes, note: str) -> Upload:
    """An acceptable file (type by declared media type and extension, 1 byte to 20 MiB), or
    InvalidArgument naming the field."""
    file_name = file_name.strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not file_name or len(file_name) > MAX_FILE_NAME:
        raise InvalidArgument.for_field("file", f"needs a file name of 1 to {MAX_FILE_NAME} characters")
    media_type = media_type.split(";", 1)[0].strip().lower()
    extensions = MEDIA_TYPES.get(media_type)
    if extensions is None:
        raise InvalidArgument.for_field(
            "file", "must be a docx, pdf, odt, txt or image (png, jpeg, webp) file"
        )
    if not file_name.lower().endswith(extensions):
        raise InvalidArgument.for_field(
            "file", f"a {media_type} file must be named *{' or *'.join(extensions)}"
        )
    if not content:
        raise InvalidArgument.for_field("file", "is empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidArgument.for_field("file", f"must be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    if len(note) > MAX_NOTE:
        raise InvalidArgument.for_field("note", f"must be at most {MAX_NOTE} characters")
    return Upload(file_name, media_type, content, note.strip(), hashlib.sha256(content).hexdigest())


def signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("sign in first")
    return principal


def can_see(principal: Principal | None, tenant_id: str, assigned_lawyer_id: str) -> bool:
    """R-ACC-4: clients see their enterprise's orders, the assigned lawyer his, agents, reviewers and
    supervisors all. Internal callers without a user token (workflow activities, payment) see all."""
    if principal is None:
        return True
    if principal.is_client:
        return bool(principal.tenant_id) and principal.tenant_id == tenant_id
    if principal.is_firm_system:
        return principal.reads_work_of(assigned_lawyer_id)
    if principal.has_role(*STAFF_WHO_SEE_ALL):
        return True
    return principal.has_role("lawyer") and principal.user_id == assigned_lawyer_id


def require_visible(principal: Principal | None, tenant_id: str, assigned_lawyer_id: str) -> None:
    if not can_see(principal, tenant_id, assigned_lawyer_id):
        raise NotFound("no such document order")  # never reveal another tenant's objects


def require_role(principal: Principal | None, *roles: str) -> Principal:
    principal = signed_in(principal)
    if not principal.has_role(*roles):
        raise PermissionDenied("your role does not allow this")
    return principal


def require_internal_or(principal: Principal | None, *roles: str) -> None:
    """Workflow activities and peer services call without a user token; people need one of `roles`."""
    if principal is not None and not principal.has_role(*roles):
        raise PermissionDenied("only the platform records this")


def check_acknowledge(stage: str, acknowledged_by: str, assigned_lawyer_id: str) -> None:
    """An agent acknowledges an order awaiting it that has a lawyer: one nobody was assigned is assigned
    first (`agent_assignment`), so the draft clock never starts with nobody to draft."""
    if stage == "awaiting_acknowledgement":
        if not assigned_lawyer_id:
            raise Conflict(
                "assign a lawyer before acknowledging: nobody has passed the order's legal field",
                reason="no_lawyer_assigned",
            )
        return
    if stage == "cancelled":
        raise Conflict("the order was cancelled", reason="invalid_transition")
    if acknowledged_by:
        raise Conflict("the order was already acknowledged", reason="already_acknowledged")
    raise Conflict(
        "the acknowledgement deadline passed and the order went on to drafting (the breach is recorded)",
        reason="acknowledgement_deadline_passed",
    )


def check_upload(stage: str, principal: Principal, assigned_lawyer_id: str) -> None:
    if principal.user_id != assigned_lawyer_id:
        raise PermissionDenied("only the lawyer assigned to this order may upload drafts")
    if stage not in ("drafting", "revising"):
        raise Conflict(f"no draft is expected while the order is {stage}", reason="invalid_transition")


def check_review(stage: str, principal: Principal, author_id: str, decision: str, comment: str) -> None:
    """§9.5: a reviewer who is not the author decides on the version in review."""
    if decision not in ("approve", "reject"):
        raise InvalidArgument.for_field("decision", "must be approve or reject")
    if decision == "reject" and not comment.strip():
        raise InvalidArgument.for_field("comment", "tell the lawyer why the draft is rejected")
    if len(comment) > MAX_NOTE:
        raise InvalidArgument.for_field("comment", f"must be at most {MAX_NOTE} characters")
    if stage != "in_review":
        raise Conflict(
            f"there is no version in review while the order is {stage}", reason="invalid_transition"
        )
    if principal.user_id == author_id:
        raise PermissionDenied("the author of a version cannot review it (§9.5)")


@dataclass(frozen=True)
class ReviewOutcome:
    """What a reviewer's decision does (§9.5): the version's status, the stage the order moves to and that
    stage's due time, and the revision window, which starts at the first delivery and never restarts."""

    version_status: str
    stage: str
    due_at: datetime | None
    first_delivered_at: datetime | None
    revision_window_ends_at: datetime | None


def review_outcome(
    stage: str,
    decision: str,
    first_delivered_at: datetime | None,
    revision_window_ends_at: datetime | None,
    draft_due_at: datetime | None,
    revision_window: timedelta,
    now: datetime,
) -> ReviewOutcome:
    """An approval delivers the version (the window opens at the first delivery); a rejection sends the
    order back to drafting with the time it had left, or to revising once it was delivered (a revision has
    no clock)."""
    if decision == "approve":
        if first_delivered_at is None:
            first_delivered_at, revision_window_ends_at = now, now + revision_window
        return ReviewOutcome(
            "approved",
            next_stage(stage, "delivered"),
            revision_window_ends_at,
            first_delivered_at,
            revision_window_ends_at,
        )
    back = "revising" if first_delivered_at is not None else "drafting"
    return ReviewOutcome(
        "rejected",
        next_stage(stage, back),
        draft_due_at if back == "drafting" else None,
        first_delivered_at,
        revision_window_ends_at,
    )


def check_client_owns(principal: Principal, tenant_id: str) -> None:
    if not principal.is_client or principal.tenant_id != tenant_id:
        raise NotFound("no such document order")


def check_revision(stage: str, window_ends_at: datetime | None, now: datetime, instructions: str) -> str:
    instructions = instructions.strip()
    if not instructions:
        raise InvalidArgument.for_field("instructions", "say what should change")
    if len(instructions) > MAX_INSTRUCTIONS:
        raise InvalidArgument.for_field("instructions", f"must be at most {MAX_INSTRUCTIONS} characters")
    if window_ends_at is None:
        raise Conflict("the document has not been delivered yet", reason="not_delivered")
    if stage == "cancelled":
        raise Conflict("the order was cancelled", reason="invalid_transition")
    if stage == "completed" or now >= window_ends_at:
        raise Conflict(
            f"the revision window closed at {window_ends_at.isoformat()}", reason="revision_window_closed"
        )
    return instructions


def stage_after_revision_request(stage: str) -> str | None:
    """A delivered order goes back to its lawyer (revising); one already in revision stays where it is."""
    return next_stage(stage, "revising") if stage == "delivered" else None


def check_accept(stage: str) -> None:
    if stage != "delivered":
        raise Conflict(
            f"only a delivered document can be accepted (the order is {stage})", reason="invalid_transition"
        )


def check_cancel(stage: str, reason: str) -> str:
    """The reason of a cancellation (1 to 2,000 characters); Conflict once the order is completed. A
    cancelled order stays cancelled (the caller treats a repeat as done)."""
    reason = reason.strip()
    if not reason:
        raise InvalidArgument.for_field("reason", "say why the order is cancelled")
    if len(reason) > MAX_NOTE:
        raise InvalidArgument.for_field("reason", f"must be at most {MAX_NOTE} characters")
    if stage == "completed":
        raise Conflict("a completed document order cannot be cancelled", reason="invalid_transition")
    return reason


def unassigned_reason(legal_field: str) -> str:
    """Why a paid order has no lawyer: nobody eligible has passed its field (§9.4), so an agent assigns it."""
    return f"no eligible lawyer has passed {legal_field}: left to an agent"


# Stages in which an agent may assign an order nobody was assigned: before its first draft is uploaded.
AGENT_ASSIGNABLE_STAGES = ("awaiting_acknowledgement", "drafting")


@dataclass(frozen=True)
class AgentAssignment:
    """An agent's assignment: the reason recorded on the order, and the override reason ("" none)."""

    reason: str
    override_reason: str


def agent_assignment(
    stage: str,
    assigned_lawyer_id: str,
    legal_field: str,
    lawyer_id: str,
    lawyer_fields: Sequence[str] | None,
    override_reason: str,
) -> AgentAssignment:
    """An agent assigns an order nobody was assigned (R-DOC-3, §9.4). `lawyer_fields`: the fields the lawyer
    has passed, None when they are no active lawyer on the roster. A lawyer who has not passed the order's
    field takes it only with `override_reason` (1 to 2,000 characters), recorded as an override.
    Conflict when the order has a lawyer or is past drafting; InvalidArgument for the lawyer or the reason."""
    if stage not in AGENT_ASSIGNABLE_STAGES:
        raise Conflict(f"a {stage} document order cannot be assigned", reason="invalid_transition")
    if assigned_lawyer_id:
        raise Conflict("the order already has a lawyer", reason="already_assigned")
    if lawyer_fields is None:
        raise InvalidArgument.for_field("lawyer_id", "is no active lawyer who drafts documents")
    override_reason = override_reason.strip()
    if len(override_reason) > MAX_NOTE:
        raise InvalidArgument.for_field("override_reason", f"must be at most {MAX_NOTE} characters")
    if legal_field in lawyer_fields:
        return AgentAssignment(f"assigned by an agent: field {legal_field}", "")
    if not override_reason:
        raise InvalidArgument.for_field(
            "override_reason",
            f"the lawyer has not passed {legal_field}: say why they take the order anyway",
        )
    return AgentAssignment(
        f"override by an agent: {lawyer_id} has not passed {legal_field}; {override_reason}", override_reason
    )


BREACH_KINDS = ("acknowledgement", "delivery")


@dataclass(frozen=True)
class BreachEffect:
    """What a missed deadline changes besides its record (R-DOC-2): the stage the order moves to (None: it
    stays), whether the draft's due time becomes the new one, whether the draft goes to another lawyer,
    and the reason of the drafting stage recorded for it ("" none)."""

    next_stage: str | None
    reschedules_draft: bool
    reassigns: bool
    drafting_reason: str


def validate_breach_kind(kind: str) -> str:
    if kind not in BREACH_KINDS:
        raise InvalidArgument.for_field("kind", "must be acknowledgement or delivery")
    return kind


def lawyer_who_missed(kind: str, assigned_lawyer_id: str) -> str:
    """Whose deadline a breach was: the assigned lawyer's for a delivery, nobody's in particular for an
    acknowledgement (the agents acknowledge an order)."""
    return assigned_lawyer_id if kind == "delivery" else ""


def breach_effect(kind: str, stage: str) -> BreachEffect:
    """An unacknowledged order moves on to drafting with the new due time; a late draft gets the new due
    time and another lawyer when there is one; an acknowledgement breach that lost the race to the
    agent changes nothing more."""
    if kind == "acknowledgement":
        if stage != "awaiting_acknowledgement":
            return BreachEffect(None, False, False, "")
        return BreachEffect(next_stage(stage, "drafting"), True, False, "acknowledgement_breached")
    return BreachEffect(None, True, True, "reassigned_after_breach" if stage == "drafting" else "")


def may_see_version(principal: Principal | None, status: str) -> bool:
    """R-DOC-6 / §9.5: clients see approved versions only; staff see all."""
    return principal is None or not principal.is_client or status == "approved"


# --- the legal field a lawyer is matched by (R-DOC-3: "matched by legal field, as in consultation") --------
# A product names its field in its parameters ({"legal_field": "contract"}); otherwise the client's
# requirements may name one; otherwise the requirements' text is classified by the consultation's classifier.
LEGAL_FIELD_PARAMETER = "legal_field"
# Where the field of an order came from when nothing named or classified it: an order made before fields were
# matched, or a NewOrder that was not told.
DEFAULT_FIELD_SOURCE = "default"


def matched_field(legal_field: str) -> str:
    """The field an order is matched by: the one it stores, or FALLBACK_FIELD for an order made before fields
    were matched (it stores none)."""
    return legal_field or FALLBACK_FIELD


def legal_field_for(
    product_parameters: Mapping[str, str], requirements: Mapping[str, str], classify: Callable[[str], str]
) -> tuple[str, str]:
    """(field, source): source is product|requirements|classified. An unknown field named by the product or
    the requirements is ignored (the next source decides); a text the classifier cannot place is `other`."""
    named = product_parameters.get(LEGAL_FIELD_PARAMETER, "").strip()
    if named in LEGAL_FIELDS:
        return named, "product"
    asked = requirements.get(LEGAL_FIELD_PARAMETER, "").strip()
    if asked in LEGAL_FIELDS:
        return asked, "requirements"
    text = "\n".join(value for key, value in sorted(requirements.items()) if key != LEGAL_FIELD_PARAMETER)
    if not text.strip():
        return FALLBACK_FIELD, "classified"
    field = classify(text)
    return (field if field in LEGAL_FIELDS else FALLBACK_FIELD), "classified"
