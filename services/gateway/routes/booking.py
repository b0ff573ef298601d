"""Booking (API.md "Booking"): a lawyer's free slots, meetings at the firm or on site with no double
booking (R-BK-1), lawyers' visit records (R-BK-2) and the quality of offline meetings (R-Q-4). The gateway
checks roles and shapes; the booking service checks them again with tenant scoping and every transition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Query, status

from counsel.booking.v1 import booking_service_pb2 as pb
from counsel.common.v1 import paging_pb2
from services.gateway.deps import ClientsDep, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.booking import (
    Availability,
    Booking,
    BookingPage,
    CancelBooking,
    ChecklistConfirmation,
    CompleteBooking,
    ConnectProcess,
    ConnectRequest,
    ConnectRequestPage,
    CreateBooking,
    CreateConnectRequest,
    CreateVisit,
    QualityChecklist,
    Rating,
    Reschedule,
    Visit,
    VisitPage,
)
from services.gateway.schemas.common import BookingMode, next_cursor
from services.runtime.context import Principal
from services.runtime.records import to_timestamp

router = api_router("booking")

CLIENTS = ("client", "client_admin")
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A retry with the same key and body returns the first result; another body is 409.",
    ),
]
Client = Annotated[Principal, Depends(require_roles(*CLIENTS))]
Viewer = Annotated[Principal, Depends(require_roles(*CLIENTS, "lawyer", "agent", "supervisor"))]
ClientOrAgent = Annotated[Principal, Depends(require_roles(*CLIENTS, "agent", "supervisor"))]
Lawyer = Annotated[Principal, Depends(require_roles("lawyer"))]
VisitViewer = Annotated[Principal, Depends(require_roles(*CLIENTS, "lawyer", "supervisor"))]


@router.get("/api/v1/lawyers/{lawyer_id}/availability", response_model=Availability)
async def availability(
    lawyer_id: str,
    clients: ClientsDep,
    start: Annotated[datetime | None, Query(alias="from", description="RFC 3339; default now.")] = None,
    end: Annotated[
        datetime | None,
        Query(alias="to", description="RFC 3339; default 7 days after from; at most 31 days."),
    ] = None,
    mode: Annotated[
        BookingMode, Query(description="on_site also needs the travel buffers free.")
    ] = "at_firm",
) -> Availability:
    """Free slots within the lawyer's service hours (weekly hours and exceptions from the catalog), minus
    live bookings and on-site travel buffers, in UTC and in the lawyer's time zone."""
    request = pb.GetAvailabilityRequest(lawyer_id=lawyer_id, mode=mode)
    if start is not None:
        getattr(request, "from").FromDatetime(_aware(start).astimezone(UTC))
    if end is not None:
        request.to.FromDatetime(_aware(end).astimezone(UTC))
    reply = await clients.booking.GetAvailability(request)
    return Availability.from_proto(lawyer_id, mode, reply)


def _aware(value: datetime) -> datetime:
    """A query time without an offset is read as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.post("/api/v1/bookings", response_model=Booking, status_code=status.HTTP_201_CREATED)
async def create_booking(
    body: CreateBooking, principal: Client, clients: ClientsDep, idempotency_key: IdempotencyKey = None
) -> Booking:
    """Holds the slot until `hold_expires_at`; pay an order of a booking product with
    `booking: {"booking_id": <id>}` to confirm it. An overlapping booking of the lawyer is 409."""
    reply = await clients.booking.CreateBooking(
        pb.CreateBookingRequest(
            lawyer_id=body.lawyer_id,
            mode=body.mode,
            start=to_timestamp(body.start),
            minutes=body.minutes,
            address=body.address or "",
            needs=body.needs,
            idempotency_key=idempotency_key or "",
            enterprise_id=body.enterprise_id or "",
        )
    )
    return Booking.from_proto(reply.booking)


@router.get("/api/v1/bookings", response_model=BookingPage)
async def list_bookings(
    principal: Viewer,
    clients: ClientsDep,
    mine: Annotated[
        bool, Query(description="Clients see their enterprise's, lawyers their own, agents all.")
    ] = True,
    status: Annotated[str, Query(max_length=50)] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> BookingPage:
    reply = await clients.booking.ListBookings(
        pb.ListBookingsRequest(status=status, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return BookingPage(
        items=[Booking.from_proto(b) for b in reply.bookings], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/bookings/{booking_id}", response_model=Booking)
async def get_booking(booking_id: str, principal: Viewer, clients: ClientsDep) -> Booking:
    reply = await clients.booking.GetBooking(pb.GetBookingRequest(booking_id=booking_id))
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/bookings/{booking_id}/reschedule", response_model=Booking)
async def reschedule(
    booking_id: str, body: Reschedule, principal: ClientOrAgent, clients: ClientsDep
) -> Booking:
    """Free until 24 h before the start; the new time must be free and within service hours."""
    reply = await clients.booking.RescheduleBooking(
        pb.RescheduleBookingRequest(booking_id=booking_id, start=to_timestamp(body.start))
    )
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/bookings/{booking_id}/cancel", response_model=Booking)
async def cancel(
    booking_id: str, principal: ClientOrAgent, clients: ClientsDep, body: CancelBooking | None = None
) -> Booking:
    """Frees the slot. A paid booking is refunded in full until 24 h before the start, half after that,
    nothing once it started (`refund`); the refund goes through payment."""
    reply = await clients.booking.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking_id, reason=(body.reason if body else None) or "")
    )
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/bookings/{booking_id}/check-in", response_model=Booking)
async def check_in(booking_id: str, principal: Lawyer, clients: ClientsDep) -> Booking:
    reply = await clients.booking.CheckInBooking(pb.CheckInBookingRequest(booking_id=booking_id))
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/bookings/{booking_id}/complete", response_model=Booking)
async def complete(booking_id: str, body: CompleteBooking, principal: Lawyer, clients: ClientsDep) -> Booking:
    reply = await clients.booking.CompleteBooking(
        pb.CompleteBookingRequest(booking_id=booking_id, summary=body.summary)
    )
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/bookings/{booking_id}/quality-checklist", response_model=Booking)
async def quality_checklist(
    booking_id: str, body: QualityChecklist, principal: Lawyer, clients: ClientsDep
) -> Booking:
    """The booked lawyer's quality checklist after a completed meeting (R-Q-4); supervisors see it."""
    reply = await clients.booking.RecordQuality(
        pb.RecordQualityRequest(booking_id=booking_id, checklist=body.checklist, lawyer_note=body.note)
    )
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/bookings/{booking_id}/quality-checklist/confirmation", response_model=Booking)
async def confirm_quality_checklist(
    booking_id: str, body: ChecklistConfirmation, principal: Client, clients: ClientsDep
) -> Booking:
    """The client confirms, item by item, the lawyer's checklist of a completed meeting, once (R-Q-4: not only
    self-reported; 409 before the lawyer filled it in); supervisors spot-check the meeting's sample."""
    reply = await clients.booking.RecordQuality(
        pb.RecordQualityRequest(booking_id=booking_id, client_checklist=body.checklist)
    )
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/bookings/{booking_id}/rating", response_model=Booking)
async def rate(booking_id: str, body: Rating, principal: Client, clients: ClientsDep) -> Booking:
    """The client's rating of a completed meeting (R-Q-1, R-Q-4), once."""
    reply = await clients.booking.RecordQuality(
        pb.RecordQualityRequest(booking_id=booking_id, rating=body.rating, client_comment=body.comment)
    )
    return Booking.from_proto(reply.booking)


@router.post("/api/v1/visits", response_model=Visit, status_code=status.HTTP_201_CREATED)
async def create_visit(
    body: CreateVisit, principal: Lawyer, clients: ClientsDep, idempotency_key: IdempotencyKey = None
) -> Visit:
    """A lawyer's proactive visit or research at a client enterprise (R-BK-2, §7.1)."""
    reply = await clients.booking.CreateVisit(
        pb.CreateVisitRequest(
            enterprise_id=body.enterprise_id,
            date=body.date,
            findings=body.findings,
            attendees=body.attendees,
            follow_ups=body.follow_ups,
            idempotency_key=idempotency_key or "",
        )
    )
    return Visit.from_proto(reply.visit)


@router.get("/api/v1/visits", response_model=VisitPage)
async def list_visits(
    principal: VisitViewer,
    clients: ClientsDep,
    enterprise_id: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> VisitPage:
    """The client enterprise's visits for its clients, a lawyer's own, every visit for supervisors."""
    reply = await clients.booking.ListVisits(
        pb.ListVisitsRequest(
            enterprise_id=enterprise_id, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor)
        )
    )
    return VisitPage(items=[Visit.from_proto(v) for v in reply.visits], next_cursor=next_cursor(reply.page))


@router.get("/api/v1/connect", response_model=ConnectProcess)
async def connect_process(clients: ClientsDep) -> ConnectProcess:
    """Connect-a-lawyer (R-BK-3): the published step-by-step process — a call now (a paid phone
    consultation an agent bridges to the lawyer) or a network meeting (a booking) — and the lawyers online
    now with specialty, fields, service hours and next free slot."""
    reply = await clients.booking.GetConnectProcess(pb.GetConnectProcessRequest())
    return ConnectProcess.from_proto(reply)


@router.post("/api/v1/connect/requests", response_model=ConnectRequest, status_code=status.HTTP_201_CREATED)
async def create_connect_request(
    body: CreateConnectRequest, principal: Client, clients: ClientsDep, idempotency_key: IdempotencyKey = None
) -> ConnectRequest:
    """Connect with an online lawyer now (R-BK-3; an addition to API.md). `meeting` holds the lawyer's next
    free slot (pay its booking order to confirm); `call` is queued for agents, who bridge the phone
    consultation once it is paid: `next_step` names the product to order. Unknown lawyer 404, offline 409."""
    reply = await clients.booking.CreateConnectRequest(
        pb.CreateConnectRequestRequest(
            lawyer_id=body.lawyer_id, mode=body.mode, needs=body.needs, idempotency_key=idempotency_key or ""
        )
    )
    return ConnectRequest.from_proto(reply.request, reply.booking if reply.HasField("booking") else None)


@router.get("/api/v1/connect/requests", response_model=ConnectRequestPage)
async def list_connect_requests(
    principal: Viewer,
    clients: ClientsDep,
    mode: Annotated[str, Query(max_length=20, description="call|meeting; empty for both.")] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ConnectRequestPage:
    """The agents' queue of connect requests (agents and supervisors see all, lawyers those naming them,
    clients their enterprise's), newest first."""
    reply = await clients.booking.ListConnectRequests(
        pb.ListConnectRequestsRequest(mode=mode, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return ConnectRequestPage(
        items=[ConnectRequest.from_proto(r) for r in reply.requests], next_cursor=next_cursor(reply.page)
    )
