"""Connect-a-lawyer (R-BK-3, §6.2.4): the steps a client follows, and a request's checks and next step.
Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.booking.domain.policy import POLICY, Policy
from services.runtime.errors import Conflict, InvalidArgument


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


@dataclass(frozen=True)
class ConnectOutcome:
    """A connect request as recorded: its status and the client's next step."""

    status: str
    next_step: dict[str, str]


def connect_outcome(mode: str, booking_id: str, product_id: str, lawyer_id: str) -> ConnectOutcome:
    """A meeting that held `booking_id` awaits paying its booking; anything else awaits buying the call."""
    return ConnectOutcome(
        "booking_held" if booking_id else "awaiting_payment",
        connect_next_step(mode, booking_id, product_id, lawyer_id),
    )


def check_mode_filter(mode: str) -> str:
    if mode and mode not in CONNECT_MODES:
        raise InvalidArgument.for_field("mode", f"must be one of {', '.join(CONNECT_MODES)}")
    return mode
