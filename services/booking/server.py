"""BookingService over gRPC. Bookings are created by the booking capability; this serves reads."""

from __future__ import annotations

import grpc

from counsel.booking.v1 import booking_service_pb2 as pb
from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceServicer
from services.booking.models import BookingRow
from services.runtime.context import current_principal
from services.runtime.db import Database
from services.runtime.records import to_timestamp
from services.runtime.tenancy import require_visible

STAFF_WHO_SEE_BOOKINGS = ("agent", "supervisor")


def booking_proto(row: BookingRow) -> pb.Booking:
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
        hold_expires_at=to_timestamp(row.hold_expires_at),
        created_at=to_timestamp(row.created_at),
    )


class BookingServicer(BookingServiceServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetBooking(
        self, request: pb.GetBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBookingResponse:
        row = await self.db.get(BookingRow, request.booking_id, "booking")
        principal = current_principal()
        # The booked lawyer sees their own booking too.
        if principal is None or principal.user_id != row.lawyer_id:
            require_visible(principal, row.tenant_id, STAFF_WHO_SEE_BOOKINGS, "booking")
        return pb.GetBookingResponse(booking=booking_proto(row))
