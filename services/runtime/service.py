"""What a service process runs on: settings, logs, /metrics, its database, the event bus, Temporal, the
gRPC server with its interceptors, background tasks, and a graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from temporalio.client import Client

from counsel.identity.v1 import identity_service_pb2, identity_service_pb2_grpc
from services.runtime.access_log import StaffReads, keep_anchoring
from services.runtime.auth import JwksFetcher, Revocation, Revocations, RevocationsFetcher, TokenVerifier
from services.runtime.config import Settings
from services.runtime.db import FAILOVER_PATIENCE_SECONDS, Database
from services.runtime.events import (
    ConsumerTable,
    Context,
    DurableConsumer,
    EventBus,
    Outbox,
    OutboxRelay,
    bind,
)
from services.runtime.grpc_client import open_channel
from services.runtime.grpc_server import GrpcServer
from services.runtime.keys import master_key
from services.runtime.logs import configure_logging
from services.runtime.metrics import serve_metrics
from services.runtime.tables import RuntimeTables
from services.runtime.temporal import connect_temporal
from services.runtime.tracing import configure_tracing

if TYPE_CHECKING:
    from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceAsyncStub

log = logging.getLogger(__name__)

DEPENDENCY_CHECK_SECONDS = 5.0
DEPENDENCY_TIMEOUT_SECONDS = 2.0


class IdentityKeys:
    """What every process but identity asks identity for to verify tokens — its public keys and its token
    revocations — over one channel, opened on first use and kept for the process's life: revocations are
    polled every few seconds, and a new channel (and TLS handshake) per poll would stall the verifications
    waiting on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stub: IdentityInternalServiceAsyncStub | None = None

    def _identity(self) -> IdentityInternalServiceAsyncStub:
        if self._stub is None:
            channel = open_channel(self.settings.identity_addr, self.settings.tls(), default_timeout=5.0)
            self._stub = cast(
                "IdentityInternalServiceAsyncStub",
                identity_service_pb2_grpc.IdentityInternalServiceStub(channel),
            )
        return self._stub

    async def jwks(self) -> dict[str, Any]:
        reply = await self._identity().GetJwks(identity_service_pb2.GetJwksRequest())
        return dict(json.loads(reply.jwks_json))

    async def revocations(self, after_id: int) -> list[Revocation]:
        reply = await self._identity().ListTokenRevocations(
            identity_service_pb2.ListTokenRevocationsRequest(after_id=after_id)
        )
        return [
            Revocation(r.id, r.user_id, r.session_id, r.revoked_before.ToMicroseconds() / 1e6, r.erased)
            for r in reply.revocations
        ]


def token_verifier(
    settings: Settings, jwks: JwksFetcher | None = None, revocations: RevocationsFetcher | None = None
) -> TokenVerifier:
    """The one way a process verifies access tokens: identity's keys and identity's revocations (over one
    channel to identity, unless the process is identity and passes its own)."""
    remote = IdentityKeys(settings)
    return TokenVerifier(
        jwks or remote.jwks,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        revocations=Revocations(revocations or remote.revocations, settings.token_revocation_poll_seconds),
    )


class ServiceRuntime:
    def __init__(
        self,
        settings: Settings,
        service: str,
        tables: RuntimeTables,
        jwks: JwksFetcher | None,
        revocations: RevocationsFetcher | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.tables = tables
        self.db = Database(settings.database_dsn(service), pool_size=settings.db_pool_size)
        self.outbox = Outbox(service, settings, tables)
        self.verifier = token_verifier(settings, jwks, revocations)
        self.bus: EventBus | None = None
        self._temporal: Client | None = None
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        self.bus = await EventBus.connect(self.settings, name=f"counsel-{self.service}")

    async def temporal(self) -> Client:
        """The Temporal client, connected on first use."""
        if self._temporal is None:
            self._temporal = await connect_temporal(self.settings)
        return self._temporal

    def grpc_server(self) -> GrpcServer:
        return GrpcServer(
            self.service,
            self.settings.listen_addr(self.service),
            self.verifier,
            self.settings.tls(),
            reflection=self.settings.grpc_reflection,
            health_listen=self.settings.grpc_health_listen,
        )

    async def dependency_health(self) -> dict[str, bool]:
        """Whether each dependency this process uses answers now."""
        health = {
            "postgres": await _answers(self.db.ping()),
            "nats": self.bus is not None and self.bus.nc.is_connected,
        }
        if self._temporal is not None:
            health["temporal"] = await _answers(self._temporal.service_client.check_health())
        return health

    async def watch_dependencies(self, server: GrpcServer) -> None:
        database_lost_at: float | None = None
        while True:
            health = await self.dependency_health()
            now = time.monotonic()
            database_lost_at = None if health["postgres"] else (database_lost_at or now)
            await server.report_dependencies(health, ready=readiness(database_lost_at, now))
            await asyncio.sleep(DEPENDENCY_CHECK_SECONDS)

    def outbox_relay(self) -> Coroutine[Any, Any, None]:
        assert self.bus is not None
        return OutboxRelay(self.db, self.outbox, self.bus).run()

    def access_log_anchors(self, staff_reads: StaffReads) -> Coroutine[Any, Any, None]:
        """Signs and publishes the head of the service's staff access log every
        `access_log_anchor_seconds` (services/runtime/access_log.py)."""
        return keep_anchoring(
            self.db,
            self.outbox,
            staff_reads,
            self.settings.secret_key,
            self.settings.access_log_anchor_seconds,
        )

    def consumers(self, table: ConsumerTable[Context], context: Context) -> list[Coroutine[Any, Any, None]]:
        """The durable consumers `<service>-<name>` of the service's events.py table, each over the subjects
        of its handlers (the table `counsel migrate` creates consumers from and NATS's permissions follow,
        deploy/nats_auth.py), with `context` given to every handler."""
        assert self.bus is not None
        return [
            DurableConsumer(
                f"{self.service}-{name}", self.bus, self.db, self.tables, bind(handlers, context)
            ).run()
            for name, handlers in table.items()
        ]

    async def run(self, server: GrpcServer, background: Sequence[Coroutine[Any, Any, None]] = ()) -> None:
        """Serve until SIGTERM/SIGINT (or `stopping` is set), then drain in-flight calls and stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
        port = await server.start()
        log.info("serving", extra={"service": self.service, "port": port})
        tasks = [asyncio.create_task(coro) for coro in [self.watch_dependencies(server), *background]]
        stop_waiter = asyncio.create_task(self.stopping.wait())
        try:
            done, _ = await asyncio.wait([stop_waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop_waiter and task.exception():
                    log.error("background task died", exc_info=task.exception())
        finally:
            log.info("stopping", extra={"service": self.service})
            await server.stop(grace=5.0)
            await cancel_all([stop_waiter, *tasks], self.service)

    async def close(self) -> None:
        if self.bus is not None:
            await self.bus.close()
        await self.db.close()


async def drain_forever(step: Callable[[], Awaitable[object]], interval: float, what: str) -> None:
    """A service's background task: run `step` until cancelled — again at once while it reports work done
    (a truthy answer, such as how many it handled: more may be due right away), else after `interval`; a failure is logged as `what` failing and tried
    again after `interval`. The clock is read by the step's caller, never by the rules it runs."""
    while True:
        try:
            if await step():
                continue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying", what)
        await asyncio.sleep(interval)


async def cancel_all(tasks: Sequence[asyncio.Task[Any]], owner: str, patience: float = 10.0) -> None:
    """Cancel `tasks` and wait until each has ended. On Python 3.11 a cancellation can be lost when it races
    the completion of an inner `asyncio.wait_for` (gh-86296, fixed in 3.12; nats-py's fetch and our own waits
    use it), leaving a task running after its cancel and the process hanging on stop; so cancel again until
    every task ends, and say which did not within `patience` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
        if pending and loop.time() > deadline:
            log.error(
                "background tasks ignored cancellation",
                extra={"service": owner, "tasks": sorted(t.get_name() for t in pending)},
            )
            break
    for task in tasks:  # retrieved, so asyncio does not report "exception was never retrieved" later
        if task.done() and not task.cancelled():
            task.exception()


def readiness(database_lost_at: float | None, now: float) -> bool:
    """Whether a service process can serve, given since when (monotonic seconds) its database has not
    answered. A database away for less than a failover takes does not count: transactions wait for the new
    primary (services/runtime/db.py), so taking the process out of rotation would turn a failover into an
    outage. NATS and Temporal never count: the outbox keeps events until NATS is back, and a call that needs
    Temporal fails on its own while every other call is served."""
    return database_lost_at is None or now - database_lost_at < FAILOVER_PATIENCE_SECONDS


async def _answers(check: Coroutine[Any, Any, object]) -> bool:
    try:
        await asyncio.wait_for(check, DEPENDENCY_TIMEOUT_SECONDS)
    except Exception:
        return False
    return True


@asynccontextmanager
async def service_runtime(
    settings: Settings,
    service: str,
    tables: RuntimeTables,
    *,
    jwks: JwksFetcher | None = None,
    revocations: RevocationsFetcher | None = None,
) -> AsyncIterator[ServiceRuntime]:
    """Set up logs, /metrics, the database engine and the event bus for `service`; close them on exit.
    SettingsError before anything starts when prod lacks this process's NATS user or the master key."""
    settings.nats_auth()
    master_key(settings)
    configure_logging(service, settings.log_level)
    configure_tracing(settings, service)
    serve_metrics(settings.metrics_port_for(service), settings.metrics_host)
    rt = ServiceRuntime(settings, service, tables, jwks, revocations)
    try:
        await rt.start()
        yield rt
    finally:
        await rt.close()
