"""The `ha` tier on the whole platform (issue 19 items 1 and 6): `counsel up --ha` — PostgreSQL ×3 under
Patroni, etcd ×3, NATS ×3 with the event stream, its consumers and the buckets at replicas 3, the Temporal dev
server single — serves a client's journey; `counsel status --json` shows every node with its role; the NATS
node leading the event stream, killed (-9) under a stream of writes, costs no event; and the Temporal dev
server, killed (-9) and restarted by the supervisor on the same SQLite file, loses no workflow: an order's
running workflow carries on when the order is paid afterwards."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from deploy.local import faults
from deploy.local.ha import jsz, running_database_url, stream_messages
from deploy.local.launcher import StackProcess, replicated_stack_env
from services.runtime.config import SERVICE_NAMES
from services.runtime.db import asyncpg_dsn
from tests.support.journeys import (
    login,
    no_5xx,
    order_consultation,
    pay_with_sandbox,
    register_by_sms,
    wait_for,
)
from workflows.shared import order_workflow_id

NAME = "haplatform"
STREAM = NAME.upper()


@pytest.fixture(scope="module")
def platform() -> Iterator[StackProcess]:
    # Outside pytest's basetemp, as the PostgreSQL tests keep theirs: the unprivileged PostgreSQL user must
    # traverse every folder above its data, and a concurrent root session makes /tmp/pytest-of-root private.
    data_dir = Path(tempfile.mkdtemp(prefix="counsel-test-ha-platform-"))
    running = StackProcess.replicated(
        replicated_stack_env(NAME, data_dir, secrets.token_urlsafe(48)), data_dir
    )
    try:
        running.start(timeout=300)
        yield running
    finally:
        if running.running():
            running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def http(platform: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.base_url, timeout=30, event_hooks={"response": [no_5xx]}) as client:
        yield client


def _healthy(platform: StackProcess) -> dict[str, Any] | None:
    code, status = platform.status()
    return status if code == 0 else None


def _order_paid_through_the_sandbox(http: httpx.Client, client: dict[str, str]) -> str:
    """A consultation order paid with the sandbox; returns its id once it is in service."""
    order_id = order_consultation(http, client)
    pay_with_sandbox(http, client, order_id)
    return order_id


def test_status_shows_every_node_of_every_cluster_with_its_role(platform: StackProcess) -> None:
    status = wait_for(lambda: _healthy(platform), timeout=60)
    postgres = status["postgres"]
    assert [n["name"] for n in postgres] == ["postgres-1", "postgres-2", "postgres-3"]
    assert sorted(n["role"] for n in postgres) == ["primary", "replica", "replica"]
    assert sum(n["sync"] for n in postgres) == 1  # strict synchronous mode: one synchronous standby
    for node in postgres:
        assert {"name", "role", "pid", "port", "lag_bytes"} <= set(node) and node["pid"]
    nats = status["nats"]
    assert [n["name"] for n in nats] == ["nats-1", "nats-2", "nats-3"]
    assert sum(STREAM in n["leader_of"] for n in nats) == 1
    assert sorted(n["role"] for n in status["etcd"]).count("leader") == 1
    assert status["temporal"]["pid"] and Path(status["temporal"]["db_file"]).exists()
    assert {s["name"] for s in status["services"]} >= {*SERVICE_NAMES, "worker", "gateway"}

    # Everything on JetStream is at replicas 3: the stream, each durable consumer (inherited), the buckets.
    report = jsz(_monitor(platform, "nats-1"), "?accounts=true&streams=true&consumers=true&config=true")
    assert report is not None
    streams = {s["name"]: s for a in report["account_details"] for s in a["stream_detail"]}
    assert set(streams) == {STREAM, "OBJ_documents", "OBJ_invoices", "OBJ_exports", "OBJ_qualifications"}
    for stream in streams.values():
        assert stream["config"]["num_replicas"] == 3, stream["name"]
    consumers = streams[STREAM]["consumer_detail"]
    assert consumers and all(len(c["cluster"]["replicas"]) == 2 for c in consumers)


def _monitor(platform: StackProcess, node: str) -> str:
    return str(faults.state_of(platform.data_dir)["servers"][node]["monitor"])


def test_a_client_registers_orders_and_pays_on_the_replicated_platform(http: httpx.Client) -> None:
    _, account = register_by_sms(http, "高可用科技有限公司")
    client = {"Authorization": f"Bearer {account['access_token']}"}
    order_id = _order_paid_through_the_sandbox(http, client)
    timeline = http.get(f"/api/v1/orders/{order_id}/timeline", headers=client).json()["stages"]
    assert [s["stage"] for s in timeline if s["status"] == "done"][:2] == ["pending_payment", "paid"]


async def _outbox(database_url: str) -> tuple[int, int]:
    """Every event the services have committed (each service's outbox): (rows, rows not yet published)."""
    rows = unpublished = 0
    for service in SERVICE_NAMES:
        conn = await asyncpg.connect(asyncpg_dsn(database_url, f"{NAME}_{service}"))
        try:
            counts = await conn.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox"
            )
        finally:
            await conn.close()
        rows += counts[0]
        unpublished += counts[1]
    return rows, unpublished


def test_killing_the_stream_leader_under_writes_loses_no_event(
    platform: StackProcess, http: httpx.Client
) -> None:
    """Registrations through the gateway, each committing events to identity's outbox, while the NATS node
    leading the event stream is killed: every event reaches the stream once (the stream deduplicates a
    re-sent one by its id), none is lost, and the supervisor brings the node back as a follower."""
    database_url = running_database_url(platform.data_dir)
    killed = ""
    for write in range(10):  # a registration is several writes and events; the OTP limit allows ten
        register_by_sms(http, f"流测试{write}")
        if write == 2:
            killed = faults.kill_stream_leader(faults.state_of(platform.data_dir), STREAM)
    assert killed

    def settled() -> bool:
        committed, unpublished = asyncio.run(_outbox(database_url))
        return unpublished == 0 and stream_messages(faults.state_of(platform.data_dir), STREAM) == committed

    wait_for(settled, timeout=90)
    status = wait_for(lambda: _healthy(platform), timeout=90)
    restarted = {n["name"]: n["restarts"] for n in status["nats"]}
    assert restarted[killed] == 1


async def _workflow_ids(address: str) -> set[str]:
    client = await Client.connect(address)
    return {execution.id async for execution in client.list_workflows()}


def test_kill_9_of_the_temporal_dev_server_loses_no_workflow(
    platform: StackProcess, http: httpx.Client
) -> None:
    client = login(http, "client@demo.counsel.test")
    waiting = order_consultation(http, client)  # its workflow runs, waiting for the payment
    address = f"127.0.0.1:{platform.env['COUNSEL_LOCAL_TEMPORAL_PORT']}"

    def started() -> set[str] | None:
        ids = asyncio.run(_workflow_ids(address))
        return ids if order_workflow_id(waiting) in ids else None

    before = wait_for(started)
    killed = faults.kill_process(faults.state_of(platform.data_dir), "temporal")

    def restarted() -> dict[str, Any] | None:
        status = _healthy(platform)
        return status if status and status["temporal"]["restarts"] == 1 else None

    wait_for(restarted, timeout=90)
    assert killed == "temporal"
    assert before <= asyncio.run(_workflow_ids(address))  # every workflow is still there
    pay_with_sandbox(http, client, waiting)  # the running workflow carries on: voucher, invoice, in service
