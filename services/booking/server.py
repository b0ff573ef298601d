"""BookingService over gRPC: proto in → domain/store → proto out.

The lawyer's weekly hours, exceptions and firm live in the catalog; this service asks the catalog for them
(GetLawyer, GetFirm) when it needs them rather than keeping a copy: `lawyer.changed` carries the weekly
hours but neither the dated exceptions nor the firm's venue, the reads are one small call per availability
query or booking, and the bookings
themselves — the part that must never be stale — are this service's own rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import grpc

from counsel.booking.v1 import booking_service_pb2 as pb
from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceServicer, BookingServiceServicer
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import paging_pb2, timeline_pb2
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from services.booking import domain
from services.booking.models import STAFF_READS, BookingRow, BookingStageRow, ConnectRequestRow, VisitRow
from services.booking.store import BookingStores
from services.booking.store.base import Lawyer
from services.runtime.context import current_principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.runtime.firm_roster import with_firm_lawyers
from services.runtime.limits import requested_time
from services.runtime.records import MAX_PAGE_SIZE, every_page, page_size, to_timestamp, utcnow
from services.runtime.tenancy import own_records, signed_in

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceAsyncStub


def booking_proto(row: BookingRow, stages: Sequence[BookingStageRow] = ()) -> pb.Booking:
    venue = None
    if row.venue:
        venue = pb.Venue(
            firm_id=str(row.venue.get("firm_id", "")),
            name=str(row.venue.get("name", "")),
            address=str(row.venue.get("address", "")),
            opening_hours=[str(x) for x in row.venue.get("opening_hours", [])],
            transit_routes=[str(x) for x in row.venue.get("transit_routes", [])],
            phone=str(row.venue.get("phone", "")),
        )
    quality = None
    if row.quality:
        checklist = row.quality.get("checklist", {})
        client_checklist = row.quality.get("client_checklist", {})
        quality = pb.Quality(
            checklist={str(k): bool(v) for k, v in checklist.items()} if isinstance(checklist, dict) else {},
            client_checklist=(
                {str(k): bool(v) for k, v in client_checklist.items()}
                if isinstance(client_checklist, dict)
                else {}
            ),
            lawyer_note=str(row.quality.get("lawyer_note", "")),
            rating=int(row.quality.get("rating", 0) or 0),
            client_comment=str(row.quality.get("client_comment", "")),
        )
    return pb.Booking(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        lawyer_id=row.lawyer_id,
        mode=row.mode,
        status=row.status,
        start=to_timestamp(row.start),
        minutes=row.minutes,
        address=row.address,
        needs=row.needs,
        hold_expires_at=to_timestamp(row.hold_expires_at if row.status == "held" else None),
        created_at=to_timestamp(row.created_at),
        lawyer_user_id=row.lawyer_user_id,
        end=to_timestamp(row.ends_at),
        buffer_minutes=row.buffer_minutes,
        time_zone=row.time_zone,
        order_id=row.order_id,
        venue=venue,
        checked_in_at=to_timestamp(row.checked_in_at),
        summary=row.summary,
        cancel_reason=row.cancel_reason,
        refund_fen=row.refund_fen,
        quality=quality,
        product_id=row.product_id,
        terms=row.terms,
        stages=[
            timeline_pb2.TimelineStage(
                stage=stage.stage,
                status=status,
                entered_at=to_timestamp(stage.entered_at),
                due_at=to_timestamp(stage.due_at),
                actor=stage.actor,
            )
            for stage, status in zip(stages, domain.stage_statuses(len(stages), row.status), strict=True)
        ],
    )


def connect_request_proto(row: ConnectRequestRow) -> pb.ConnectRequest:
    step = row.next_step
    return pb.ConnectRequest(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        lawyer_id=row.lawyer_id,
        lawyer_user_id=row.lawyer_user_id,
        mode=row.mode,
        needs=row.needs,
        status=row.status,
        booking_id=row.booking_id,
        next_step=pb.ConnectNextStep(
            title=step.get("title", ""),
            detail=step.get("detail", ""),
            endpoint=step.get("endpoint", ""),
            product_id=step.get("product_id", ""),
        ),
        created_at=to_timestamp(row.created_at),
    )


def visit_proto(row: VisitRow) -> pb.Visit:
    return pb.Visit(
        id=row.id,
        enterprise_id=row.tenant_id,
        lawyer_user_id=row.lawyer_user_id,
        date=row.date,
        attendees=row.attendees,
        findings=row.findings,
        follow_ups=row.follow_ups,
        created_at=to_timestamp(row.created_at),
    )


def _calendar(lawyer: catalog_pb.Lawyer) -> domain.Calendar:
    return domain.Calendar(
        hours=tuple(domain.WeeklyHours(h.weekday, h.start, h.end) for h in lawyer.service_hours),
        exceptions=tuple(
            domain.DayException(e.date, e.available, e.start, e.end) for e in lawyer.service_exceptions
        ),
        time_zone=domain.DEFAULT_TIME_ZONE,
    )


def _start(request_start: object, field: str) -> datetime:
    stamp = request_start
    if not getattr(stamp, "seconds", 0) and not getattr(stamp, "nanos", 0):
        raise InvalidArgument.for_field(field, "is required")
    return requested_time(stamp, field)  # type: ignore[arg-type]


class BookingServicer(BookingServiceServicer, BookingInternalServiceServicer):
    def __init__(
        self,
        stores: BookingStores,
        catalog: CatalogServiceAsyncStub,
        identity: IdentityInternalServiceAsyncStub,
        policy: domain.Policy = domain.POLICY,
    ) -> None:
        self.stores = stores
        self.catalog = catalog
        self.identity = identity
        self.policy = policy

    async def _client_enterprise(self, enterprise_id: str) -> str:
        """The id of a client enterprise identity knows; an unknown one is a bad `enterprise_id` (422)."""
        try:
            reply = await self.identity.GetEnterprise(
                identity_pb.GetEnterpriseRequest(enterprise_id=enterprise_id)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise InvalidArgument.for_field("enterprise_id", "no such client enterprise") from None
            raise
        return reply.enterprise.id

    async def _lawyer(self, lawyer_id: str, *, with_venue: bool = False) -> Lawyer:
        """The lawyer from the catalog, or NotFound("no such lawyer") (inactive lawyers are not bookable)."""
        if not lawyer_id:
            raise NotFound("no such lawyer")
        try:
            reply = await self.catalog.GetLawyer(catalog_pb.GetLawyerRequest(lawyer_id=lawyer_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise NotFound("no such lawyer") from None
            raise
        lawyer = reply.lawyer
        if not lawyer.active:
            raise NotFound("no such lawyer")
        venue: dict[str, object] = {}
        if with_venue and lawyer.firm_id:
            firm = (await self.catalog.GetFirm(catalog_pb.GetFirmRequest(firm_id=lawyer.firm_id))).firm
            venue = {
                "firm_id": firm.id,
                "name": firm.name,
                "address": firm.address,
                "opening_hours": domain.venue_lines(
                    [(h.weekday, h.opens, h.closes) for h in firm.opening_hours]
                ),
                "transit_routes": list(firm.transit_routes),
                "phone": firm.phone,
            }
        return Lawyer(
            lawyer.id,
            lawyer.user_id,
            _calendar(lawyer),
            venue,
            online=lawyer.online,
            unavailable_reason=lawyer.unavailable_reason,
        )

    async def _lawyer_for_new_work(self, lawyer_id: str, *, with_venue: bool = False) -> Lawyer:
        """`_lawyer`, and Conflict with the catalog's reason when the lawyer may take no new work now."""
        lawyer = await self._lawyer(lawyer_id, with_venue=with_venue)
        if lawyer.unavailable_reason:
            raise Conflict(lawyer.unavailable_reason, reason="not_assignable")
        return lawyer

    async def _next_free_meeting(
        self, lawyer: Lawyer, mode: str, address: str, needs: str, now: datetime
    ) -> domain.Requested:
        """A meeting at the lawyer's next free start within a week (connect-a-lawyer, a major matter's
        meeting); none free is a Conflict."""
        busy = await self.stores.bookings.busy(lawyer.lawyer_id, now, now + timedelta(days=7))
        slots = domain.free_slots(lawyer.calendar, busy, now, now + timedelta(days=7), now, mode, self.policy)
        if not slots:
            raise Conflict("the lawyer has no free slot in the next 7 days", reason="no_free_slot")
        return domain.Requested(
            mode=mode,
            start=slots[0].start,
            minutes=domain.connect_meeting_minutes(slots[0].minutes, self.policy),
            address=address,
            needs=needs,
        )

    async def _booking(self, row: BookingRow) -> pb.Booking:
        """The booking as the caller sees it, with its recorded stages."""
        return booking_proto(row, (await self.stores.bookings.stages([row.id]))[row.id])

    async def _product_terms(self, product_id: str) -> dict[str, str]:
        """The cancellation/reschedule terms among the booking product's catalog parameters; none (the
        default policy) without a product or for one the catalog no longer has."""
        if not product_id:
            return {}
        try:
            reply = await self.catalog.GetProduct(catalog_pb.GetProductRequest(product_id=product_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return {}
            raise
        return domain.product_terms(dict(reply.product.parameters))

    async def ListStaffAccess(
        self, request: pb.ListStaffAccessRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStaffAccessResponse:
        entries = await STAFF_READS.of_caller(
            self.stores.bookings.db, current_principal(), page_size(request.limit)
        )
        return pb.ListStaffAccessResponse(entries=entries)

    async def GetBooking(
        self, request: pb.GetBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBookingResponse:
        principal = await with_firm_lawyers(current_principal(), self.catalog)
        row = await self.stores.bookings.get(principal, request.booking_id)
        return pb.GetBookingResponse(booking=await self._booking(row))

    async def GetAvailability(
        self, request: pb.GetAvailabilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAvailabilityResponse:
        mode = request.mode or "at_firm"
        if mode not in domain.MODES:
            raise InvalidArgument.for_field("mode", f"must be one of {', '.join(domain.MODES)}")
        now = utcnow()
        start = requested_time(getattr(request, "from"), "from") if request.HasField("from") else now
        end = requested_time(request.to, "to") if request.HasField("to") else start + timedelta(days=7)
        domain.check_query(start, end, self.policy)
        lawyer = await self._lawyer(request.lawyer_id)
        busy = await self.stores.bookings.busy(lawyer.lawyer_id, start, end)
        slots = (
            []
            if lawyer.unavailable_reason
            else domain.free_slots(lawyer.calendar, busy, start, end, now, mode, self.policy)
        )
        return pb.GetAvailabilityResponse(
            slots=[
                pb.Slot(start=to_timestamp(s.start), end=to_timestamp(s.end), minutes=s.minutes)
                for s in slots
            ],
            time_zone=lawyer.calendar.time_zone,
        )

    async def CreateBooking(
        self, request: pb.CreateBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateBookingResponse:
        principal = domain.require_client(current_principal())
        tenant_id = domain.booking_tenant(principal, request.enterprise_id)
        requested = domain.Requested(
            mode=request.mode,
            start=_start(request.start, "start"),
            minutes=request.minutes,
            address=request.address,
            needs=request.needs[:5000],
        )
        if requested.mode not in domain.MODES:
            raise InvalidArgument.for_field("mode", f"must be one of {', '.join(domain.MODES)}")
        if requested.mode == "on_site" and not requested.address.strip():
            raise InvalidArgument.for_field("address", "is required for an on_site visit")
        try:
            lawyer = await self._lawyer_for_new_work(
                request.lawyer_id, with_venue=requested.mode == "at_firm"
            )
        except NotFound:
            raise InvalidArgument.for_field("lawyer_id", "no such lawyer") from None
        row = await self.stores.bookings.create(
            principal, lawyer, requested, tenant_id, request.idempotency_key
        )
        return pb.CreateBookingResponse(booking=await self._booking(row))

    async def ListBookings(
        self, request: pb.ListBookingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBookingsResponse:
        principal = await with_firm_lawyers(signed_in(current_principal(), "list bookings"), self.catalog)
        rows, next_cursor = await self.stores.bookings.list_bookings(
            principal, request.status, page_size(request.page.limit), request.page.cursor
        )
        stages = await self.stores.bookings.stages([r.id for r in rows])
        return pb.ListBookingsResponse(
            bookings=[booking_proto(r, stages[r.id]) for r in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def RescheduleBooking(
        self, request: pb.RescheduleBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.RescheduleBookingResponse:
        principal = current_principal()
        start = _start(request.start, "start")
        current = await self.stores.bookings.get(principal, request.booking_id)
        lawyer = await self._lawyer_for_new_work(current.lawyer_id)
        row = await self.stores.bookings.reschedule(principal, request.booking_id, lawyer.calendar, start)
        return pb.RescheduleBookingResponse(booking=await self._booking(row))

    async def CancelBooking(
        self, request: pb.CancelBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelBookingResponse:
        principal = current_principal()
        reason = request.reason.strip() or domain.cancelled_by(principal)
        row = await self.stores.bookings.cancel(principal, request.booking_id, reason)
        return pb.CancelBookingResponse(booking=await self._booking(row))

    async def CheckInBooking(
        self, request: pb.CheckInBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckInBookingResponse:
        row = await self.stores.bookings.check_in(current_principal(), request.booking_id)
        return pb.CheckInBookingResponse(booking=await self._booking(row))

    async def CompleteBooking(
        self, request: pb.CompleteBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteBookingResponse:
        row = await self.stores.bookings.complete(current_principal(), request.booking_id, request.summary)
        return pb.CompleteBookingResponse(booking=await self._booking(row))

    async def ExportBookingData(
        self, request: pb.ExportBookingDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportBookingDataResponse:
        """A client's own bookings and connect requests, and their enterprise's visit records (which every
        member reads with ListVisits already); staff book nothing, so theirs is empty."""
        principal = signed_in(current_principal(), "export your data")
        reply = pb.ExportBookingDataResponse()
        if not principal.is_client:
            return reply
        bookings = await own_records(principal, self.stores.bookings.list_bookings)
        stages = await self.stores.bookings.stages([row.id for row in bookings])
        reply.bookings.extend(booking_proto(row, stages[row.id]) for row in bookings)
        visits = await every_page(
            lambda cursor: self.stores.visits.list_visits(principal, "", MAX_PAGE_SIZE, cursor)
        )
        reply.visits.extend(visit_proto(row) for row in visits)
        requests = await own_records(principal, self.stores.connect.list_connect_requests)
        reply.connect_requests.extend(connect_request_proto(row) for row in requests)
        return reply

    async def ConfirmBooking(
        self, request: pb.ConfirmBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmBookingResponse:
        domain.require_internal(current_principal())
        row = await self.stores.bookings.confirm(
            request.booking_id,
            request.order_id,
            request.tenant_id,
            request.paid_fen,
            request.product_id,
            await self._product_terms(request.product_id),
        )
        return pb.ConfirmBookingResponse(booking=await self._booking(row))

    async def ExpireBooking(
        self, request: pb.ExpireBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExpireBookingResponse:
        domain.require_internal(current_principal())
        return pb.ExpireBookingResponse(
            booking=await self._booking(await self.stores.bookings.expire(request.booking_id))
        )

    async def MarkNoShow(
        self, request: pb.MarkNoShowRequest, context: grpc.aio.ServicerContext
    ) -> pb.MarkNoShowResponse:
        domain.require_internal(current_principal())
        return pb.MarkNoShowResponse(
            booking=await self._booking(await self.stores.bookings.mark_no_show(request.booking_id))
        )

    async def RemindBooking(
        self, request: pb.RemindBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.RemindBookingResponse:
        domain.require_internal(current_principal())
        row = await self.stores.bookings.remind(request.booking_id, request.lead_minutes)
        return pb.RemindBookingResponse(booking=await self._booking(row))

    async def ProposeMeeting(
        self, request: pb.ProposeMeetingRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProposeMeetingResponse:
        """R-CON-4: the lawyer's next free slot within a week, held for the client as any booking is."""
        principal = domain.require_meeting_proposer(current_principal())
        if not request.client_id or not request.tenant_id:
            raise InvalidArgument.for_field("client_id", "the client and their enterprise are required")
        mode = request.mode or "at_firm"
        if mode not in domain.MODES:  # the address is checked with the rest of the request on holding it
            raise InvalidArgument.for_field("mode", f"must be one of {', '.join(domain.MODES)}")
        lawyer = await self._lawyer(request.lawyer_id, with_venue=mode == "at_firm")
        now = utcnow()
        requested = await self._next_free_meeting(lawyer, mode, request.address, request.needs[:5000], now)
        row = await self.stores.bookings.create(
            principal,
            lawyer,
            requested,
            request.tenant_id,
            request.idempotency_key,
            now,
            client_id=request.client_id,
        )
        return pb.ProposeMeetingResponse(booking=await self._booking(row))

    async def CreateVisit(
        self, request: pb.CreateVisitRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateVisitResponse:
        principal = signed_in(current_principal(), "record a visit")
        if not principal.has_role("lawyer"):
            raise PermissionDenied("only lawyers record visits")
        visit = domain.check_visit(
            domain.NewVisit(
                enterprise_id=request.enterprise_id,
                date=request.date,
                attendees=tuple(request.attendees),
                findings=request.findings,
                follow_ups=tuple(request.follow_ups),
            ),
            utcnow(),
        )
        await self._client_enterprise(visit.enterprise_id)
        row = await self.stores.visits.create_visit(principal, visit, request.idempotency_key)
        return pb.CreateVisitResponse(visit=visit_proto(row))

    async def ListVisits(
        self, request: pb.ListVisitsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListVisitsResponse:
        principal = signed_in(current_principal(), "list visits")
        rows, next_cursor = await self.stores.visits.list_visits(
            principal, request.enterprise_id, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListVisitsResponse(
            visits=[visit_proto(r) for r in rows], page=paging_pb2.PageResponse(next_cursor=next_cursor)
        )

    async def GetConnectProcess(
        self, request: pb.GetConnectProcessRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetConnectProcessResponse:
        """R-BK-3: the published process and the online lawyers, each with the next free slot (7 days)."""
        reply = await self.catalog.ListLawyers(
            catalog_pb.ListLawyersRequest(online=True, page=paging_pb2.PageRequest(limit=100))
        )
        now = utcnow()
        until = now + timedelta(days=7)
        lawyers = []
        for lawyer in reply.lawyers:
            calendar = _calendar(lawyer)
            busy = await self.stores.bookings.busy(lawyer.id, now, until)
            slots = domain.free_slots(calendar, busy, now, until, now, "at_firm", self.policy)
            lawyers.append(
                pb.OnlineLawyer(
                    lawyer_id=lawyer.id,
                    name=lawyer.name,
                    specialty=lawyer.specialty,
                    fields=list(lawyer.fields),
                    service_hours=domain.hours_lines(calendar.hours),
                    next_free_slot=pb.Slot(
                        start=to_timestamp(slots[0].start),
                        end=to_timestamp(slots[0].end),
                        minutes=slots[0].minutes,
                    )
                    if slots
                    else None,
                )
            )
        return pb.GetConnectProcessResponse(
            steps=[
                pb.ConnectStep(number=n, title=step.title, detail=step.detail, endpoint=step.endpoint)
                for n, step in enumerate(domain.CONNECT_PROCESS, start=1)
            ],
            lawyers=lawyers,
            time_zone=domain.DEFAULT_TIME_ZONE,
        )

    async def RecordQuality(
        self, request: pb.RecordQualityRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordQualityResponse:
        principal = signed_in(current_principal(), "record quality")
        row = await self.stores.bookings.record_quality(
            principal,
            request.booking_id,
            dict(request.checklist),
            request.lawyer_note,
            request.rating,
            request.client_comment,
            dict(request.client_checklist),
        )
        return pb.RecordQualityResponse(booking=await self._booking(row))

    async def CreateConnectRequest(
        self, request: pb.CreateConnectRequestRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateConnectRequestResponse:
        """R-BK-3: connect with an online lawyer now. An unknown lawyer is NotFound, an offline one a
        Conflict; a meeting holds the lawyer's next free slot within a week (none: Conflict)."""
        principal = domain.require_client(current_principal())
        tenant_id = domain.booking_tenant(principal, "")
        mode = domain.check_connect(request.mode, request.needs)
        lawyer = await self._lawyer_for_new_work(request.lawyer_id, with_venue=mode == "meeting")
        domain.require_online(lawyer.online)
        meeting = None
        if mode == "meeting":
            meeting = await self._next_free_meeting(lawyer, "at_firm", "", request.needs, utcnow())
        product_id = await self._connect_product(mode)
        requested = await self.stores.connect.connect(
            principal,
            lawyer,
            tenant_id,
            mode,
            request.needs,
            meeting,
            product_id,
            request.idempotency_key,
        )
        booking = requested.booking
        return pb.CreateConnectRequestResponse(
            request=connect_request_proto(requested.request),
            booking=await self._booking(booking) if booking is not None else None,
        )

    async def _connect_product(self, mode: str) -> str:
        """The product the client orders next: the catalog's phone consultation product for a call, its
        at-firm booking product for a meeting; empty when the catalog offers none."""
        category = "booking" if mode == "meeting" else "consultation"
        reply = await self.catalog.ListProducts(
            catalog_pb.ListProductsRequest(category=category, page=paging_pb2.PageRequest(limit=100))
        )
        for product in reply.products:
            if mode == "meeting" and product.parameters.get("mode") == "at_firm":
                return product.id
            if mode == "call" and product.consultation_kind == "phone":
                return product.id
        return ""

    async def ListConnectRequests(
        self, request: pb.ListConnectRequestsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConnectRequestsResponse:
        principal = signed_in(current_principal(), "list connect requests")
        rows, next_cursor = await self.stores.connect.list_connect_requests(
            principal, request.mode, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListConnectRequestsResponse(
            requests=[connect_request_proto(r) for r in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )
