"""Activities of the booking service, over gRPC (internal calls without a user token): what BookingWorkflow's
clocks decided, and the confirmation of the held booking a paid order names (OrderWorkflow). Each is
idempotent in the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from counsel.booking.v1 import booking_service_pb2 as pb
from workflows.activities.refusals import refusal_is_final
from workflows.booking import AUTO_SUMMARY
from workflows.shared import BookingReminderInput, FulfilmentRef, FulfilmentRequest

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import (
        BookingInternalServiceAsyncStub,
        BookingServiceAsyncStub,
    )


class BookingActivities:
    def __init__(self, stub: BookingServiceAsyncStub, internal: BookingInternalServiceAsyncStub) -> None:
        self.stub = stub
        self.internal = internal

    @activity.defn(name="booking.expire_hold")
    async def expire_hold(self, booking_id: str) -> str:
        """The booking's status after its hold ran out: "expired", or "confirmed" when payment won."""
        reply = await self.internal.ExpireBooking(pb.ExpireBookingRequest(booking_id=booking_id))
        return reply.booking.status

    @activity.defn(name="booking.remind")
    async def remind(self, request: BookingReminderInput) -> None:
        await self.internal.RemindBooking(
            pb.RemindBookingRequest(booking_id=request.booking_id, lead_minutes=request.lead_minutes)
        )

    @activity.defn(name="booking.mark_no_show")
    async def mark_no_show(self, booking_id: str) -> None:
        await self.internal.MarkNoShow(pb.MarkNoShowRequest(booking_id=booking_id))

    @activity.defn(name="booking.complete")
    async def complete(self, booking_id: str) -> None:
        """Completes a checked-in meeting the lawyer did not complete (idempotent after a manual one)."""
        await self.stub.CompleteBooking(
            pb.CompleteBookingRequest(booking_id=booking_id, summary=AUTO_SUMMARY)
        )

    @activity.defn(name="booking.confirm_booking")
    async def confirm_booking(self, request: FulfilmentRequest) -> FulfilmentRef:
        """Confirms the held booking a paid booking product's order names (`booking.booking_id`). One that
        expired, was cancelled or belongs to another enterprise is refused for good, and the order is
        refunded."""
        booking_id = str(request.booking.get("booking_id") or request.booking.get("id") or "")
        if not booking_id:
            raise ApplicationError("the order names no booking", type="INVALID_ARGUMENT", non_retryable=True)
        with refusal_is_final("booking"):
            reply = await self.internal.ConfirmBooking(
                pb.ConfirmBookingRequest(
                    booking_id=booking_id,
                    order_id=request.order_id,
                    tenant_id=request.tenant_id,
                    paid_fen=int(request.tier.get("price") or 0),
                    product_id=request.product_id,
                )
            )
        return FulfilmentRef(kind="booking", id=reply.booking.id)
