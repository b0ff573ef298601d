"""A booking's life, pure: statuses and transitions, who may see and change it, the checks of each command
and what it decides (the refund of a cancellation, a repeated command that changes nothing), visits (R-BK-2)
and the quality record of offline meetings (R-Q-4). Every clock reading is passed in as `now`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.booking.domain.calendar import DEFAULT_TIME_ZONE
from services.booking.domain.policy import POLICY, Policy
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

STATUSES = ("held", "confirmed", "completed", "cancelled", "no_show", "expired")
# Statuses that occupy the lawyer's time (the exclusion constraint's WHERE clause says the same).
LIVE = ("held", "confirmed")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "held": ("confirmed", "cancelled", "expired"),
    "confirmed": ("completed", "cancelled", "no_show"),
    "completed": (),
    "cancelled": (),
    "no_show": (),
    "expired": (),
}
STAFF_WHO_SEE_BOOKINGS = ("agent", "supervisor")
STAFF_WHO_SEE_VISITS = ("supervisor",)
QUALITY_CHECKLIST = (
    "identity_verified",
    "needs_understood",
    "advice_given",
    "risks_explained",
    "follow_up_agreed",
)

# The booking's own stage records for the order timeline (§9.2, R-Q-3): the statuses it passes through,
# plus `rescheduled` and `checked_in`, which change the meeting without changing the status.
STAGES = (*STATUSES, "rescheduled", "checked_in")
FINAL = ("completed", "cancelled", "no_show", "expired")


def stage_statuses(count: int, booking_status: str) -> list[str]:
    """done/current of each of a booking's `count` entered stages, oldest first: the last one is current
    while the booking is live; all are done once it reached a final status."""
    final = booking_status in FINAL
    return ["current" if i == count - 1 and not final else "done" for i in range(count)]


def next_status(current: str, target: str) -> str:
    """`target` when the transition is allowed; Conflict otherwise."""
    if target not in TRANSITIONS.get(current, ()):
        raise Conflict(f"a {current} booking cannot become {target}", reason=f"booking_{current}")
    return target


# --- who may do what -------------------------------------------------------------------------------------


def require_internal(principal: Principal | None) -> None:
    """Commands only the platform's workflows send (they call without a user token)."""
    if principal is not None:
        raise PermissionDenied("only the platform may do this")


def require_client(principal: Principal | None) -> Principal:
    if principal is None or not principal.is_client or not principal.tenant_id:
        raise PermissionDenied("only a client of an enterprise books meetings")
    return principal


def require_meeting_proposer(principal: Principal | None) -> Principal:
    """A major matter's meeting is proposed by the staff member who escalated it (R-CON-4)."""
    if principal is None or not principal.has_role("lawyer", "agent", "supervisor"):
        raise PermissionDenied("only lawyers, agents and supervisors propose a meeting to a client")
    return principal


def booking_tenant(principal: Principal, enterprise_id: str) -> str:
    """The enterprise a client books for: their own; another enterprise is refused."""
    if enterprise_id and enterprise_id != principal.tenant_id:
        raise PermissionDenied("you can only book for your own enterprise")
    return principal.tenant_id


def require_own_enterprise(principal: Principal, enterprise_id: str) -> None:
    """A client asking for another enterprise's records: 404, its existence is never revealed."""
    if enterprise_id and enterprise_id != principal.tenant_id:
        raise NotFound("no such enterprise")


def can_see(principal: Principal | None, tenant_id: str, lawyer_user_id: str, lawyer_id: str = "") -> bool:
    if principal is None:
        return True
    if principal.is_client:
        return bool(principal.tenant_id) and principal.tenant_id == tenant_id
    if principal.is_firm_system:
        return principal.reads_work_of(lawyer_user_id) or principal.reads_work_of(lawyer_id)
    if principal.user_id == lawyer_user_id:
        return True
    return principal.has_role(*STAFF_WHO_SEE_BOOKINGS)


def require_visible(
    principal: Principal | None, tenant_id: str, lawyer_user_id: str, lawyer_id: str = ""
) -> None:
    """404, not 403: another enterprise's booking is never revealed."""
    if not can_see(principal, tenant_id, lawyer_user_id, lawyer_id):
        raise NotFound("no such booking")


def require_client_or_agent(principal: Principal | None, action: str) -> None:
    """Reschedule and cancel: the client's enterprise (already checked visible) or an agent/supervisor."""
    if principal is None:
        return
    if principal.is_client or principal.has_role(*STAFF_WHO_SEE_BOOKINGS):
        return
    raise PermissionDenied(f"only the client or an agent may {action} a booking")


def require_booked_lawyer(principal: Principal | None, lawyer_user_id: str, action: str) -> None:
    if principal is not None and principal.user_id != lawyer_user_id:
        raise PermissionDenied(f"only the booked lawyer may {action}")


# --- commands ---------------------------------------------------------------------------------------------


def check_reschedule(status: str, start: datetime, now: datetime, policy: Policy = POLICY) -> None:
    """A live booking moves freely until `free_until_before` its (current) start; later it is kept."""
    if status not in LIVE:
        raise Conflict(f"a {status} booking cannot be rescheduled", reason=f"booking_{status}")
    if now > start - policy.free_until_before:
        raise Conflict(
            "a booking can be rescheduled until "
            f"{int(policy.free_until_before.total_seconds() // 3600)} h before it starts",
            reason="reschedule_window_closed",
        )


def cancellation_refund(
    status: str, paid_fen: int, start: datetime, now: datetime, policy: Policy = POLICY
) -> int:
    """What cancelling refunds, in fen: everything until `free_until_before` the start, then
    `late_refund_percent`, nothing once the meeting started; nothing for an unpaid hold."""
    if status != "confirmed" or paid_fen <= 0:
        return 0
    if now <= start - policy.free_until_before:
        return paid_fen
    if now < start:
        return paid_fen * policy.late_refund_percent // 100
    return 0


def check_check_in(status: str, start: datetime, now: datetime, policy: Policy = POLICY) -> None:
    if status != "confirmed":
        raise Conflict(f"a {status} booking cannot be checked in", reason=f"booking_{status}")
    if now < start - policy.check_in_early:
        raise Conflict("the meeting has not started yet", reason="too_early")


def check_complete(status: str, checked_in: bool, summary: str) -> str:
    if status != "confirmed" or not checked_in:
        raise Conflict("only a checked-in meeting can be completed", reason=f"booking_{status}")
    summary = summary.strip()
    if not summary:
        raise InvalidArgument.for_field("summary", "must not be empty")
    if len(summary) > 10000:
        raise InvalidArgument.for_field("summary", "must be at most 10000 characters")
    return summary


def check_status_filter(status: str) -> str:
    if status and status not in STATUSES:
        raise InvalidArgument.for_field("status", f"must be one of {', '.join(STATUSES)}")
    return status


@dataclass(frozen=True)
class Cancellation:
    """What cancelling a booking does: its status, the reason it keeps, and the refund in fen (carried by
    `booking.cancelled`; the booking's order refunds it)."""

    status: str
    reason: str
    refund_fen: int


def cancelled_by(principal: Principal | None) -> str:
    """The reason code of a cancellation by `principal`: what `booking.cancelled` and the booking's workflow
    carry instead of the words a client typed, and the reason kept when none was typed."""
    return "client_request" if principal and principal.is_client else "cancelled"


def cancellation(
    status: str, paid_fen: int, start: datetime, now: datetime, reason: str, policy: Policy = POLICY
) -> Cancellation:
    """Cancel a live booking (Conflict otherwise), refunded by `cancellation_refund`."""
    return Cancellation(
        next_status(status, "cancelled"),
        reason[:200] or "client_request",
        cancellation_refund(status, paid_fen, start, now, policy),
    )


def confirms(status: str, paid_by: str, order_id: str) -> bool:
    """Whether paying order `order_id` confirms the booking: False when that order confirmed it already (a
    repeat); Conflict when another order paid for it, or when it can no longer be confirmed (expired or
    cancelled: the order is refunded)."""
    if status == "confirmed" and paid_by == order_id:
        return False
    if paid_by and paid_by != order_id:
        raise Conflict("the booking was paid by another order", reason="booking_already_paid")
    next_status(status, "confirmed")
    return True


def expires(status: str) -> bool:
    """Whether a hold that ran out expires the booking: only while it is still held (payment may have won
    the race)."""
    return status == "held"


def is_no_show(status: str, checked_in: bool) -> bool:
    """Whether a booking past its no-show grace is a no-show: confirmed, and nobody checked in."""
    return status == "confirmed" and not checked_in


def completion_repeats(status: str, principal: Principal | None) -> bool:
    """Whether completing changes nothing: the workflow's automatic completion of a meeting the lawyer
    completed already."""
    return status == "completed" and principal is None


def require_quality_writer(principal: Principal | None, lawyer_user_id: str) -> None:
    """The client or the booked lawyer records quality; agents and supervisors read it, they do not write
    it (NotFound, as for a booking they may not see)."""
    if principal is not None and not principal.is_client and principal.user_id != lawyer_user_id:
        raise NotFound("no such booking")


# --- visits (R-BK-2) and quality (R-Q-4) -----------------------------------------------------------------


@dataclass(frozen=True)
class NewVisit:
    enterprise_id: str
    date: str
    attendees: tuple[str, ...]
    findings: str
    follow_ups: tuple[str, ...]


def check_visit(visit: NewVisit, now: datetime) -> NewVisit:
    """A visit's date is a date in China: "today" is Beijing's, which starts eight hours before UTC's."""
    today = now.astimezone(ZoneInfo(DEFAULT_TIME_ZONE)).date()
    if not visit.enterprise_id.strip():
        raise InvalidArgument.for_field("enterprise_id", "must not be empty")
    try:
        day = date.fromisoformat(visit.date)
    except ValueError as exc:
        raise InvalidArgument.for_field("date", "must be a date YYYY-MM-DD") from exc
    if day > today:
        raise InvalidArgument.for_field("date", "a visit is recorded after it happened")
    findings = visit.findings.strip()
    if not findings:
        raise InvalidArgument.for_field("findings", "must not be empty")
    return NewVisit(
        visit.enterprise_id.strip(),
        day.isoformat(),
        tuple(a.strip() for a in visit.attendees if a.strip()),
        findings,
        tuple(f.strip() for f in visit.follow_ups if f.strip()),
    )


def quality_update(
    current: dict[str, object],
    principal: Principal | None,
    status: str,
    lawyer_user_id: str,
    checklist: dict[str, bool],
    lawyer_note: str,
    rating: int,
    client_comment: str,
    client_checklist: Mapping[str, bool] | None = None,
) -> dict[str, object]:
    """The quality record after the lawyer's checklist, the client's confirmation of it or the client's
    rating of a completed meeting."""
    if status != "completed":
        raise Conflict("quality is recorded after a completed meeting", reason=f"booking_{status}")
    record = dict(current)
    if principal is not None and principal.is_client and client_checklist:
        if "checklist" not in record:
            raise Conflict("the lawyer has not filled in the checklist yet", reason="checklist_missing")
        if "client_checklist" in record:
            raise Conflict("the checklist was already confirmed", reason="already_confirmed")
        record["client_checklist"] = _answered_checklist(client_checklist, "client_checklist")
        return record
    if principal is not None and principal.is_client:
        if "rating" in record:
            raise Conflict("this meeting was already rated", reason="already_rated")
        if not 1 <= rating <= 5:
            raise InvalidArgument.for_field("rating", "must be between 1 and 5")
        record["rating"] = rating
        record["client_comment"] = client_comment.strip()[:2000]
        return record
    if principal is not None and principal.user_id != lawyer_user_id:
        raise PermissionDenied("only the booked lawyer fills in the checklist")
    record["checklist"] = _answered_checklist(checklist, "checklist")
    record["lawyer_note"] = lawyer_note.strip()[:2000]
    return record


def _answered_checklist(answers: Mapping[str, bool], field: str) -> dict[str, bool]:
    """Every item of the quality checklist answered, no other; InvalidArgument naming `field` otherwise."""
    unknown = sorted(set(answers) - set(QUALITY_CHECKLIST))
    if unknown:
        raise InvalidArgument.for_field(field, f"unknown items: {', '.join(unknown)}")
    missing = [item for item in QUALITY_CHECKLIST if item not in answers]
    if missing:
        raise InvalidArgument.for_field(field, f"answer every item; missing: {', '.join(missing)}")
    return {item: bool(answers[item]) for item in QUALITY_CHECKLIST}
