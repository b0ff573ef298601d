"""Databases, migrations, the event bus and demo data: what a fresh platform needs before its processes start."""

from __future__ import annotations

from deploy.nats_auth import service_consumers
from services.catalog.seed import seed_demo as seed_catalog
from services.catalog.store import CatalogStore
from services.consultation.models import TABLES as CONSULTATION_TABLES
from services.consultation.seed import demo_lawyers as demo_consultation_lawyers
from services.consultation.seed import seed_demo as seed_consultation
from services.consultation.store import ConsultationStore
from services.documents.files import DocumentFiles
from services.documents.models import TABLES as DOCUMENTS_TABLES
from services.documents.seed import seed_staff as seed_documents_staff
from services.documents.store import DocumentsStore
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


async def migrate_all(settings: Settings) -> None:
    """Create each service's database if missing and bring it to the latest migration."""
    for service in SERVICE_NAMES:
        await ensure_database(settings.database_url, settings.database_name(service))
        await migrate(service, settings.database_dsn(service))


async def provision_bus(settings: Settings) -> None:
    """Create on NATS what the services use but may not create themselves once NATS authorization is on
    (deploy/nats_auth.py): the event stream, the documents and invoices buckets, and every service's durable
    consumers over the subjects its events.py table declares (a changed table updates them). Idempotent; runs
    as the `migrate` user (`counsel migrate`, and `counsel up` before it starts any process)."""
    bus = await EventBus.connect(settings, name="counsel-migrate")  # creates the stream when it is missing
    try:
        await DocumentFiles.open(bus.js, settings.object_store_replicas)
        await ObjectStoreInvoices(bus.js, replicas=settings.object_store_replicas).store()
        for service in SERVICE_NAMES:
            for name, subjects in service_consumers(service).items():
                await ensure_consumer(
                    bus, consumer_config(settings.subject_root, f"{service}-{name}", subjects)
                )
    finally:
        await bus.close()


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
            DocumentsStore(documents_db, Outbox("documents", settings, DOCUMENTS_TABLES)),
            demo_consultation_lawyers([demo_user_id(email) for email in LAWYER_EMAILS]),
            [demo_user_id(demo_email("reviewer"))],
        )
        # The consultation's lawyer projection, until the catalog publishes lawyer profiles as events.
        await seed_consultation(
            ConsultationStore(consultation_db, Outbox("consultation", settings, CONSULTATION_TABLES)),
            [demo_user_id(email) for email in LAWYER_EMAILS],
        )
    finally:
        await documents_db.close()
        await consultation_db.close()
        await catalog_db.close()
        await identity_db.close()
