"""`make recovery` (issue 19 item 5): what `counsel backup` / `counsel restore` cost, on real servers.

PostgreSQL (archiving its WAL, as `counsel up` runs it), NATS and the Temporal dev server start in a scratch
folder; every service's database is migrated and the demo data loaded; a backup set is taken; then 10,000
orders are written, which a restore must replay from the WAL archive. It reports:

* RPO — the archive lag: how old the newest commit not yet in the WAL archive gets, sampled under the order
  load (segments fill and are archived quickly) and measured exactly once the platform is idle (bounded by
  ``archive_timeout``);
* RTO — `restore` to the last archived commit into a fresh folder (copying the set, replaying the WAL,
  promoting), then the restored PostgreSQL started and every order counted.

Results go to bench/results/recovery-<date>-<commit>.{md,json} in the benchmarks' shape. Never part of
`make test`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.harness import Figure
from bench.run import RESULTS, write_results
from deploy.local.backup import (
    ARCHIVE_TIMEOUT_SECONDS,
    BackupSources,
    PostgresSource,
    archive_settings,
    backups_dir,
    last_archived_commit,
    prepare_archive,
    restore,
    take_backup,
    wal_archive,
)
from deploy.local.bootstrap import migrate_all, provision_bus, seed_all
from deploy.local.servers import NatsServer, PostgresServer, TemporalDevServer, free_port
from services.payment import domain
from services.payment.models import DATA_KEYS, TABLES
from services.payment.store import PaymentStores
from services.runtime.config import Settings, load_settings
from services.runtime.context import Principal
from services.runtime.db import Database, asyncpg_dsn
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from tests.support.factories import DOCUMENT_PRODUCT

NAME = "recovery"
CLIENT = Principal(user_id="recovery-client", tenant_id="recovery-tenant", roles=frozenset({"client"}))
CONCURRENCY = 16


async def _write_orders(settings: Settings, count: int) -> None:
    db = Database(settings.database_dsn("payment"), pool_size=CONCURRENCY)
    stores = PaymentStores.build(
        db, Outbox("payment", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
    )
    remaining = iter(range(count))

    async def writer() -> None:
        for _ in remaining:
            new = domain.new_order(DOCUMENT_PRODUCT, "std", {}, {})
            await stores.orders.create(CLIENT, new, domain.DEFAULT_PAY_WITHIN, "", "")

    try:
        await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))
    finally:
        await db.close()


async def _archive_lag_under(load: asyncio.Task[None], postgres: PostgresServer) -> float:
    """The largest `now - last archived segment's time` seen while `load` runs (sampled each second): how
    much a machine lost at that moment would have cost at most."""
    conn = await asyncpg.connect(postgres.dsn())
    worst = 0.0
    try:
        while not load.done():
            lag = await conn.fetchval(
                "SELECT extract(epoch FROM now() - coalesce(last_archived_time, now())) FROM pg_stat_archiver"
            )
            worst = max(worst, float(lag))
            await asyncio.sleep(1)
    finally:
        await conn.close()
    await load
    return worst


async def _idle_archive_lag(postgres: PostgresServer, archive: Path) -> float:
    """One commit on an otherwise idle server, and how long until the archive holds it."""
    conn = await asyncpg.connect(postgres.dsn())
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS recovery_probe (at timestamptz)")
        committed = await conn.fetchval(
            "INSERT INTO recovery_probe VALUES (now()) RETURNING clock_timestamp()"
        )
    finally:
        await conn.close()
    clock = time.monotonic()
    deadline = clock + 3 * ARCHIVE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        archived = last_archived_commit(archive)
        if archived is not None and archived >= committed:
            return time.monotonic() - clock
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the commit of {committed} did not reach the archive in {deadline - clock:.0f} s")


async def run_recovery(orders: int, results: Path) -> Path:
    root = Path(tempfile.mkdtemp(prefix="counsel-recovery-"))
    backups = backups_dir(root)
    archive = wal_archive(backups)
    prepare_archive(archive)
    postgres = PostgresServer(root / "postgres", free_port(), parameters=archive_settings(archive))
    bus = NatsServer(root / "nats", free_port())
    temporal = TemporalDevServer(root / "temporal", free_port())
    figures: list[Figure] = []
    try:
        with contextlib.ExitStack() as servers:
            for server in (postgres, bus, temporal):
                servers.callback(server.stop)
                server.start()
            settings = load_settings(
                env="dev",
                database_url=postgres.url,
                nats_url=bus.url,
                temporal_address=temporal.address,
                secret_key=secrets.token_urlsafe(48),
            )
            await migrate_all(settings)
            await provision_bus(settings)
            await seed_all(settings)
            print("demo data loaded; taking a backup set …", flush=True)
            clock = time.monotonic()
            manifest = take_backup(
                BackupSources(
                    PostgresSource(postgres.host, postgres.port, postgres.SUPERUSER, postgres.password),
                    nats={"nats": (bus.pid, bus.store_dir)},
                    temporal_db=temporal.db_path,
                    files={"postgres/postgres.password": postgres.password_file},
                ),
                backups,
            )
            backup_seconds = time.monotonic() - clock
            print(f"writing {orders:,} orders …", flush=True)
            clock = time.monotonic()
            load_lag = await _archive_lag_under(
                asyncio.create_task(_write_orders(settings, orders)), postgres
            )
            write_seconds = time.monotonic() - clock
            print("measuring the archive lag of an idle server …", flush=True)
            idle_lag = await _idle_archive_lag(postgres, archive)
            target = last_archived_commit(archive)
            assert target is not None
        print(f"restoring to {target.isoformat()} …", flush=True)
        into = root / "restored"
        report = restore(backups, target, into)
        restored = PostgresServer(into / "postgres", free_port())
        clock = time.monotonic()
        with restored:
            restored.start()
            conn = await asyncpg.connect(asyncpg_dsn(restored.url, settings.database_name("payment")))
            try:
                counted = await conn.fetchval(
                    "SELECT count(*) FROM orders WHERE tenant_id = $1", CLIENT.tenant_id
                )
            finally:
                await conn.close()
        start_seconds = time.monotonic() - clock
        if counted != orders:
            raise RuntimeError(f"the restore holds {counted} of the {orders} orders")
        set_bytes = manifest["postgres"]["bytes"] + manifest.get("nats", {}).get("bytes", 0)
        set_bytes += manifest.get("temporal", {}).get("bytes", 0)
        archived_bytes = sum(path.stat().st_size for path in archive.iterdir())
        figures = [
            Figure(
                NAME,
                "RPO: archive lag under the order load (worst sample)",
                load_lag,
                "s",
                target=f"≤ {ARCHIVE_TIMEOUT_SECONDS} s",
                note=f"{orders:,} orders in {write_seconds:.0f} s, {CONCURRENCY} writers; sampled each second",
            ),
            Figure(
                NAME,
                "RPO: archive lag of one commit on an idle server",
                idle_lag,
                "s",
                target=f"≤ {ARCHIVE_TIMEOUT_SECONDS} s",
                note=f"archive_timeout {ARCHIVE_TIMEOUT_SECONDS} s closes the segment",
            ),
            Figure(
                NAME,
                f"RTO: counsel restore (demo data + {orders:,} orders) to the last archived commit",
                report.seconds,
                "s",
                note=f"of which PostgreSQL recovery (WAL replay, promotion) {report.postgres_seconds:.1f} s; "
                f"backup set {set_bytes / 2**20:.0f} MiB, WAL archive {archived_bytes / 2**20:.0f} MiB",
            ),
            Figure(
                NAME,
                "RTO: restored PostgreSQL started and every order counted",
                start_seconds,
                "s",
                note=f"{counted:,} orders found",
            ),
            Figure(
                NAME,
                "counsel backup (demo data)",
                backup_seconds,
                "s",
                note=f"nats-server paused {manifest['nats']['paused_seconds'] * 1000:.0f} ms for its copy",
            ),
        ]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    environment = {
        "orders": orders,
        "archive_timeout_s": ARCHIVE_TIMEOUT_SECONDS,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "topology": "single server (counsel up)",
    }
    return write_results(figures, False, environment, results, prefix=f"{NAME}-")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    path = asyncio.run(run_recovery(args.orders, args.results_dir))
    print(f"\nresults: {path}\n{path.read_text()}")


if __name__ == "__main__":
    main()
