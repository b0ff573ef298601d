"""Backups and point-in-time recovery (deploy/local/backup.py, issue 19 item 5) against real servers: a
PostgreSQL archiving its WAL, a NATS server and the Temporal dev server are backed up; a restore to a moment
between two paid orders finds the first and not the second, with the payment ledger intact, and brings back
the JetStream stream and the Temporal database of the backup set. Misuse is refused with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from counsel.payment.v1 import payment_service_pb2 as pb
from deploy.local.backup import (
    BackupError,
    BackupSources,
    PostgresSource,
    archive_settings,
    backups_dir,
    prepare_archive,
    restore,
    take_backup,
    wal_archive,
)
from deploy.local.servers import NatsServer, PostgresServer, TemporalDevServer, free_port
from services.payment import domain
from services.payment.config import PaymentSettings
from services.payment.models import DATA_KEYS, TABLES
from services.payment.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, notification_body
from services.payment.server import PaymentServicer
from services.payment.store import PaymentStores
from services.payment.vouchers import VoucherSigner
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from tests.support.factories import DOCUMENT_PRODUCT
from tests.support.platform import isolated_settings, migrated_databases

CLIENT = Principal(user_id="u1", tenant_id="t1", roles=frozenset({"client"}))


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Outside pytest's basetemp, which a concurrent session as root makes private to the postgres user."""
    folder = Path(tempfile.mkdtemp(prefix="counsel-test-backup-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Payments:
    def __init__(self, db: Database, settings: PaymentSettings) -> None:
        self.stores = PaymentStores.build(
            db, Outbox("payment", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
        )
        self.sandbox = SandboxProvider(Ed25519PrivateKey.generate(), "http://127.0.0.1:8000")
        self.servicer = PaymentServicer(
            self.stores,
            None,  # type: ignore[arg-type]
            {"sandbox": self.sandbox},
            VoucherSigner("s" * 32),
            settings,
        )

    async def paid_order(self) -> str:
        new = domain.new_order(DOCUMENT_PRODUCT, "", {}, {})
        order_id = (
            await self.stores.orders.create(CLIENT, new, domain.DEFAULT_PAY_WITHIN, "", "")
        ).view.row.id
        checkout = lambda payment_id, order: self.sandbox.checkout(payment_id, 0, "CNY", "", "", None)  # type: ignore[arg-type]  # noqa: E731
        payment = await self.stores.payments.create(CLIENT, order_id, "sandbox", checkout, "")
        body = notification_body(
            f"n-{payment.id}", payment.id, "SBX1", 99900, "CNY", "SUCCESS", "2026-11-29T08:00:00+00:00"
        )
        reply = await self.servicer.HandleNotification(
            pb.HandleNotificationRequest(
                provider="sandbox", headers={SIGNATURE_HEADER: self.sandbox.sign(body)}, body=body
            ),
            None,  # type: ignore[arg-type]
        )
        assert reply.outcome == "applied"
        return order_id


async def _archive_current_wal(db: Database) -> None:
    """Close the current WAL segment and wait until the archiver has copied it."""
    async with db.transaction() as session:
        segment = (await session.execute(text("SELECT pg_walfile_name(pg_switch_wal())"))).scalar()
    for _ in range(200):
        async with db.transaction() as session:
            archived = (
                await session.execute(text("SELECT last_archived_wal FROM pg_stat_archiver"))
            ).scalar()
        if archived is not None and archived >= segment:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"segment {segment} not archived")


async def test_restore_to_a_moment_between_two_orders(
    data_dir: Path, temporal_dev_server: TemporalDevServer, unique_name: str
) -> None:
    backups = backups_dir(data_dir)
    prepare_archive(wal_archive(backups))
    postgres = PostgresServer(
        data_dir / "postgres", free_port(), parameters=archive_settings(wal_archive(backups))
    )
    bus = NatsServer(data_dir / "nats", free_port())
    restored_postgres: PostgresServer | None = None
    restored_bus: NatsServer | None = None
    with contextlib.ExitStack() as servers:
        for server in (postgres, bus):
            servers.callback(server.stop)
            server.start()
        settings = isolated_settings(
            postgres, name=unique_name, settings_type=PaymentSettings, secret_key=secrets.token_urlsafe(32)
        )
        nc = await nats.connect(bus.url)
        await nc.jetstream().add_stream(name="COUNSEL", subjects=["counsel.>"])
        await nc.jetstream().publish("counsel.payment.order.paid", b"before the backup")
        await nc.close()
        async with migrated_databases(settings, "payment") as databases:
            payments = Payments(databases["payment"], settings)
            manifest = take_backup(
                BackupSources(
                    PostgresSource(postgres.host, postgres.port, postgres.SUPERUSER, postgres.password),
                    nats={"nats": (bus.pid, bus.store_dir)},
                    temporal_db=temporal_dev_server.db_path,
                    files={"postgres/postgres.password": postgres.password_file},
                ),
                backups,
                say=lambda line: None,
            )
            first = await payments.paid_order()
            # As the relay would: its events reach the live stream, not the one in the backup set.
            async with databases["payment"].transaction() as session:
                await session.execute(text("UPDATE outbox SET published_at = now()"))
            await asyncio.sleep(0.3)
            target = datetime.now(UTC)
            await asyncio.sleep(0.3)
            second = await payments.paid_order()
            await _archive_current_wal(databases["payment"])

        assert manifest["nats"]["paused_seconds"] < 5
        occupied = data_dir / "occupied"
        (occupied / "something").mkdir(parents=True)
        with pytest.raises(BackupError, match="is not empty"):
            restore(backups, target, occupied, say=lambda line: None)
        consistent_at = datetime.fromisoformat(manifest["consistent_at"])
        for outside in (consistent_at - timedelta(minutes=5), datetime.now(UTC) + timedelta(minutes=5)):
            with pytest.raises(BackupError, match=f"cover {manifest['consistent_at']} .* to 20"):
                restore(backups, outside, data_dir / "restored", say=lambda line: None)
        assert not (data_dir / "restored").exists()

        report = restore(backups, target, data_dir / "restored", say=lambda line: None)
        assert report.backup_set == manifest["label"]

        restored_postgres = PostgresServer(data_dir / "restored" / "postgres", free_port())
        restored_bus = NatsServer(data_dir / "restored" / "nats", free_port())
        for server in (restored_postgres, restored_bus):
            servers.callback(server.stop)
            server.start()
        restored = settings.model_copy(update={"database_url": restored_postgres.url})
        async with migrated_databases(restored, "payment") as databases:
            stores = Payments(databases["payment"], restored).stores
            assert (await stores.orders.get(CLIENT, first)).row.status == "paid"
            with pytest.raises(NotFound):
                await stores.orders.get(CLIENT, second)
            ledger = await stores.ledger.verify()
            assert ledger.valid and ledger.checked >= 1
            async with databases["payment"].transaction() as session:
                unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                assert (await session.execute(text(unpublished))).scalar_one() > 0
                published = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
                assert (await session.execute(text(published))).scalar() == 0
        nc = await nats.connect(restored_bus.url)
        assert (await nc.jetstream().get_msg("COUNSEL", 1)).data == b"before the backup"
        await nc.close()
        with contextlib.closing(sqlite3.connect(data_dir / "restored" / "temporal" / "temporal.db")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
