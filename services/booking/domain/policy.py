"""The booking policy (R-BK-1): hold, buffers, grid, horizon, cancellation and reminders, and a booking
product's terms that override it. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta


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
