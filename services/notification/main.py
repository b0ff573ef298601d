"""Entry point of the notification service."""

from __future__ import annotations

from counsel.notification.v1 import notification_service_pb2
from counsel.notification.v1.notification_service_pb2_grpc import add_NotificationServiceServicer_to_server
from services.notification.models import TABLES
from services.notification.server import NotificationServicer
from services.notification.store import NotificationStore
from services.runtime.config import Settings
from services.runtime.service import service_runtime

SERVICE = "notification"
FULL_NAME = notification_service_pb2.DESCRIPTOR.services_by_name["NotificationService"].full_name
# Every stage event of the services whose clients are notified (R-Q-3).
FAN_OUT_SUBJECTS = ["consultation.>", "documents.>", "booking.>", "payment.>"]


async def serve(settings: Settings) -> None:
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        store = NotificationStore(rt.db)
        server = rt.grpc_server()
        server.add(
            add_NotificationServiceServicer_to_server,
            NotificationServicer(store, dev_outbox_enabled=settings.env in ("dev", "test")),
            FULL_NAME,
        )
        await rt.run(
            server, background=[rt.outbox_relay(), rt.consumer("fan-out", FAN_OUT_SUBJECTS, store.deliver)]
        )
