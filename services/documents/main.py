"""Entry point of the documents service; importable so tests run the real server in-process."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.documents.v1 import documents_service_pb2, documents_service_pb2_grpc
from services.documents import domain, events
from services.documents.config import DocumentsSettings
from services.documents.files import DocumentFiles
from services.documents.models import DATA_KEYS, STAFF_READS, TABLES
from services.documents.server import DocumentsServicer
from services.documents.store import BREACH_METRIC_KIND, DocumentsStores
from services.documents.store.sealed import seal_clear_files, seal_clear_rows
from services.documents.workflow_link import WorkflowLink
from services.runtime.config import Settings
from services.runtime.db import Database
from services.runtime.grpc_client import open_channel
from services.runtime.keys import DataKeys, master_key
from services.runtime.metrics import SLA_BREACHES, export_deadlines, keep_sla_timers
from services.runtime.service import service_runtime
from workflows.shared import DOCUMENTS_QUEUE, task_queue

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub

log = logging.getLogger(__name__)

SERVICE = "documents"
# The deadlines this service's records show running (counsel_sla_timers_pending).
SLA_TIMER_KINDS = ("acknowledge_30m", "delivery", "revision_window")


async def _files_sealed(db: Database, keys: DataKeys, files: DocumentFiles) -> None:
    """Seal the files stored before documents sealed them, in the background (they are served as stored
    until then), then idle: a background task that ends stops the service."""
    sealed = await seal_clear_files(db, keys, files)
    log.info("files stored before sealing are sealed", extra={"count": sealed})
    await asyncio.Event().wait()


async def serve(shared: Settings) -> None:
    settings = DocumentsSettings.from_settings(shared)
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        for kind in BREACH_METRIC_KIND.values():  # exported at 0 so the very first breach raises the alert
            SLA_BREACHES.labels(kind)
        export_deadlines(domain.DEADLINE_CLOCKS)
        assert rt.bus is not None
        temporal = await rt.temporal()
        files = await DocumentFiles.open(rt.bus.js, settings.jetstream_replicas)
        catalog = cast(
            "CatalogServiceAsyncStub",
            CatalogServiceStub(
                open_channel(
                    settings.catalog_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        keys = DataKeys(rt.db, master_key(settings), DATA_KEYS)
        await keys.check()
        await seal_clear_rows(rt.db, keys)
        stores = DocumentsStores.build(rt.db, rt.outbox, keys)
        server = rt.grpc_server()
        server.add(
            DocumentsServicer(stores, files, temporal, catalog),
            documents_service_pb2,
            documents_service_pb2_grpc,
        )
        link = WorkflowLink(temporal, task_queue(settings.temporal_task_queue, DOCUMENTS_QUEUE))
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                *rt.consumers(events.TABLE, events.HandlerContext(stores, link)),
                keep_sla_timers(stores.orders, SLA_TIMER_KINDS),
                rt.access_log_anchors(STAFF_READS),
                _files_sealed(rt.db, keys, files),
            ],
        )
