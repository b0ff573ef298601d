"""Bookings, availability, visits and offline-meeting quality as the public API shows them (API.md
"Booking")."""

from __future__ import annotations

from datetime import UTC
from typing import Literal
from zoneinfo import ZoneInfo

from google.protobuf.message import Message
from pydantic import AwareDatetime, BaseModel, Field

from counsel.booking.v1 import booking_service_pb2 as pb
from services.gateway.schemas.common import (
    INT32_MAX,
    INT32_MIN,
    BookingMode,
    Money,
    RequestModel,
    or_none,
    rfc3339,
)


def _local(message: Message, field: str, zone: ZoneInfo) -> str | None:
    """`message.<field>` (a Timestamp) in `zone` as RFC 3339 with the zone's offset, or None when unset."""
    if not message.HasField(field):
        return None
    stamp = getattr(message, field)
    return str(stamp.ToDatetime(tzinfo=UTC).astimezone(zone).isoformat())


class Slot(BaseModel):
    start: str = Field(description="RFC 3339, UTC.")
    end: str = Field(description="End of the longest meeting allowed from `start`, UTC.")
    minutes: int
    start_local: str = Field(description="`start` in the lawyer's time zone, with its offset.")
    end_local: str


class Availability(BaseModel):
    lawyer_id: str
    time_zone: str = Field(description="The lawyer's IANA time zone, e.g. Asia/Shanghai.")
    mode: BookingMode
    items: list[Slot] = Field(description="Each a bookable start with the longest allowed length.")

    @classmethod
    def from_proto(cls, lawyer_id: str, mode: BookingMode, reply: pb.GetAvailabilityResponse) -> Availability:
        zone = ZoneInfo(reply.time_zone or "Asia/Shanghai")
        return cls(
            lawyer_id=lawyer_id,
            time_zone=reply.time_zone,
            mode=mode,
            items=[
                Slot(
                    start=str(rfc3339(s, "start")),
                    end=str(rfc3339(s, "end")),
                    minutes=s.minutes,
                    start_local=str(_local(s, "start", zone)),
                    end_local=str(_local(s, "end", zone)),
                )
                for s in reply.slots
            ],
        )


class CreateBooking(RequestModel):
    lawyer_id: str = Field(min_length=1, max_length=200, description="The lawyer's profile id (catalog).")
    mode: BookingMode
    start: AwareDatetime = Field(description="RFC 3339 with an offset; on the 30-minute grid.")
    minutes: int = Field(
        ge=INT32_MIN, le=INT32_MAX, description="Length; a multiple of 30 between 30 and 240."
    )
    address: str | None = Field(default=None, max_length=500, description="Required for on_site.")
    needs: str = Field(default="", max_length=5000, description="What the client needs from the meeting.")
    enterprise_id: str | None = Field(
        default=None, max_length=200, description="Only the caller's own enterprise may be given."
    )


class Reschedule(RequestModel):
    start: AwareDatetime


class CancelBooking(RequestModel):
    reason: str | None = Field(default=None, max_length=200)


class CompleteBooking(RequestModel):
    summary: str = Field(min_length=1, max_length=10000, description="The meeting summary.")


class QualityChecklist(RequestModel):
    checklist: dict[str, bool] = Field(
        description="Every item answered: identity_verified, needs_understood, advice_given, "
        "risks_explained, follow_up_agreed."
    )
    note: str = Field(default="", max_length=2000)


class ChecklistConfirmation(RequestModel):
    checklist: dict[str, bool] = Field(
        description="The client's view of each item of the lawyer's checklist: identity_verified, "
        "needs_understood, advice_given, risks_explained, follow_up_agreed."
    )


class Rating(RequestModel):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class Venue(BaseModel):
    firm_id: str
    name: str
    address: str
    opening_hours: list[str] = Field(description='One line per ISO weekday, "1 09:00-18:00".')
    transit_routes: list[str]
    phone: str | None


class Quality(BaseModel):
    checklist: dict[str, bool] | None
    lawyer_note: str | None
    rating: int | None
    client_comment: str | None
    client_checklist: dict[str, bool] | None = Field(
        description="The client's confirmation of the lawyer's checklist; null until confirmed."
    )


class Booking(BaseModel):
    id: str
    status: str = Field(description="held|confirmed|completed|cancelled|no_show|expired")
    lawyer_id: str
    lawyer_user_id: str | None
    client_id: str
    enterprise_id: str
    mode: BookingMode
    start: str | None
    end: str | None
    start_local: str | None
    minutes: int
    time_zone: str
    buffer_minutes: int = Field(description="Travel time blocked before and after an on_site visit.")
    address: str | None
    needs: str
    hold_expires_at: str | None = Field(description="Set while held: pay the booking's order before it.")
    order_id: str | None
    venue: Venue | None = Field(description="at_firm: the firm's address, opening hours and transit routes.")
    checked_in_at: str | None
    summary: str | None
    cancel_reason: str | None
    refund: Money | None = Field(description="What the cancellation policy refunds through payment.")
    quality: Quality | None
    created_at: str | None

    @classmethod
    def from_proto(cls, b: pb.Booking) -> Booking:
        venue = None
        if b.HasField("venue"):
            venue = Venue(
                firm_id=b.venue.firm_id,
                name=b.venue.name,
                address=b.venue.address,
                opening_hours=list(b.venue.opening_hours),
                transit_routes=list(b.venue.transit_routes),
                phone=or_none(b.venue.phone),
            )
        quality = None
        if b.HasField("quality"):
            quality = Quality(
                checklist=dict(b.quality.checklist) or None,
                lawyer_note=or_none(b.quality.lawyer_note),
                rating=b.quality.rating or None,
                client_comment=or_none(b.quality.client_comment),
                client_checklist=dict(b.quality.client_checklist) or None,
            )
        return cls(
            id=b.id,
            status=b.status,
            lawyer_id=b.lawyer_id,
            lawyer_user_id=or_none(b.lawyer_user_id),
            client_id=b.client_id,
            enterprise_id=b.tenant_id,
            mode=b.mode,  # type: ignore[arg-type]
            start=rfc3339(b, "start"),
            end=rfc3339(b, "end"),
            start_local=_local(b, "start", ZoneInfo(b.time_zone or "Asia/Shanghai")),
            minutes=b.minutes,
            time_zone=b.time_zone,
            buffer_minutes=b.buffer_minutes,
            address=or_none(b.address),
            needs=b.needs,
            hold_expires_at=rfc3339(b, "hold_expires_at"),
            order_id=or_none(b.order_id),
            venue=venue,
            checked_in_at=rfc3339(b, "checked_in_at"),
            summary=or_none(b.summary),
            cancel_reason=or_none(b.cancel_reason),
            refund=Money(amount=b.refund_fen, currency="CNY") if b.refund_fen else None,
            quality=quality,
            created_at=rfc3339(b, "created_at"),
        )


class BookingPage(BaseModel):
    items: list[Booking]
    next_cursor: str | None


class CreateVisit(RequestModel):
    enterprise_id: str = Field(min_length=1, max_length=200)
    date: str = Field(description="YYYY-MM-DD, today or earlier.", max_length=10)
    findings: str = Field(min_length=1, max_length=20000)
    attendees: list[str] = Field(default_factory=list, max_length=50)
    follow_ups: list[str] = Field(default_factory=list, max_length=50)


class Visit(BaseModel):
    id: str
    enterprise_id: str
    lawyer_user_id: str
    date: str
    attendees: list[str]
    findings: str
    follow_ups: list[str]
    created_at: str | None

    @classmethod
    def from_proto(cls, v: pb.Visit) -> Visit:
        return cls(
            id=v.id,
            enterprise_id=v.enterprise_id,
            lawyer_user_id=v.lawyer_user_id,
            date=v.date,
            attendees=list(v.attendees),
            findings=v.findings,
            follow_ups=list(v.follow_ups),
            created_at=rfc3339(v, "created_at"),
        )


class VisitPage(BaseModel):
    items: list[Visit]
    next_cursor: str | None


class ConnectStep(BaseModel):
    number: int
    title: str
    detail: str
    endpoint: str


class OnlineLawyer(BaseModel):
    id: str
    name: str
    specialty: str
    fields: list[str]
    service_hours: list[str] = Field(description='"<ISO weekday> HH:MM-HH:MM", the lawyer\'s local time.')
    next_free_slot: Slot | None


class ConnectProcess(BaseModel):
    """Connect-a-lawyer (R-BK-3, §6.2.4): the published steps and who is online now."""

    steps: list[ConnectStep]
    online_lawyers: list[OnlineLawyer]
    time_zone: str

    @classmethod
    def from_proto(cls, reply: pb.GetConnectProcessResponse) -> ConnectProcess:
        zone = ZoneInfo(reply.time_zone or "Asia/Shanghai")

        def slot(s: pb.Slot) -> Slot:
            return Slot(
                start=str(rfc3339(s, "start")),
                end=str(rfc3339(s, "end")),
                minutes=s.minutes,
                start_local=str(_local(s, "start", zone)),
                end_local=str(_local(s, "end", zone)),
            )

        return cls(
            steps=[
                ConnectStep(number=s.number, title=s.title, detail=s.detail, endpoint=s.endpoint)
                for s in reply.steps
            ],
            online_lawyers=[
                OnlineLawyer(
                    id=lawyer.lawyer_id,
                    name=lawyer.name,
                    specialty=lawyer.specialty,
                    fields=list(lawyer.fields),
                    service_hours=list(lawyer.service_hours),
                    next_free_slot=slot(lawyer.next_free_slot) if lawyer.HasField("next_free_slot") else None,
                )
                for lawyer in reply.lawyers
            ],
            time_zone=reply.time_zone,
        )


class CreateConnectRequest(RequestModel):
    """Connect with an online lawyer now (R-BK-3, §6.2.4; an addition to API.md, see README)."""

    lawyer_id: str = Field(min_length=1, max_length=200, description="An online lawyer's profile id.")
    mode: Literal["call", "meeting"] = Field(
        description="call: an agent bridges a paid phone consultation; meeting: hold the next free slot."
    )
    needs: str = Field(default="", max_length=5000, description="What the client needs.")


class ConnectNextStep(BaseModel):
    title: str
    detail: str
    endpoint: str
    product_id: str | None = Field(description="The product to order next.")


class ConnectRequest(BaseModel):
    id: str
    lawyer_id: str
    lawyer_user_id: str | None
    client_id: str
    enterprise_id: str
    mode: str = Field(description="call|meeting")
    needs: str
    status: str = Field(description="call: awaiting_payment; meeting: booking_held.")
    booking: Booking | None = Field(description="meeting: the booking held at the lawyer's next free slot.")
    booking_id: str | None
    next_step: ConnectNextStep = Field(description="What to pay next; nothing bypasses payment.")
    created_at: str | None

    @classmethod
    def from_proto(cls, r: pb.ConnectRequest, booking: pb.Booking | None = None) -> ConnectRequest:
        return cls(
            id=r.id,
            lawyer_id=r.lawyer_id,
            lawyer_user_id=or_none(r.lawyer_user_id),
            client_id=r.client_id,
            enterprise_id=r.tenant_id,
            mode=r.mode,
            needs=r.needs,
            status=r.status,
            booking=Booking.from_proto(booking) if booking is not None else None,
            booking_id=or_none(r.booking_id),
            next_step=ConnectNextStep(
                title=r.next_step.title,
                detail=r.next_step.detail,
                endpoint=r.next_step.endpoint,
                product_id=or_none(r.next_step.product_id),
            ),
            created_at=rfc3339(r, "created_at"),
        )


class ConnectRequestPage(BaseModel):
    items: list[ConnectRequest]
    next_cursor: str | None
