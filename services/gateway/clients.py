"""The gateway's stubs for every peer service, one channel per peer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import grpc
from grpc_health.v1 import health_pb2_grpc

from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceStub
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.consultation.v1.consultation_service_pb2_grpc import (
    ConsultationInternalServiceStub,
    ConsultationServiceStub,
)
from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceStub
from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceStub, IdentityServiceStub
from counsel.notification.v1.notification_service_pb2_grpc import (
    NotificationInternalServiceStub,
    NotificationServiceStub,
)
from counsel.payment.v1.payment_service_pb2_grpc import PaymentInternalServiceStub, PaymentServiceStub
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.grpc_client import open_channel

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceAsyncStub
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.consultation.v1.consultation_service_pb2_grpc import (
        ConsultationInternalServiceAsyncStub,
        ConsultationServiceAsyncStub,
    )
    from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceAsyncStub
    from counsel.identity.v1.identity_service_pb2_grpc import (
        IdentityInternalServiceAsyncStub,
        IdentityServiceAsyncStub,
    )
    from counsel.notification.v1.notification_service_pb2_grpc import (
        NotificationInternalServiceAsyncStub,
        NotificationServiceAsyncStub,
    )
    from counsel.payment.v1.payment_service_pb2_grpc import (
        PaymentInternalServiceAsyncStub,
        PaymentServiceAsyncStub,
    )


@dataclass
class Clients:
    """Async stubs of the peer services. `health` maps each service name to its grpc.health.v1 stub.
    Tests pass fakes with the same methods. The `*_internal` stubs reach the RPCs only counsel's own
    processes may call, which the gateway relays without a user's token: the JWKS it publishes, providers'
    payment notifications and the sandbox pay page, telephony receipts, and the dev outbox."""

    identity: IdentityServiceAsyncStub
    catalog: CatalogServiceAsyncStub
    consultation: ConsultationServiceAsyncStub
    documents: DocumentsServiceAsyncStub
    booking: BookingServiceAsyncStub
    payment: PaymentServiceAsyncStub
    notification: NotificationServiceAsyncStub
    identity_internal: IdentityInternalServiceAsyncStub
    consultation_internal: ConsultationInternalServiceAsyncStub
    payment_internal: PaymentInternalServiceAsyncStub
    notification_internal: NotificationInternalServiceAsyncStub
    health: Mapping[str, Any] = field(default_factory=dict)


class Connections:
    """The open channels behind a `Clients`; `close()` them on shutdown."""

    def __init__(self, settings: Settings) -> None:
        timeout, tls = settings.grpc_deadline_seconds, settings.tls()
        self.channels: dict[str, grpc.aio.Channel] = {
            name: open_channel(settings.peer_addr(name), tls, default_timeout=timeout)
            for name in SERVICE_NAMES
        }
        channels = self.channels
        # The generated stubs are typed async only when the channel's type is known; open_channel's is not.
        self.clients = Clients(
            identity=cast("IdentityServiceAsyncStub", IdentityServiceStub(channels["identity"])),
            catalog=cast("CatalogServiceAsyncStub", CatalogServiceStub(channels["catalog"])),
            consultation=cast(
                "ConsultationServiceAsyncStub", ConsultationServiceStub(channels["consultation"])
            ),
            documents=cast("DocumentsServiceAsyncStub", DocumentsServiceStub(channels["documents"])),
            booking=cast("BookingServiceAsyncStub", BookingServiceStub(channels["booking"])),
            payment=cast("PaymentServiceAsyncStub", PaymentServiceStub(channels["payment"])),
            notification=cast(
                "NotificationServiceAsyncStub", NotificationServiceStub(channels["notification"])
            ),
            identity_internal=cast(
                "IdentityInternalServiceAsyncStub", IdentityInternalServiceStub(channels["identity"])
            ),
            consultation_internal=cast(
                "ConsultationInternalServiceAsyncStub",
                ConsultationInternalServiceStub(channels["consultation"]),
            ),
            payment_internal=cast(
                "PaymentInternalServiceAsyncStub", PaymentInternalServiceStub(channels["payment"])
            ),
            notification_internal=cast(
                "NotificationInternalServiceAsyncStub",
                NotificationInternalServiceStub(channels["notification"]),
            ),
            health={name: health_pb2_grpc.HealthStub(channel) for name, channel in channels.items()},
        )

    async def close(self, grace: float = 2.0) -> None:
        for channel in self.channels.values():
            await channel.close(grace)
