"""Databases, migrations, the event bus and demo data: what a fresh platform needs before its processes start;
then, once they run, the wait for the demo lawyers' copies that consultation and documents fill from events."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from deploy.nats_auth import service_consumers
from services.catalog.files import BUCKET as QUALIFICATIONS_BUCKET
from services.catalog.files import QualificationFiles
from services.catalog.seed import demo_lawyers
from services.consultation.models import LawyerProjectionRow
from services.documents.files import BUCKET as DOCUMENTS_BUCKET
from services.documents.files import DocumentFiles
from services.documents.models import LawyerRosterRow
from services.gateway.export_files import BUCKET as EXPORTS_BUCKET
from services.gateway.export_files import ExportFiles
from services.payment.invoices import ObjectStoreInvoices
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.db import Database, ensure_database
from services.runtime.events import EventBus, consumer_config, ensure_consumer
from services.runtime.migrations import migrate


@dataclass(frozen=True)
class DatabaseMigrated:
    """What `migrate_all` did to one service's database."""

    service: str
    database: str
    created: bool
    applied: list[str]

    def __str__(self) -> str:
        done = "created, " if self.created else ""
        if self.applied:
            return f"{self.service}: database {self.database} {done}applied {', '.join(self.applied)}"
        return f"{self.service}: database {self.database} {done}up to date"


@dataclass(frozen=True)
class BusProvisioned:
    """What `provision_bus` made sure of on NATS."""

    stream: str
    replicas: int
    buckets: list[str]
    consumers: int

    def __str__(self) -> str:
        return (
            f"nats: stream {self.stream} and buckets {', '.join(self.buckets)} at {self.replicas} replica(s), "
            f"{self.consumers} durable consumers"
        )


async def migrate_all(settings: Settings, services: Sequence[str] = SERVICE_NAMES) -> list[DatabaseMigrated]:
    """Create each service's database if missing and bring it to the latest migration."""
    done = []
    for service in services:
        database = settings.database_name(service)
        created = await ensure_database(settings.database_url, database)
        applied = await migrate(service, settings.database_dsn(service))
        done.append(DatabaseMigrated(service, database, created, applied))
    return done


async def provision_bus(settings: Settings) -> BusProvisioned:
    """Create on NATS what the services use but may not create themselves once NATS authorization is on
    (deploy/nats_auth.py): the event stream, the documents, invoices, exports and qualifications buckets, and every service's durable
    consumers over the subjects its events.py table declares (a changed table updates them). Idempotent; runs
    as the `migrate` user (`counsel migrate`, and `counsel up` before it starts any process)."""
    bus = await EventBus.connect(settings, name="counsel-migrate")  # creates the stream when it is missing
    consumers = 0
    try:
        await DocumentFiles.open(bus.js, settings.jetstream_replicas)
        await QualificationFiles.open(bus.js, settings.jetstream_replicas)
        invoices = ObjectStoreInvoices(bus.js, replicas=settings.jetstream_replicas)
        await invoices.store()
        await ExportFiles.bucket(bus.js, settings.jetstream_replicas)
        for service in SERVICE_NAMES:
            for name, subjects in service_consumers(service).items():
                await ensure_consumer(
                    bus, consumer_config(settings.subject_root, f"{service}-{name}", subjects)
                )
                consumers += 1
    finally:
        await bus.close()
    return BusProvisioned(
        bus.stream,
        settings.jetstream_replicas,
        [DOCUMENTS_BUCKET, invoices.bucket, EXPORTS_BUCKET, QUALIFICATIONS_BUCKET],
        consumers,
    )


async def seed_all(settings: Settings) -> None:
    """Load the demo data of API.md: every service with a `seed` module seeds its own database (idempotent),
    in the order of SERVICE_NAMES, as `migrate_all` migrates them. Events a seed publishes wait in the
    service's outbox until its relay runs."""
    for service in SERVICE_NAMES:
        if importlib.util.find_spec(f"services.{service}.seed") is None:
            continue
        seed = importlib.import_module(f"services.{service}.seed").seed
        db = Database(settings.database_dsn(service), pool_size=1)
        try:
            await seed(db, settings)
        finally:
            await db.close()


# The copies other services keep of the catalog's lawyers (table, its key column), filled from `lawyer.changed`.
LAWYER_COPIES: dict[str, tuple[Any, str]] = {
    "consultation": (LawyerProjectionRow, "lawyer_id"),
    "documents": (LawyerRosterRow, "user_id"),
}


async def lawyer_copies_behind(settings: Settings) -> list[str]:
    """The services whose copy of some demo lawyer does not yet show the catalog's seeded fields and
    activation (empty once every copy has caught up)."""
    seeded = {row.user_id: (sorted(row.fields), row.active) for row in demo_lawyers()}
    behind = []
    for service, (model, key) in LAWYER_COPIES.items():
        db = Database(settings.database_dsn(service), pool_size=1)
        try:
            async with db.transaction() as session:
                rows = (await session.exec(select(model).where(col(getattr(model, key)).in_(seeded)))).all()
        finally:
            await db.close()
        copied = {getattr(row, key): (sorted(row.fields), row.active) for row in rows}
        if copied != seeded:
            behind.append(service)
    return behind


async def wait_for_lawyer_copies(settings: Settings, seconds: float) -> None:
    """Wait until consultation and documents have copied the catalog's demo lawyers from its events (they
    assign work only to lawyers they have a copy of); RuntimeError after `seconds`."""
    deadline = time.monotonic() + seconds
    while behind := await lawyer_copies_behind(settings):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the catalog's demo lawyers never reached {', '.join(behind)}")
        await asyncio.sleep(0.3)
