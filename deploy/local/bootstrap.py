"""Databases, migrations, the event bus and demo data: what a fresh platform needs before its processes start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deploy.nats_auth import service_consumers
from services.catalog.seed import seed_demo as seed_catalog
from services.catalog.store import CatalogStore
from services.consultation.models import TABLES as CONSULTATION_TABLES
from services.consultation.seed import demo_lawyers as demo_consultation_lawyers
from services.consultation.seed import seed_demo as seed_consultation
from services.consultation.store import ConsultationStores
from services.documents.files import BUCKET as DOCUMENTS_BUCKET
from services.documents.files import DocumentFiles
from services.documents.models import TABLES as DOCUMENTS_TABLES
from services.documents.seed import seed_staff as seed_documents_staff
from services.documents.store import DocumentsStores
from services.identity.config import IdentitySettings
from services.identity.models import TABLES as IDENTITY_TABLES
from services.identity.seed import LAWYER_EMAILS, demo_email, demo_user_id
from services.identity.seed import seed_demo as seed_identity
from services.identity.store import IdentityStores
from services.payment.invoices import ObjectStoreInvoices
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database, ensure_database
from services.runtime.events import EventBus, Outbox, consumer_config, ensure_consumer
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
    (deploy/nats_auth.py): the event stream, the documents and invoices buckets, and every service's durable
    consumers over the subjects its events.py table declares (a changed table updates them). Idempotent; runs
    as the `migrate` user (`counsel migrate`, and `counsel up` before it starts any process)."""
    bus = await EventBus.connect(settings, name="counsel-migrate")  # creates the stream when it is missing
    consumers = 0
    try:
        await DocumentFiles.open(bus.js, settings.jetstream_replicas)
        invoices = ObjectStoreInvoices(bus.js, replicas=settings.jetstream_replicas)
        await invoices.store()
        for service in SERVICE_NAMES:
            for name, subjects in service_consumers(service).items():
                await ensure_consumer(
                    bus, consumer_config(settings.subject_root, f"{service}-{name}", subjects)
                )
                consumers += 1
    finally:
        await bus.close()
    return BusProvisioned(
        bus.stream, settings.jetstream_replicas, [DOCUMENTS_BUCKET, invoices.bucket], consumers
    )


async def seed_all(settings: Settings) -> None:
    """Load the demo data of API.md into each owning service's database (idempotent)."""
    catalog_db = Database(settings.database_dsn("catalog"), pool_size=1)
    identity_db = Database(settings.database_dsn("identity"), pool_size=1)
    documents_db = Database(settings.database_dsn("documents"), pool_size=1)
    consultation_db = Database(settings.database_dsn("consultation"), pool_size=1)
    try:
        await seed_catalog(CatalogStore(catalog_db))
        # Seed events wait in identity's outbox until identity's relay publishes them.
        outbox = Outbox("identity", settings, IDENTITY_TABLES)
        identity = IdentityStores.build(
            identity_db, outbox, FieldCipher(settings.secret_key), IdentitySettings.from_settings(settings)
        )
        await seed_identity(identity.accounts)
        # The demo lawyers documents assigns by legal field, and the demo reviewer's licence (§9.5).
        await seed_documents_staff(
            DocumentsStores.build(documents_db, Outbox("documents", settings, DOCUMENTS_TABLES)).staff,
            demo_consultation_lawyers([demo_user_id(email) for email in LAWYER_EMAILS]),
            [demo_user_id(demo_email("reviewer"))],
        )
        # The consultation's lawyer projection, until the catalog publishes lawyer profiles as events.
        await seed_consultation(
            ConsultationStores.build(
                consultation_db, Outbox("consultation", settings, CONSULTATION_TABLES)
            ).lawyers,
            [demo_user_id(email) for email in LAWYER_EMAILS],
        )
    finally:
        await documents_db.close()
        await consultation_db.close()
        await catalog_db.close()
        await identity_db.close()
