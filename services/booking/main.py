"""Entry point of the booking service; importable so tests run the real server in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from counsel.booking.v1 import booking_service_pb2, booking_service_pb2_grpc
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceStub
from services.booking import events
from services.booking.config import BookingSettings
from services.booking.models import DATA_KEYS, STAFF_READS, TABLES
from services.booking.server import BookingServicer
from services.booking.store import BookingStores
from services.booking.store.sealed import seal_clear_rows
from services.booking.workflow_link import WorkflowLink
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel
from services.runtime.keys import DataKeys, master_key
from services.runtime.metrics import UNTIERED, export_deadlines
from services.runtime.service import service_runtime
from workflows.shared import BOOKING_QUEUE, task_queue

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceAsyncStub

SERVICE = "booking"


async def serve(shared: Settings) -> None:
    settings = BookingSettings.from_settings(shared)
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        export_deadlines(
            [("booking_hold", UNTIERED)]
        )  # at 0, so the first outcome of this process is an increase
        temporal = await rt.temporal()
        catalog = cast(
            "CatalogServiceAsyncStub",
            CatalogServiceStub(
                open_channel(
                    settings.catalog_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        # A lawyer's visit names a client enterprise identity knows.
        identity = cast(
            "IdentityInternalServiceAsyncStub",
            IdentityInternalServiceStub(
                open_channel(
                    settings.identity_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        keys = DataKeys(rt.db, master_key(settings), DATA_KEYS)
        await keys.check()
        await seal_clear_rows(rt.db, keys)
        server = rt.grpc_server()
        server.add(
            BookingServicer(BookingStores.build(rt.db, rt.outbox, keys), catalog, identity),
            booking_service_pb2,
            booking_service_pb2_grpc,
        )
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                *rt.consumers(
                    events.TABLE,
                    WorkflowLink(temporal, task_queue(settings.temporal_task_queue, BOOKING_QUEUE), keys),
                ),
                rt.access_log_anchors(STAFF_READS),
            ],
        )
