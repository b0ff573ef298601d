"""The one event publisher and consumer. Services never publish directly: they add events to their
outbox inside the business transaction (`Outbox.add`), and the relay publishes them to JetStream with
`Nats-Msg-Id` = event id. Consumers are durable and record each event id they processed in the same
transaction as their effect, so a redelivered event has no second effect. Each envelope keeps the trace
context of the change that committed it, and its consumers' work continues that trace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import asyncpg
import nats
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.message import DecodeError, Message
from nats.errors import AuthorizationError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry.trace import SpanKind
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.runtime.config import Settings
from services.runtime.context import CORRELATION_HEADER, correlation_id_var, current_correlation_id
from services.runtime.db import Database
from services.runtime.metrics import CONSUMER_EVENTS, OUTBOX_LAG, OUTBOX_OLDEST_AGE, OUTBOX_PENDING
from services.runtime.tables import RuntimeTables
from services.runtime.tracing import extract, inject, tracer

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
Context = TypeVar("Context")
# What a durable consumer runs for one event, in the transaction that records the event's id.
EventHandler = Callable[[EventEnvelope, AsyncSession], Awaitable[object]]
# A handler in a service's events.py: an EventHandler that also takes what the service's handlers share
# (its stores, its workflow link), bound once when the service starts (`bind`).
Handler = Callable[[Context, EventEnvelope, AsyncSession], Awaitable[object]]
# The events a service receives (its events.py): durable consumer name → {subject suffix → handler}. A suffix
# follows the subject root and may end in a NATS wildcard (`booking.booking.>`); the suffixes of one consumer
# do not overlap (JetStream refuses overlapping filters), so each event has exactly one handler.
ConsumerTable = Mapping[str, Mapping[str, Handler[Context]]]
# The pending-events gauge is a COUNT over the outbox: refreshed at most this often, not every round.
PENDING_GAUGE_SECONDS = 1.0
# An event unpublished this long is stuck, not late (the relay publishes within a round of the commit): its row is
# locked by another transaction (SKIP LOCKED passes it by) or its publish keeps failing. Said at most this often.
STALE_OUTBOX_SECONDS = 60.0
# An event still early (NotYet) at this delivery is logged as a warning, no longer at INFO (about 30 s of
# redeliveries: see _redelivery_delay).
EARLY_ATTEMPTS_BEFORE_WARNING = 6
# A relay that cannot LISTEN polls, and tries to LISTEN again this often.
LISTEN_RETRY_SECONDS = 30.0


def unpack(envelope: EventEnvelope, message_type: type[M]) -> M:
    """The envelope's payload as `message_type`; raises ValueError when it is another type."""
    message = message_type()
    if not envelope.payload.Unpack(message):
        raise ValueError(
            f"event {envelope.id} carries {envelope.payload.type_url}, not {message_type.__name__}"
        )
    return message


def occurred_at(envelope: EventEnvelope) -> datetime:
    """When the event happened (UTC); now, for an envelope that does not say."""
    if envelope.HasField("occurred_at"):
        return envelope.occurred_at.ToDatetime(tzinfo=UTC)
    return datetime.now(UTC)


def consumer_subjects(table: ConsumerTable[Any]) -> dict[str, list[str]]:
    """Each durable consumer's subject suffixes: what `counsel migrate` creates as `<service>-<name>` and
    what NATS lets the service read (deploy/nats_auth.py)."""
    return {name: list(handlers) for name, handlers in table.items()}


def bind(handlers: Mapping[str, Handler[Context]], context: Context) -> dict[str, EventHandler]:
    """One consumer's handlers with the service's `context` given to each."""
    return {subject: partial(handler, context) for subject, handler in handlers.items()}


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether `subject` is one `pattern` names, by NATS's rules: `*` stands for one token, a final `>` for
    one or more."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or token not in ("*", tokens[index]):
            return False
    return len(tokens) == len(wanted)


def handler_for(handlers: Mapping[str, EventHandler], subject_suffix: str) -> EventHandler:
    """The handler of the subject (after the subject root) an event came on; LookupError for none."""
    for pattern, handler in handlers.items():
        if subject_matches(pattern, subject_suffix):
            return handler
    raise LookupError(f"no handler for subject {subject_suffix}")


class NotYet(Exception):
    """An event that came before what it acts on: events of one aggregate reach different consumers in no
    particular order (a consultation's follow-up may be consumed before its submission has started the
    workflow the follow-up signals). The consumer redelivers it with the usual backoff and says so at INFO:
    nothing failed."""


class BusRefused(RuntimeError):
    """The NATS server refused this process's credentials (or their absence) when it connected."""


async def connect_nats(settings: Settings, name: str, *, connect_timeout: int = 5) -> nats.NATS:
    """The one way a process connects to NATS: as its own user (`Settings.nats_auth`, with its own reply inbox),
    reconnecting for ever once connected. Raises SettingsError in prod without a user, and BusRefused at once
    when the server refuses the credentials — nats-py alone retries a refused first connection for ever, which
    would leave a process hanging at start. Operations the server's permissions refuse are logged as errors
    (nats-py reports them only to this callback; the refused request itself times out)."""
    auth = settings.nats_auth()
    nc = nats.NATS()
    state = {"connecting": True, "refused": False}

    async def on_error(exc: Exception) -> None:
        message = str(exc)
        if isinstance(exc, AuthorizationError) or "authorization violation" in message.lower():
            if state["connecting"]:
                state["refused"] = True
                who = f"user {auth['user']!r}" if auth else "a connection without credentials"
                raise BusRefused(
                    f"NATS at {settings.nats_url} refused {who} ({message}); check COUNSEL_NATS_USER and "
                    "COUNSEL_NATS_PASSWORD"
                )
            log.error("NATS refused this process's credentials on reconnect", extra={"error": message})
        elif "permissions violation" in message.lower():
            log.error("NATS refused an operation of this process", extra={"error": message})
        elif not state["refused"]:
            log.warning("NATS connection trouble", extra={"error": message or type(exc).__name__})

    try:
        await nc.connect(
            settings.nats_servers,
            name=name,
            max_reconnect_attempts=-1,
            connect_timeout=connect_timeout,
            error_cb=on_error,
            **auth,  # type: ignore[arg-type]
        )
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5.0)
        raise
    state["connecting"] = False
    return nc


class EventBus:
    """A NATS connection with JetStream and the stream every service publishes to."""

    def __init__(self, nc: nats.NATS, js: JetStreamContext, settings: Settings) -> None:
        self.nc = nc
        self.js = js
        self.stream = settings.nats_stream
        self.subject_root = settings.subject_root
        self.replicas = settings.jetstream_replicas

    @classmethod
    async def connect(cls, settings: Settings, name: str) -> EventBus:
        nc = await connect_nats(settings, name)
        bus = cls(nc, nc.jetstream(timeout=10), settings)
        try:
            await bus.ensure_stream()
        except BaseException:
            await bus.close()
            raise
        return bus

    async def ensure_stream(self) -> None:
        """Create the stream when it is missing, with COUNSEL_JETSTREAM_REPLICAS replicas (its durable
        consumers inherit them). With NATS authorization on, only `counsel migrate` may (deploy/nats_auth.py):
        a service finds it made, and says so clearly when it is not."""
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.subject_root}.>"],
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            duplicate_window=120.0,
            max_age=30 * 24 * 3600.0,
        )
        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:
            with contextlib.suppress(Exception):  # another process created it first, or this one may not
                await self.js.add_stream(config)
            try:
                await self.js.stream_info(self.stream)
            except NotFoundError:
                raise RuntimeError(
                    f"JetStream stream {self.stream} does not exist and this process may not create it: "
                    "`counsel migrate` creates it"
                ) from None

    async def publish(self, subject: str, payload: bytes, event_id: str, correlation_id: str = "") -> bool:
        """Publish and wait for JetStream's ack. Returns False when JetStream saw this event id already."""
        headers = {"Nats-Msg-Id": event_id}
        if correlation_id:
            headers[CORRELATION_HEADER] = correlation_id
        ack = await self.js.publish(subject, payload, stream=self.stream, headers=headers)
        return not ack.duplicate

    async def close(self) -> None:
        # Not drain(): draining pull subscriptions waits for the drain timeout (30 s); every publish was
        # already acknowledged and consumers were cancelled, so there is nothing left to flush.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nc.close(), 5.0)


class Outbox:
    """Writes a service's events into its outbox table, in the caller's transaction."""

    def __init__(self, service: str, settings: Settings, tables: RuntimeTables) -> None:
        self.service = service
        self.subject_root = settings.subject_root
        self.table = tables.outbox
        # PostgreSQL delivers a NOTIFY on this channel when a transaction that added events commits (never
        # before, never for a rollback); it wakes the relays of every process on this database.
        self.channel = f"outbox_{service}"
        self.committed = asyncio.Event()  # set by this process's relay listener

    def subject(self, event_type: str) -> str:
        return f"{self.subject_root}.{self.service}.{event_type}"

    async def add(
        self,
        session: AsyncSession,
        event_type: str,
        payload: Message,
        *,
        aggregate_id: str,
        tenant_id: str = "",
        actor_id: str = "",
        subject_suffix: str = "",
        lawyer_id: str = "",
        client_id: str = "",
    ) -> EventEnvelope:
        """Record `event_type` (e.g. "consultation.submitted"); published after the transaction commits.
        `subject_suffix` (a token without dots, e.g. a conversation id) is appended to the subject so a
        subscriber can listen to one aggregate's events; consumers of `<service>.>` still see them.
        `lawyer_id` names the lawyer (identity account) whose work the event concerns, so the lawyer's
        firm can follow it; `client_id` the client whose record someone else changed, so it joins the
        client's linked activity."""
        packed = AnyProto()
        packed.Pack(payload)
        envelope = EventEnvelope(
            id=str(uuid.uuid4()),
            type=event_type,
            tenant_id=tenant_id,
            correlation_id=current_correlation_id(),
            actor_id=actor_id,
            aggregate_id=aggregate_id,
            payload=packed,
            lawyer_id=lawyer_id,
            client_id=client_id,
        )
        envelope.occurred_at.FromDatetime(datetime.now(UTC))
        inject(envelope.trace_context)
        await session.execute(
            insert(self.table).values(
                event_id=envelope.id,
                subject=f"{self.subject(event_type)}.{subject_suffix}"
                if subject_suffix
                else self.subject(event_type),
                payload=envelope.SerializeToString(),
                correlation_id=envelope.correlation_id,
            )
        )
        # One NOTIFY per transaction (PostgreSQL folds repeats anyway), delivered at commit.
        transaction = session.sync_session.get_transaction()
        if session.info.get("outbox_notified") is not transaction:
            await session.execute(select(func.pg_notify(self.channel, "")))
            session.info["outbox_notified"] = transaction
        return envelope


class OutboxRelay:
    """Moves committed outbox rows to JetStream in commit order. Safe with several replicas
    (rows are claimed with SKIP LOCKED) and after crashes (a re-published event is deduplicated by
    JetStream within its window and by every consumer after it)."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        bus: EventBus,
        *,
        batch: int = 200,
        window: int = 64,
        poll_seconds: float = 0.5,
        stale_seconds: float = STALE_OUTBOX_SECONDS,
    ):
        self.db = db
        self.stale_seconds = stale_seconds
        self._stale_said_at = -stale_seconds
        self.window = window
        self.outbox = outbox
        self.bus = bus
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.listening = asyncio.Event()  # set while `run` is woken by NOTIFY (else it only polls)

    async def relay_once(self) -> int:
        table = self.outbox.table
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        table.c.seq,
                        table.c.event_id,
                        table.c.subject,
                        table.c.payload,
                        table.c.correlation_id,
                        table.c.created_at,
                    )
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.seq)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            # Pipelined: the publishes of a window leave in commit order on one connection (so JetStream
            # stores them in that order) and their acks are awaited together. If any fails, the whole batch
            # stays unpublished and is sent again; JetStream drops the repeats by Nats-Msg-Id.
            for start in range(0, len(rows), self.window):
                window = rows[start : start + self.window]
                await asyncio.gather(
                    *(self.bus.publish(r.subject, r.payload, r.event_id, r.correlation_id) for r in window)
                )
                acked = datetime.now(UTC)
                for row in window:
                    OUTBOX_LAG.labels(self.outbox.service).observe(
                        max(0.0, (acked - row.created_at).total_seconds())
                    )
            if rows:
                await session.execute(
                    update(table)
                    .where(table.c.seq.in_([r.seq for r in rows]))
                    .values(published_at=func.clock_timestamp())
                )
        return len(rows)

    async def pending(self) -> int:
        return (await self._backlog())[0]

    async def refresh_backlog_gauges(self) -> None:
        """counsel_outbox_pending_events and counsel_outbox_oldest_pending_age_seconds of this service."""
        count, oldest = await self._backlog()
        OUTBOX_PENDING.labels(self.outbox.service).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.labels(self.outbox.service).set(max(age, 0.0))
        if age > self.stale_seconds and time.monotonic() - self._stale_said_at >= self.stale_seconds:
            self._stale_said_at = time.monotonic()
            log.warning(
                "outbox events of %s unpublished for %.0f s: locked by another transaction, or failing to publish",
                self.outbox.service,
                age,
                extra={"pending": count, "oldest_pending_age_seconds": round(age)},
            )

    async def _backlog(self) -> tuple[int, datetime | None]:
        """How many events are not yet published, and when the oldest of them was committed."""
        table = self.outbox.table
        async with self.db.transaction() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(table.c.created_at)).where(table.c.published_at.is_(None))
                )
            ).one()
        return int(count or 0), oldest

    async def run(self) -> None:
        """Relay until cancelled: woken by the outbox's NOTIFY as soon as events commit (lag is one relay
        round, not a poll interval), and polling every `poll_seconds` in case a wake-up is lost (the
        listening connection dropped, or it is being re-opened)."""
        listener: asyncpg.Connection | None = None
        counted_at = listen_at = 0.0
        try:
            while True:
                try:
                    if (listener is None or listener.is_closed()) and time.monotonic() >= listen_at:
                        self.listening.clear()
                        listener = await self._listen()
                        if listener is not None:
                            self.listening.set()
                        else:
                            listen_at = time.monotonic() + LISTEN_RETRY_SECONDS
                    # Cleared before the read: a NOTIFY for a commit the read missed wakes the next round.
                    self.outbox.committed.clear()
                    moved = await self.relay_once()
                    if moved < self.batch:
                        if time.monotonic() - counted_at >= PENDING_GAUGE_SECONDS:
                            await self.refresh_backlog_gauges()
                            counted_at = time.monotonic()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.outbox.committed.wait(), self.poll_seconds)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay failed; retrying")
                    await asyncio.sleep(1.0)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.close(), 5.0)

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            return await self.db.listen(self.outbox.channel, self.outbox.committed.set)
        except Exception:
            log.warning("outbox relay cannot LISTEN; polling every %.1f s", self.poll_seconds, exc_info=True)
            return None


def consumer_config(
    subject_root: str, name: str, subjects: Sequence[str], *, max_deliver: int = 20
) -> ConsumerConfig:
    """The configuration of the durable pull consumer `name` over subject suffixes like `consultation.>`."""
    return ConsumerConfig(
        name=name,
        durable_name=name,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=30.0,
        max_deliver=max_deliver,
        filter_subjects=[f"{subject_root}.{s}" for s in subjects],
    )


def _filters(config: ConsumerConfig) -> list[str]:
    return sorted(config.filter_subjects or ([config.filter_subject] if config.filter_subject else []))


async def ensure_consumer(bus: EventBus, config: ConsumerConfig) -> None:
    """Create the durable consumer, or bring its configuration to `config` (e.g. new subjects), unless the
    server already has it so. With NATS authorization on, only `counsel migrate` may create or change a
    consumer (deploy/nats_auth.py), so the subjects a service reads are the ones its deployment declared."""
    assert config.name is not None
    try:
        info = await bus.js.consumer_info(bus.stream, config.name)
    except NotFoundError:
        pass
    else:
        have = info.config
        if (
            _filters(have) == _filters(config)
            and have.ack_policy == config.ack_policy
            and have.deliver_policy == config.deliver_policy
            and have.ack_wait == config.ack_wait
            and have.max_deliver == config.max_deliver
        ):
            return
    try:
        await bus.js.add_consumer(bus.stream, config=config)
    except Exception as exc:
        raise RuntimeError(
            f"durable consumer {config.name} of stream {bus.stream} is missing or configured otherwise and "
            "this process could not create it: `counsel migrate` creates it"
        ) from exc


class DurableConsumer:
    """A durable JetStream pull consumer over the subjects of its `handlers` (subject suffix → handler, as in
    a service's events.py). Each event goes to its subject's handler, which runs in a DB transaction that
    also records the event id, so each event has its effect exactly once. Failed events are redelivered
    with backoff."""

    def __init__(
        self,
        name: str,
        bus: EventBus,
        db: Database,
        tables: RuntimeTables,
        handlers: Mapping[str, EventHandler],
        *,
        max_deliver: int = 20,
    ) -> None:
        self.name = name
        self.bus = bus
        self.db = db
        self.processed = tables.processed_events
        self.handlers = dict(handlers)
        self.max_deliver = max_deliver

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        await ensure_consumer(
            self.bus,
            consumer_config(
                self.bus.subject_root, self.name, list(self.handlers), max_deliver=self.max_deliver
            ),
        )
        return await self.bus.js.pull_subscribe_bind(durable=self.name, stream=self.bus.stream)

    async def handle(self, data: bytes, subject: str) -> str:
        """Apply one event that came on `subject` (its suffix after the subject root, like
        `booking.booking.held`); returns the outcome ("processed" or "duplicate")."""
        handler = handler_for(self.handlers, subject)
        envelope = EventEnvelope()
        envelope.ParseFromString(data)
        token = correlation_id_var.set(envelope.correlation_id)
        # A child of the span that committed the event: a request's asynchronous consequences are its trace.
        with tracer().start_as_current_span(
            f"process {envelope.type}", context=extract(envelope.trace_context), kind=SpanKind.CONSUMER
        ) as span:
            if span.is_recording():
                span.set_attributes(
                    {
                        "messaging.system": "nats",
                        "messaging.destination.name": subject,
                        "messaging.consumer.group.name": self.name,
                        "messaging.message.id": envelope.id,
                    }
                )
            try:
                async with self.db.transaction() as session:
                    claimed = await session.execute(
                        pg_insert(self.processed)
                        .values(consumer=self.name, event_id=envelope.id)
                        .on_conflict_do_nothing()
                        .returning(self.processed.c.event_id)
                    )
                    if claimed.first() is None:
                        return "duplicate"
                    await handler(envelope, session)
                return "processed"
            finally:
                correlation_id_var.reset(token)

    async def run(self) -> None:
        subscription = await self._subscribe()
        root = f"{self.bus.subject_root}."
        while True:
            try:
                messages = await subscription.fetch(batch=64, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):  # nats-py raises either when no message came
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s could not fetch; retrying", self.name)
                await asyncio.sleep(1.0)
                continue
            for message in messages:
                try:
                    outcome = await self.handle(message.data, message.subject.removeprefix(root))
                    await message.ack()
                except DecodeError:
                    outcome = "failed"
                    log.error("consumer %s dropped an undecodable message on %s", self.name, message.subject)
                    await message.term()
                except asyncio.CancelledError:
                    raise
                except NotYet as early:
                    outcome = "deferred"
                    attempt = message.metadata.num_delivered if message.metadata else 1
                    # Early once or twice is the normal race; still early after many tries, something
                    # upstream (what should have come first) is stuck.
                    log.log(
                        logging.INFO if attempt < EARLY_ATTEMPTS_BEFORE_WARNING else logging.WARNING,
                        "consumer %s redelivers %s later (attempt %s): %s",
                        self.name, message.subject, attempt, early,
                    )  # fmt: skip
                    await message.nak(delay=_redelivery_delay(attempt))
                except Exception:
                    outcome = "failed"
                    attempt = message.metadata.num_delivered if message.metadata else 1
                    log.exception(
                        "consumer %s failed on %s (attempt %s)", self.name, message.subject, attempt
                    )
                    await message.nak(delay=_redelivery_delay(attempt))
                CONSUMER_EVENTS.labels(self.name, outcome).inc()


def _redelivery_delay(attempt: int) -> float:
    """Seconds before a failed or early event comes again: doubling from 1 s, at most a minute."""
    return min(60.0, 0.5 * 2 ** min(attempt, 7))
