"""Entry point of the catalog service."""

from __future__ import annotations

import asyncio

from counsel.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc
from services.catalog import events, search
from services.catalog.config import CatalogSettings
from services.catalog.files import QualificationFiles
from services.catalog.models import DATA_KEYS, TABLES
from services.catalog.server import CatalogServicer
from services.catalog.store import CatalogStores
from services.catalog.store.recommendations import EnterpriseHistories
from services.catalog.store.sealed import seal_clear_rows
from services.catalog.workflow_link import QualificationClocks
from services.runtime.config import Settings
from services.runtime.keys import DataKeys, master_key
from services.runtime.records import utcnow
from services.runtime.service import drain_forever, service_runtime
from workflows.shared import PLATFORM_QUEUE, task_queue

SERVICE = "catalog"
# How often the owed next-purchase passes are looked for (each falls due SUGGEST_PASS_EVERY after the last).
SUGGESTION_SWEEP_SECONDS = 10.0


async def run_owed_suggestion_passes(
    histories: EnterpriseHistories, interval: float = SUGGESTION_SWEEP_SECONDS
) -> None:
    """Run the next-purchase passes owed to enterprises whose events came within a pass's interval. The
    clock is only read here; the store takes it as input."""
    await drain_forever(lambda: histories.run_due_passes(utcnow()), interval, "owed next-purchase passes")


async def serve(shared: Settings) -> None:
    settings = CatalogSettings.from_settings(shared)
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        # Load the segmenter's dictionary (about a second) before the first search, off the event loop.
        await asyncio.to_thread(search.segment, "预热")
        assert rt.bus is not None
        files = await QualificationFiles.open(rt.bus.js, settings.jetstream_replicas)
        keys = DataKeys(rt.db, master_key(settings), DATA_KEYS)
        await keys.check()
        await seal_clear_rows(rt.db, keys)
        stores = CatalogStores.build(rt.db, rt.outbox, keys, files)
        clocks = QualificationClocks(
            await rt.temporal(), task_queue(settings.temporal_task_queue, PLATFORM_QUEUE)
        )
        # Firms from before onboarding work on a grace period (migration 0011) with the agreement's clock;
        # starting it again at every start starts nothing (the workflow id names the day).
        for firm_id, grace_ends_on in await stores.onboarding.grace_periods():
            await clocks.agreement(firm_id, grace_ends_on)
        server = rt.grpc_server()
        server.add(CatalogServicer(stores, clocks=clocks), catalog_service_pb2, catalog_service_pb2_grpc)
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                *rt.consumers(events.TABLE, stores),
                run_owed_suggestion_passes(stores.histories),
            ],
        )
