"""Entry point of the catalog service."""

from __future__ import annotations

import asyncio

from counsel.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc
from services.catalog import consumers, firm_events, search
from services.catalog.erasure import erase_user
from services.catalog.models import TABLES
from services.catalog.server import CatalogServicer
from services.catalog.store import CatalogStores
from services.runtime import erasure
from services.runtime.config import Settings
from services.runtime.service import service_runtime

SERVICE = "catalog"
# The durable consumers of this service (name → event subject suffixes): `counsel migrate` creates them as
# `catalog-<name>`, and with NATS authorization on this service may read from these alone (deploy/nats_auth.py).
CONSUMERS = {
    "orders": consumers.SUBJECTS,
    "firm-events": firm_events.SUBJECTS,
    "erasure": erasure.SUBJECTS,
}


async def serve(settings: Settings) -> None:
    async with service_runtime(settings, SERVICE, TABLES, consumers=CONSUMERS) as rt:
        # Load the segmenter's dictionary (about a second) before the first search, off the event loop.
        await asyncio.to_thread(search.segment, "预热")
        stores = CatalogStores.build(rt.db, rt.outbox)
        server = rt.grpc_server()
        server.add(CatalogServicer(stores), catalog_service_pb2, catalog_service_pb2_grpc)
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                rt.consumer("orders", consumers.OrderEvents(stores.orders)),
                rt.consumer("firm-events", firm_events.record),
                rt.consumer("erasure", erase_user),
            ],
        )
