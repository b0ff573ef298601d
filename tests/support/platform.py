"""The platform in tests, from its pieces up to all of it.

In this process, on the session's shared servers (tests/conftest.py): `isolated_settings` gives a test its
own databases, stream and subjects; `migrated_databases` creates and migrates services' databases with
their real Alembic revisions; `serving` runs a servicer on a real gRPC server (mutual TLS, the policy, the
interceptors); `catalog_service` is the catalog with its demo content, which several services read;
`gateway_clients` puts stubs (or fakes) behind the gateway app; `serving_in_process` runs services by their
own `serve`, as `counsel up` runs each in a process. As child processes: `running_platform`, the whole
platform started by `counsel up`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import grpc
import uvicorn
from temporalio.client import Client

from counsel.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc
from counsel.consultation.v1 import consultation_service_pb2, consultation_service_pb2_grpc
from counsel.identity.v1 import identity_service_pb2
from deploy.local.launcher import StackProcess, stack_env
from deploy.local.servers import NatsServer, PostgresServer, TemporalDevServer, free_port
from services.catalog.files import QualificationFiles
from services.catalog.models import DATA_KEYS as CATALOG_DATA_KEYS
from services.catalog.models import TABLES as CATALOG_TABLES
from services.catalog.seed import seed_demo
from services.catalog.server import CatalogServicer
from services.catalog.store import CatalogStores
from services.gateway.clients import Clients
from services.runtime.auth import TokenVerifier
from services.runtime.config import Settings, load_settings
from services.runtime.db import Database, ensure_database
from services.runtime.events import Outbox
from services.runtime.grpc_client import open_channel
from services.runtime.grpc_server import GrpcServer
from services.runtime.keys import DataKeys, master_key
from services.runtime.migrations import migrate
from services.runtime.pki import TlsMaterial
from services.runtime.service import cancel_all
from services.runtime.temporal import data_converter

SettingsT = TypeVar("SettingsT", bound=Settings)


def isolated_settings(
    postgres: PostgresServer,
    nats: NatsServer | None = None,
    *,
    name: str = "",
    settings_type: type[SettingsT] = Settings,  # type: ignore[assignment]
    **overrides: Any,
) -> SettingsT:
    """Test settings whose databases (`<name>_<service>`), JetStream stream and subject root are the test's
    own on the shared servers; `name` is a fresh one unless given. `settings_type` is the settings class (a
    service's own, e.g. PaymentSettings); `overrides` are further settings."""
    name = name or f"t{secrets.token_hex(5)}"
    values: dict[str, Any] = {
        "env": "test",
        "database_url": postgres.url,
        "database_prefix": name,
        "subject_root": name,
    }
    if nats is not None:
        values |= {"nats_url": nats.url, "nats_stream": name.upper()}
    return settings_type(**values | overrides)


async def migrate_databases(settings: Settings, *services: str) -> None:
    """Create each service's database and migrate it to head with its real Alembic revisions."""
    for service in services:
        await ensure_database(settings.database_url, settings.database_name(service))
        await migrate(service, settings.database_dsn(service))


@contextlib.asynccontextmanager
async def migrated_databases(
    settings: Settings, *services: str, pool_size: int = 5
) -> AsyncIterator[dict[str, Database]]:
    """Each service's database, migrated to head and open for the block: service name → Database."""
    await migrate_databases(settings, *services)
    databases = {
        service: Database(settings.database_dsn(service), pool_size=pool_size) for service in services
    }
    try:
        yield databases
    finally:
        for database in databases.values():
            await database.close()


@contextlib.asynccontextmanager
async def serving(
    service: str,
    servicer: Any,
    messages: ModuleType,
    stubs: ModuleType,
    verifier: TokenVerifier,
    tls: TlsMaterial,
) -> AsyncIterator[str]:
    """`servicer` on a real gRPC server of `service` on a free loopback port, for the block; yields its
    address."""
    server = GrpcServer(service, "127.0.0.1:0", verifier, tls)
    server.add(servicer, messages, stubs)
    port = await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=0.5)


@contextlib.asynccontextmanager
async def consultation_channel(
    servicer: Any, verifier: TokenVerifier, pki: Callable[[str], TlsMaterial]
) -> AsyncIterator[grpc.aio.Channel]:
    """Consultation's `servicer` served as `serving` does, and the gateway's channel to it, for the block."""
    async with (
        serving(
            "consultation",
            servicer,
            consultation_service_pb2,
            consultation_service_pb2_grpc,
            verifier,
            pki("consultation"),
        ) as address,
        open_channel(address, pki("gateway"), default_timeout=10.0) as channel,
    ):
        yield channel


def catalog_stores(
    database: Database, settings: Settings, files: QualificationFiles | None = None
) -> CatalogStores:
    """The catalog's stores over `database`, sealing with the data keys under `settings`' master key (its
    secret key stands in: the settings need one)."""
    keys = DataKeys(database, master_key(settings), CATALOG_DATA_KEYS)
    return CatalogStores.build(database, Outbox("catalog", settings, CATALOG_TABLES), keys, files)


@contextlib.asynccontextmanager
async def catalog_service(
    settings: Settings, verifier: TokenVerifier, tls: TlsMaterial, files: QualificationFiles | None = None
) -> AsyncIterator[tuple[str, Database]]:
    """The catalog with its demo content (firms, lawyers and their hours, products, FAQ) on its migrated
    database, serving for the block: (address, database). Without `files` (its bucket) uploads fail."""
    async with migrated_databases(settings, "catalog") as databases:
        database = databases["catalog"]
        stores = catalog_stores(database, settings, files)
        await seed_demo(stores)
        servicer = CatalogServicer(stores)
        async with serving(
            "catalog", servicer, catalog_service_pb2, catalog_service_pb2_grpc, verifier, tls
        ) as address:
            yield address, database


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` on uvicorn over real HTTP (WebSockets need a server) for the block; yields its address."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws="websockets-sansio"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def gateway_clients(**peers: Any) -> Clients:
    """The gateway's clients with `peers` (stubs or fakes, by field name: `catalog=`, `identity_internal=`,
    …); every other peer is absent, so a route that needs one fails loudly."""
    absent = {field.name: None for field in dataclasses.fields(Clients) if field.name != "health"}
    return Clients(**absent | peers)


@contextlib.asynccontextmanager
async def serving_in_process(*serves: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Services run by their own `serve(settings)` in this process for the block, then cancelled. They
    install SIGINT/SIGTERM handlers on the loop; pytest gets its own back afterwards."""
    previous_term = signal.getsignal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    tasks = [asyncio.create_task(serve) for serve in serves]
    try:
        yield
    finally:
        await cancel_all(tasks, "test")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, signal.default_int_handler)


async def until_identity_answers(clients: Clients) -> None:
    """Wait up to 30 s for identity to serve (its start, not a timed assertion): every other service and the
    gateway verify tokens with its keys."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await clients.identity_internal.GetJwks(identity_service_pb2.GetJwksRequest())
            return
        except grpc.aio.AioRpcError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@contextlib.contextmanager
def running_platform(
    postgres: PostgresServer, temporal: TemporalDevServer, data_dir: Path, **settings: str
) -> Iterator[StackProcess]:
    """The whole platform (`counsel up`) with its own demo data on the given servers and NATS of its own, as
    `counsel up` runs it on a laptop (a user per process), isolated by a new name (database prefix, subjects,
    task queue); stopped on exit unless a test stopped it. `settings` are more COUNSEL_* variables."""
    env, gateway_port = stack_env(
        name=f"e{uuid.uuid4().hex[:10]}",
        data_dir=data_dir,
        database_url=postgres.url,
        nats_url=None,
        temporal_address=temporal.address,
        secret_key=secrets.token_urlsafe(48),
    )
    env["COUNSEL_NOTIFICATION_DIGEST_SECONDS"] = "1"  # e-mail/SMS digests close within the tests' patience
    env.update(settings)
    running = StackProcess(f"http://127.0.0.1:{gateway_port}", env, data_dir, data_dir / "counsel-up.log")
    running.start()
    try:
        yield running
    finally:
        if running.running():
            running.stop()


async def platform_temporal(platform: StackProcess) -> Client:
    """A Temporal client of the running platform's workflows, with the platform's payload codec (its master
    key comes from the platform's own secrets)."""
    env = platform.env
    settings = load_settings(
        env="test", secret_key=env["COUNSEL_SECRET_KEY"], master_key=env.get("COUNSEL_MASTER_KEY", "")
    )
    return await Client.connect(env["COUNSEL_TEMPORAL_ADDRESS"], data_converter=data_converter(settings))
