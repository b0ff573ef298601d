"""Booking rules, pure: statuses and transitions, the lawyer's service windows in their time zone, free
slots (R-BK-1), validation of a requested meeting, the cancellation policy, visits (R-BK-2) and the
quality record of offline meetings (R-Q-4). No I/O; every clock reading is passed in as `now`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

MODES = ("at_firm", "on_site")
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
# Every catalog firm is in mainland China and the catalog publishes no time zone: hours are Beijing time.
DEFAULT_TIME_ZONE = "Asia/Shanghai"
STAFF_WHO_SEE_BOOKINGS = ("agent", "supervisor")
STAFF_WHO_SEE_VISITS = ("supervisor",)
QUALITY_CHECKLIST = (
    "identity_verified",
    "needs_understood",
    "advice_given",
    "risks_explained",
    "follow_up_agreed",
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


@dataclass(frozen=True)
class Policy:
    """The booking policy. The numbers travel into BookingWorkflow as input (policy in data, not code)."""

    # An unpaid hold is released after this; longer than payment's 30 min pay window so that an order
    # created right after the hold can still be paid in time.
    hold_for: timedelta = timedelta(minutes=45)
    # Blocked before and after an on_site visit for the lawyer's travel.
    travel_buffer: timedelta = timedelta(minutes=60)
    # Slots start on this grid (in the lawyer's local time) and meetings are multiples of it.
    step: timedelta = timedelta(minutes=30)
    min_length: timedelta = timedelta(minutes=30)
    max_length: timedelta = timedelta(hours=4)
    # How far ahead a meeting may be booked, and the widest availability query.
    horizon: timedelta = timedelta(days=90)
    max_query_span: timedelta = timedelta(days=31)
    # Cancelling or rescheduling is free until this long before the start; a later cancellation refunds
    # `late_refund_percent` of the price; after the start nothing.
    free_until_before: timedelta = timedelta(hours=24)
    late_refund_percent: int = 50
    # Reminders to the client and the lawyer this long before the start.
    reminders: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    # Without a check-in this long after the start, the booking is a no-show.
    no_show_grace: timedelta = timedelta(minutes=30)
    # A checked-in meeting not completed this long after its end is completed by the system.
    auto_complete_after: timedelta = timedelta(hours=24)
    # The lawyer may check in from this long before the start.
    check_in_early: timedelta = timedelta(minutes=30)


POLICY = Policy()


# A booking product's terms (R-BK-1 "per product terms"): catalog product parameters (strings) that override
# the policy above for bookings paid with that product. Anything missing or malformed keeps the default.
TERM_KEYS = (
    "free_cancel_hours",  # cancel or reschedule free until this many hours before the start
    "late_refund_percent",  # refunded of the price for a later cancellation, 0..100
    "reminder_hours",  # comma-separated hours before the start, e.g. "48,2"
    "no_show_grace_minutes",  # no check-in this long after the start: a no-show
    "auto_complete_hours",  # a checked-in meeting is completed by the system this long after its end
)


def _number(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def product_terms(parameters: dict[str, str]) -> dict[str, str]:
    """The policy terms among a booking product's parameters, the malformed ones left out (so the default
    applies to them); what is kept is what `policy_for` understands."""
    limits = {
        "free_cancel_hours": (0, 24 * 30),
        "late_refund_percent": (0, 100),
        "no_show_grace_minutes": (1, 24 * 60),
        "auto_complete_hours": (1, 24 * 30),
    }
    terms: dict[str, str] = {}
    for key, (low, high) in limits.items():
        raw = str(parameters.get(key, "")).strip()
        if raw and _number(raw, low, high) is not None:
            terms[key] = raw
    raw = str(parameters.get("reminder_hours", "")).strip()
    hours = [_number(part.strip(), 0.1, 24 * 30) for part in raw.split(",")] if raw else []
    if hours and all(h is not None for h in hours):
        terms["reminder_hours"] = raw
    return terms


def policy_for(terms: dict[str, str], base: Policy = POLICY) -> Policy:
    """`base` with a product's terms (as kept by `product_terms`) applied; no terms: `base` itself."""
    terms = product_terms(terms)
    if not terms:
        return base
    changes: dict[str, object] = {}
    if "free_cancel_hours" in terms:
        changes["free_until_before"] = timedelta(hours=float(terms["free_cancel_hours"]))
    if "late_refund_percent" in terms:
        changes["late_refund_percent"] = int(float(terms["late_refund_percent"]))
    if "reminder_hours" in terms:
        changes["reminders"] = tuple(
            sorted((timedelta(hours=float(h)) for h in terms["reminder_hours"].split(",")), reverse=True)
        )
    if "no_show_grace_minutes" in terms:
        changes["no_show_grace"] = timedelta(minutes=float(terms["no_show_grace_minutes"]))
    if "auto_complete_hours" in terms:
        changes["auto_complete_after"] = timedelta(hours=float(terms["auto_complete_hours"]))
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class WeeklyHours:
    weekday: int  # ISO, 1 = Monday
    start: str  # "HH:MM" local
    end: str


@dataclass(frozen=True)
class DayException:
    date: str  # "YYYY-MM-DD"
    available: bool
    start: str = ""
    end: str = ""


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Calendar:
    """A lawyer's weekly service hours and dated exceptions, in their time zone."""

    hours: tuple[WeeklyHours, ...]
    exceptions: tuple[DayException, ...] = ()
    time_zone: str = DEFAULT_TIME_ZONE
    _by_date: dict[str, DayException] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_date.update({e.date: e for e in self.exceptions})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The service windows of one local day as aware UTC datetimes, in time order."""
        exception = self._by_date.get(day.isoformat())
        if exception is not None:
            spans = [(exception.start, exception.end)] if exception.available else []
        else:
            spans = [(h.start, h.end) for h in self.hours if h.weekday == day.isoweekday()]
        zone = self.zone
        windows = []
        for start, end in spans:
            if not (_HHMM.match(start) and _HHMM.match(end)):
                continue  # the catalog validates hours; a bad one is not bookable rather than a crash
            begin = _local(day, start, zone)
            finish = _local(day, end, zone)
            if finish > begin:
                windows.append((begin, finish))
        return sorted(windows)

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Service windows overlapping [start, end) (not clipped), in time order."""
        zone = self.zone
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        found = []
        while day <= last:
            found += [w for w in self.windows_on(day) if w[1] > start and w[0] < end]
            day += timedelta(days=1)
        return found


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    if hhmm == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0, 0), zone).astimezone(UTC)
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def buffer_for(mode: str, policy: Policy = POLICY) -> timedelta:
    return policy.travel_buffer if mode == "on_site" else timedelta(0)


def blocked_range(
    start: datetime, minutes: int, mode: str, policy: Policy = POLICY
) -> tuple[datetime, datetime]:
    """What a meeting takes of the lawyer's time: the meeting, widened by the travel buffer on site."""
    buffer = buffer_for(mode, policy)
    return start - buffer, start + timedelta(minutes=minutes) + buffer


def free_slots(
    calendar: Calendar,
    busy: Iterable[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
    now: datetime,
    mode: str = "at_firm",
    policy: Policy = POLICY,
) -> list[Slot]:
    """Each bookable start in [start, end) on the policy's grid with the longest meeting allowed from it:
    inside one service window, not in the past, at least `min_length`, at most `max_length`, and with its
    blocked range (travel buffers on site) clear of every `busy` range (other live bookings' blocked
    ranges)."""
    buffer = buffer_for(mode, policy)
    busy_ranges = sorted(busy)
    slots: list[Slot] = []
    for window_start, window_end in calendar.windows(start, end):
        candidate = window_start
        while candidate < window_end and candidate < end:
            if candidate >= start and candidate >= now:
                longest = min(window_end - candidate, policy.max_length)
                for busy_start, busy_end in busy_ranges:
                    if busy_end <= candidate - buffer:
                        continue
                    # The new meeting's blocked range must end by the busy range's start.
                    longest = min(longest, busy_start - buffer - candidate)
                    break
                longest = (longest // policy.step) * policy.step
                if longest >= policy.min_length:
                    slots.append(Slot(candidate, candidate + longest))
            candidate += policy.step
    return slots


@dataclass(frozen=True)
class Requested:
    mode: str
    start: datetime
    minutes: int
    address: str
    needs: str


def check_request(requested: Requested, calendar: Calendar, now: datetime, policy: Policy = POLICY) -> None:
    """Refuse a meeting request with InvalidArgument naming the field: unknown mode, on_site without an
    address, a length that is not a positive multiple of the step within bounds, a start in the past or
    beyond the horizon, off the grid, or not inside one service window."""
    if requested.mode not in MODES:
        raise InvalidArgument.for_field("mode", f"must be one of {', '.join(MODES)}")
    if requested.mode == "on_site" and not requested.address.strip():
        raise InvalidArgument.for_field("address", "is required for an on_site visit")
    step_minutes = int(policy.step.total_seconds() // 60)
    if requested.minutes <= 0:
        raise InvalidArgument.for_field("minutes", "must be positive")
    length = timedelta(minutes=requested.minutes)
    if length < policy.min_length or length > policy.max_length or requested.minutes % step_minutes:
        raise InvalidArgument.for_field(
            "minutes",
            f"must be a multiple of {step_minutes} between {int(policy.min_length.total_seconds() // 60)}"
            f" and {int(policy.max_length.total_seconds() // 60)}",
        )
    check_start(requested.start, length, calendar, now, policy)


def check_start(
    start: datetime, length: timedelta, calendar: Calendar, now: datetime, policy: Policy = POLICY
) -> None:
    if start.tzinfo is None:
        raise InvalidArgument.for_field("start", "must carry a time zone offset")
    if start <= now:
        raise InvalidArgument.for_field("start", "is in the past")
    if start > now + policy.horizon:
        raise InvalidArgument.for_field("start", f"is more than {policy.horizon.days} days ahead")
    local = start.astimezone(calendar.zone)
    step_minutes = int(policy.step.total_seconds() // 60)
    if local.second or local.microsecond or local.minute % step_minutes:
        raise InvalidArgument.for_field("start", f"must be on a {step_minutes}-minute boundary")
    end = start + length
    if not any(w_start <= start and end <= w_end for w_start, w_end in calendar.windows(start, end)):
        raise InvalidArgument.for_field("start", "is outside the lawyer's service hours")


def check_query(start: datetime, end: datetime, policy: Policy = POLICY) -> None:
    if end <= start:
        raise InvalidArgument.for_field("to", "must be after from")
    if end - start > policy.max_query_span:
        raise InvalidArgument.for_field("to", f"must be at most {policy.max_query_span.days} days after from")


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


def booking_tenant(principal: Principal, enterprise_id: str) -> str:
    """The enterprise a client books for: their own; another enterprise is refused."""
    if enterprise_id and enterprise_id != principal.tenant_id:
        raise PermissionDenied("you can only book for your own enterprise")
    return principal.tenant_id


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
) -> dict[str, object]:
    """The quality record after the lawyer's checklist or the client's rating of a completed meeting."""
    if status != "completed":
        raise Conflict("quality is recorded after a completed meeting", reason=f"booking_{status}")
    record = dict(current)
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
    unknown = sorted(set(checklist) - set(QUALITY_CHECKLIST))
    if unknown:
        raise InvalidArgument.for_field("checklist", f"unknown items: {', '.join(unknown)}")
    missing = [item for item in QUALITY_CHECKLIST if item not in checklist]
    if missing:
        raise InvalidArgument.for_field("checklist", f"answer every item; missing: {', '.join(missing)}")
    record["checklist"] = {item: bool(checklist[item]) for item in QUALITY_CHECKLIST}
    record["lawyer_note"] = lawyer_note.strip()[:2000]
    return record


def venue_lines(opening_hours: Sequence[tuple[int, str, str]]) -> list[str]:
    return [f"{weekday} {opens}-{closes}" for weekday, opens, closes in opening_hours]


# --- connect-a-lawyer (R-BK-3, §6.2.4) -------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectStep:
    title: str
    detail: str
    endpoint: str


CONNECT_PROCESS = (
    ConnectStep(
        "选择在线律师 Choose an online lawyer",
        "See who is online now with their specialty, legal fields, service hours and next free slot.",
        "GET /api/v1/connect",
    ),
    ConnectStep(
        "请求连线 Ask to connect now",
        "Ask for a call or a meeting with an online lawyer: a meeting holds their next free slot, a call is "
        "queued for an agent; the answer names what to pay next.",
        "POST /api/v1/connect/requests",
    ),
    ConnectStep(
        "电话咨询：购买 Call now: buy a phone consultation",
        "Order the phone consultation product (consultation_kind phone) and pay it.",
        "POST /api/v1/orders",
    ),
    ConnectStep(
        "电话咨询：接通 Call now: get connected",
        "Submit a phone consultation against the paid order naming the lawyer in the question; an agent "
        "bridges the call to the lawyer and the call record is kept in your service record.",
        "POST /api/v1/consultations",
    ),
    ConnectStep(
        "网络会面：预约 Network meeting: hold a time",
        "Pick the lawyer's next free slot (or any from their availability) and hold it.",
        "POST /api/v1/bookings",
    ),
    ConnectStep(
        "网络会面：支付确认 Network meeting: pay to confirm",
        "Order the booking product with booking.booking_id and pay before the hold expires; reminders "
        "follow 24 h and 1 h before.",
        "POST /api/v1/orders",
    ),
    ConnectStep(
        "评价 Rate the service",
        "After the call or meeting, rate it; the lawyer fills in a quality checklist.",
        "POST /api/v1/bookings/{id}/rating",
    ),
)


def hours_lines(hours: Iterable[WeeklyHours]) -> list[str]:
    return [f"{h.weekday} {h.start}-{h.end}" for h in sorted(hours, key=lambda h: (h.weekday, h.start))]


# --- connect-a-lawyer requests (R-BK-3, §6.2.4) -------------------------------------------------------------

CONNECT_MODES = ("call", "meeting")
# A meeting requested through connect-a-lawyer: this long, or the free slot's length if shorter.
CONNECT_MEETING = timedelta(minutes=60)


def check_connect(mode: str, needs: str) -> str:
    """The request's mode, validated; its needs at most 5000 characters."""
    if mode not in CONNECT_MODES:
        raise InvalidArgument.for_field("mode", f"must be one of {', '.join(CONNECT_MODES)}")
    if len(needs) > 5000:
        raise InvalidArgument.for_field("needs", "must be at most 5000 characters")
    return mode


def require_online(online: bool) -> None:
    if not online:
        raise Conflict("the lawyer is not online now; book a time instead", reason="lawyer_offline")


def connect_meeting_minutes(slot_minutes: int, policy: Policy = POLICY) -> int:
    return int(min(CONNECT_MEETING, timedelta(minutes=slot_minutes)).total_seconds() // 60) or int(
        policy.min_length.total_seconds() // 60
    )


def connect_next_step(mode: str, booking_id: str, product_id: str, lawyer_id: str) -> dict[str, str]:
    """What the client does next. Nothing is bypassed: a phone call is a paid phone consultation
    (R-CON-2), a meeting is confirmed by paying its booking's order (R-BK-1)."""
    if mode == "meeting":
        return {
            "title": "支付确认会面 Pay to confirm the meeting",
            "detail": f'Order the booking product with booking {{"booking_id": "{booking_id}"}} and pay it '
            "before the hold expires.",
            "endpoint": "POST /api/v1/orders",
            "product_id": product_id,
        }
    return {
        "title": "购买电话咨询 Buy the phone consultation",
        "detail": "Order and pay the phone consultation product, then submit a phone consultation with the "
        f"paid order_id naming lawyer {lawyer_id}; an agent bridges your call to the lawyer "
        "(POST /api/v1/consultations).",
        "endpoint": "POST /api/v1/orders",
        "product_id": product_id,
    }
