"""Entry point of the payment service."""

from __future__ import annotations

from counsel.payment.v1 import payment_service_pb2
from counsel.payment.v1.payment_service_pb2_grpc import add_PaymentServiceServicer_to_server
from services.payment.models import TABLES
from services.payment.server import PaymentServicer
from services.runtime.config import Settings
from services.runtime.service import service_runtime

SERVICE = "payment"
FULL_NAME = payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name


async def serve(settings: Settings) -> None:
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        server = rt.grpc_server()
        server.add(add_PaymentServiceServicer_to_server, PaymentServicer(rt.db), FULL_NAME)
        await rt.run(server, background=[rt.outbox_relay()])
