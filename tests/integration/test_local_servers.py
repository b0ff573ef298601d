"""The local servers (deploy/local/servers.py) and the session fixtures, checked against the real servers."""

from __future__ import annotations

import os
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, GetSystemInfoRequest
from temporalio.client import Client

from deploy.local.servers import (
    NatsServer,
    PostgresServer,
    ServerStartError,
    TemporalDevServer,
    free_port,
    port_in_use,
)


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """Every (address, port) the process `pid` and its children listen on, over TCP (IPv4 and IPv6)."""
    root = psutil.Process(pid)
    return {
        (c.laddr.ip, c.laddr.port)
        for process in [root, *root.children(recursive=True)]
        for c in process.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# --- PostgreSQL ---------------------------------------------------------------------------------------


async def test_postgres_database_and_extensions(postgres_server: PostgresServer, unique_name: str) -> None:
    admin = await asyncpg.connect(postgres_server.dsn("postgres"))
    try:
        assert await admin.fetchval("SHOW max_connections") == "300"
        assert await admin.fetchval("SHOW fsync") == "off"
        assert await admin.fetchval("SHOW unix_socket_directories") == ""
        await admin.execute(f'CREATE DATABASE "{unique_name}"')
    finally:
        await admin.close()

    conn = await asyncpg.connect(postgres_server.dsn(unique_name))
    try:
        await conn.execute("CREATE EXTENSION btree_gist")
        await conn.execute("CREATE EXTENSION pg_trgm")
        names = {r["extname"] for r in await conn.fetch("SELECT extname FROM pg_extension")}
        assert {"btree_gist", "pg_trgm"} <= names
        # Both in use: an exclusion constraint over a scalar and a range, a trigram similarity.
        await conn.execute(
            "CREATE TABLE slot (lawyer int, during tstzrange,"
            " EXCLUDE USING gist (lawyer WITH =, during WITH &&))"
        )
        assert await conn.fetchval("SELECT similarity('contract', 'contracts') > 0.5")
        assert await conn.fetchval("SELECT upper('é')") == "É"  # builtin C.UTF-8 locale is Unicode-aware
    finally:
        await conn.close()


async def test_postgres_requires_the_password(postgres_server: PostgresServer) -> None:
    wrong = f"postgresql://{PostgresServer.SUPERUSER}:wrong@127.0.0.1:{postgres_server.port}/postgres"
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)


def test_postgres_port_in_use(tmp_path: Path, occupied_port: int) -> None:
    assert port_in_use(occupied_port)
    server = PostgresServer(tmp_path / "pg", occupied_port, durable=False)
    with pytest.raises(ServerStartError, match=f"port {occupied_port} is already in use \\(postgres\\)"):
        server.start()
    assert not server.is_running()
    assert not (tmp_path / "pg" / "pgdata").exists()  # failed before initdb


async def test_postgres_restart_keeps_data_and_password(postgres_dir: Path) -> None:
    # durable: with synchronous_commit=off a SIGKILL loses the commits still in the WAL buffers.
    server = PostgresServer(postgres_dir / "pg", free_port(), durable=True)
    try:
        server.start()
        url = server.url
        assert stat.S_IMODE(server.password_file.stat().st_mode) == 0o600
        conn = await asyncpg.connect(server.dsn())
        await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('first run')")
        await conn.close()

        server.stop()
        server.stop()  # idempotent
        assert not server.is_running()
        server.start()
        assert server.url == url
        conn = await asyncpg.connect(server.dsn())
        assert await conn.fetchval("SELECT v FROM kept") == "first run"
        await conn.execute("INSERT INTO kept VALUES ('second run')")
        await conn.close()

        # A killed run leaves a stale postmaster.pid behind; the next start must cope.
        pid = server.pid
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        server.stop()  # reaps the killed processes; postgres had no chance to clean up
        assert (server.pgdata / "postmaster.pid").exists()
        server.start()
        conn = await asyncpg.connect(server.dsn())
        assert await conn.fetchval("SELECT count(*) FROM kept") == 2
        await conn.close()

        # A second server on the same cluster while the first runs: refused with a clear message.
        other = PostgresServer(postgres_dir / "pg", free_port())
        with pytest.raises(ServerStartError, match=f"earlier run \\(pid {server.pid}\\)"):
            other.start()
        assert server.is_running()
    finally:
        server.stop()
    assert not server.is_running()


# --- NATS -----------------------------------------------------------------------------------------------


async def test_nats_jetstream_dedupes_by_msg_id(nats_server: NatsServer, unique_name: str) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        info = await js.add_stream(name=unique_name, subjects=[f"{unique_name}.>"])
        assert info.config.storage == "file"
        subject = f"{unique_name}.event"
        first = await js.publish(subject, b"one", headers={"Nats-Msg-Id": "evt-1"})
        second = await js.publish(subject, b"one", headers={"Nats-Msg-Id": "evt-1"})
        assert not first.duplicate
        assert second.duplicate
        assert second.seq == first.seq
        assert (await js.stream_info(unique_name)).state.messages == 1
        await js.delete_stream(unique_name)
    finally:
        await nc.close()


async def test_nats_restart_keeps_stream(tmp_path: Path, unique_name: str) -> None:
    server = NatsServer(tmp_path / "nats", free_port())
    try:
        server.start()
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name=unique_name, subjects=[f"{unique_name}.>"])
        await js.publish(f"{unique_name}.a", b"kept")
        await nc.close()

        server.stop()
        server.start()
        nc = await nats.connect(server.url)
        msg = await nc.jetstream().get_msg(unique_name, 1)
        assert msg.data == b"kept"
        await nc.close()
    finally:
        server.stop()


async def test_nats_listens_on_loopback_only_and_keeps_its_users_private(tmp_path: Path) -> None:
    """R-OPS-3: the local NATS (clients and monitoring) listens on 127.0.0.1 alone, and its configuration, which
    holds the users' passwords, is readable by its owner only — also when an older, readable one was there."""
    server = NatsServer(
        tmp_path / "nats",
        free_port(),
        authorization='authorization { users = [{"user": "only", "password": "secret-pw"}] }\n',
    )
    server.config_path.parent.mkdir(parents=True)
    server.config_path.write_text("# an older, world-readable config\n")
    server.config_path.chmod(0o644)
    try:
        server.start()
        assert stat.S_IMODE(server.config_path.stat().st_mode) == 0o600
        assert server.pid is not None
        listening = listening_addresses(server.pid)
        assert {port for _, port in listening} == {server.port, server.monitor_port}
        assert {address for address, _ in listening} == {"127.0.0.1"}
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(server.url, allow_reconnect=False, connect_timeout=2)
        nc = await nats.connect(server.url, user="only", password="secret-pw")
        await nc.close()
    finally:
        server.stop()


def test_nats_port_in_use(tmp_path: Path, occupied_port: int) -> None:
    server = NatsServer(tmp_path / "nats", occupied_port)
    with pytest.raises(ServerStartError, match=f"port {occupied_port} is already in use \\(nats-server\\)"):
        server.start()
    assert not server.is_running()


# --- Temporal -------------------------------------------------------------------------------------------


async def test_temporal_dev_server_answers(temporal_dev_server: TemporalDevServer) -> None:
    client = await Client.connect(temporal_dev_server.address, namespace="default")
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.server_version
    assert [wf async for wf in client.list_workflows("WorkflowType = 'NoSuchWorkflow'")] == []


async def test_temporal_extra_namespace_and_ui(tmp_path: Path) -> None:
    ui_port = free_port()
    server = TemporalDevServer(tmp_path / "temporal", free_port(), ui_port=ui_port, namespaces=["counsel"])
    try:
        server.start()
        assert port_in_use(ui_port)  # the Web UI listens
        # R-OPS-3: the dev server has no authentication, so it must be reachable from this machine only —
        # its frontend, UI, HTTP API, metrics and the internal services it starts.
        assert server.pid is not None
        listening = listening_addresses(server.pid)
        assert {server.port, ui_port} <= {port for _, port in listening}
        assert {address for address, _ in listening} == {"127.0.0.1"}
        client = await Client.connect(server.address, namespace="counsel")
        resp = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="counsel"))
        assert resp.namespace_info.name == "counsel"
    finally:
        server.stop()
    assert not server.is_running()
    assert not port_in_use(server.port)
