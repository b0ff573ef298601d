"""Entry point of the catalog service."""

from __future__ import annotations

import asyncio

from counsel.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc
from services.catalog import events, search
from services.catalog.config import CatalogSettings
from services.catalog.models import TABLES
from services.catalog.server import CatalogServicer
from services.catalog.store import CatalogStores
from services.runtime.config import Settings
from services.runtime.service import service_runtime

SERVICE = "catalog"


async def serve(shared: Settings) -> None:
    settings = CatalogSettings.from_settings(shared)
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        # Load the segmenter's dictionary (about a second) before the first search, off the event loop.
        await asyncio.to_thread(search.segment, "预热")
        stores = CatalogStores.build(rt.db, rt.outbox)
        server = rt.grpc_server()
        server.add(CatalogServicer(stores), catalog_service_pb2, catalog_service_pb2_grpc)
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                *rt.consumers(events.TABLE, stores),
            ],
        )
