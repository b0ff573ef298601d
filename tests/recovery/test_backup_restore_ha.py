"""`counsel backup` and `counsel restore` on the replicated topology (issue 19): `counsel up --ha` takes its first
backup set at start (none exists yet: the schedule), its base backup from a replica; `counsel status` shows it
and the WAL archive lag; a restore to a moment between two orders, into a fresh folder started with
`counsel up --ha` on other ports (PostgreSQL ×3 again, node 1 on the recovered data and the others cloned from
it; the NATS nodes on their restored stores), has the first order and not the second, and its ledger
verifies."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from deploy.local import faults
from deploy.local.backup import backup_sets, backups_dir
from deploy.local.backup_schedule import backup_status
from deploy.local.ha import cluster_members, running_database_url
from deploy.local.launcher import StackProcess, replicated_stack_env
from services.payment.tools import verify_ledger
from services.runtime.config import load_settings
from services.runtime.db import asyncpg_dsn
from tests.support.journeys import login, order_consultation, pay_with_sandbox, wait_for

NAME = "habackup"


async def _archive_current_wal(database_url: str) -> None:
    """Close the primary's current WAL segment and wait until the archive holds it."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        segment = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        for _ in range(600):
            archived = await conn.fetchval("SELECT last_archived_wal FROM pg_stat_archiver")
            if archived is not None and archived >= segment:
                return
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError(f"segment {segment} not archived")


# Two starts of the replicated platform, a backup and a restore: longer than one test's default.
@pytest.mark.timeout(1500)
def test_the_replicated_platform_restored_to_a_moment_between_two_orders() -> None:
    # Outside pytest's basetemp: the unprivileged PostgreSQL user must traverse every folder above its data.
    root = Path(tempfile.mkdtemp(prefix="counsel-test-ha-backup-"))
    secret_key = secrets.token_urlsafe(48)
    original = StackProcess.replicated(
        replicated_stack_env(NAME, root / "original", secret_key), root / "original"
    )
    restored = StackProcess.replicated(
        replicated_stack_env(NAME, root / "restored", secret_key), root / "restored"
    )
    original.data_dir.mkdir()
    try:
        original.start(timeout=300)
        backups = backups_dir(original.data_dir)
        (first_set,) = wait_for(lambda: backup_sets(backups) or None, timeout=300)
        assert first_set["replicated"] and "replica" in first_set["postgres"]["source"], first_set
        assert first_set["nats"]["stores"] == ["ha/nats-1", "ha/nats-2", "ha/nats-3"]
        with httpx.Client(base_url=original.base_url, timeout=30) as http:
            client = login(http, "client@demo.counsel.test")
            first = order_consultation(http, client)
            pay_with_sandbox(http, client, first)
            time.sleep(0.5)
            target = datetime.now(UTC)
            time.sleep(0.5)
            second = order_consultation(http, client)
            pay_with_sandbox(http, client, second)
        asyncio.run(_archive_current_wal(running_database_url(original.data_dir)))
        shown = backup_status(original.data_dir)  # what `counsel status` shows of the backups
        assert shown["sets"] == 1 and shown["last"] == first_set["label"]
        assert shown["archive_lag_seconds"] is not None
        original.stop()

        restoring = subprocess.run(
            [
                sys.executable,
                "-m",
                "deploy.cli",
                "restore",
                "--to",
                target.isoformat(),
                "--into",
                str(restored.data_dir),
            ],
            env=original.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert restoring.returncode == 0, restoring.stderr
        assert f"COUNSEL_DATA_DIR={restored.data_dir} counsel up --ha" in restoring.stdout

        restored.start(timeout=300)
        with httpx.Client(base_url=restored.base_url, timeout=30) as http:
            client = login(http, "client@demo.counsel.test")
            assert http.get(f"/api/v1/orders/{first}", headers=client).json()["status"] == "in_service"
            assert http.get(f"/api/v1/orders/{second}", headers=client).status_code == 404
        database_url = running_database_url(restored.data_dir)
        settings = load_settings(env="test", database_url=database_url, database_prefix=NAME)
        assert asyncio.run(verify_ledger(settings)) == 0
        # Three PostgreSQL nodes again: node 1 on the recovered data leads, the other two cloned it.
        rest_urls = [
            s["rest_url"] for s in faults.state_of(restored.data_dir)["servers"].values() if "rest_url" in s
        ]
        members = cluster_members(rest_urls)
        assert sorted(m["role"] for m in members) == ["leader", "replica", "sync_standby"], members
    finally:
        for stack in (original, restored):
            if stack.running():
                stack.stop()
        shutil.rmtree(root, ignore_errors=True)
