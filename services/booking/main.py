"""Entry point of the booking service."""

from __future__ import annotations

from counsel.booking.v1 import booking_service_pb2
from counsel.booking.v1.booking_service_pb2_grpc import add_BookingServiceServicer_to_server
from services.booking.erasure import erase_user
from services.booking.models import TABLES
from services.booking.server import BookingServicer
from services.runtime import erasure
from services.runtime.config import Settings
from services.runtime.service import service_runtime

SERVICE = "booking"
FULL_NAME = booking_service_pb2.DESCRIPTOR.services_by_name["BookingService"].full_name


async def serve(settings: Settings) -> None:
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        server = rt.grpc_server()
        server.add(add_BookingServiceServicer_to_server, BookingServicer(rt.db), FULL_NAME)
        await rt.run(
            server, background=[rt.outbox_relay(), rt.consumer("erasure", erasure.SUBJECTS, erase_user)]
        )
