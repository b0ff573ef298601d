"""The bus checks callers too (issue 17 item 3b, R-OPS-3): a nats-server of its own for this module, with the
authorization block `counsel up` writes (deploy/nats_auth.py) — one user per process — and the stream, buckets
and consumers made by `counsel migrate`'s provisioning. Every check goes through the real server and the code
the processes run (EventBus, connect_nats, DocumentFiles, ObjectStoreInvoices, the gateway's wakers).

The session's shared `nats_server` stays open (no authorization): the other tests use it as a test harness,
connecting as nobody in particular. Here nothing connects without a user."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from google.protobuf.any_pb2 import Any as AnyProto
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig, StreamSource
from pydantic import SecretStr

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.notification.v1 import events_pb2 as notification_events_pb2
from deploy.audit import audited_services, verify_all
from deploy.local.bootstrap import provision_bus
from deploy.local.servers import NatsServer, PostgresServer, free_port
from deploy.nats_auth import (
    AUDIT,
    BACKUP,
    CLUSTER_NATS_USERS,
    GATEWAY,
    MIGRATE,
    NATS_USERS,
    authorization_block,
    service_consumers,
)
from services.consultation.domain import NewConsultation
from services.consultation.models import DATA_KEYS, STAFF_READS, TABLES
from services.consultation.store import ConsultationStores
from services.documents.files import DocumentFiles
from services.gateway.chat_waker import ChatWaker
from services.gateway.routes.notifications import InboxWaker
from services.payment.invoices import ObjectStoreInvoices
from services.runtime.access_log import anchor_and_publish
from services.runtime.config import SERVICE_NAMES, Settings, SettingsError
from services.runtime.context import Principal
from services.runtime.events import (
    BusRefused,
    EventBus,
    Outbox,
    OutboxRelay,
    connect_nats,
    consumer_config,
    ensure_consumer,
)
from services.runtime.keys import DataKeys, master_key
from tests.support.platform import isolated_settings, migrated_databases

# How long a refused request waits for the answer that never comes (the server refuses it silently to the
# requester; nats-py reports the violation to the connection's error callback, which logs it).
REFUSED_WAIT = 1.0
STREAM = "NATSAUTH"
ROOT = "natsauth"
EVENTS_LOGGER = "services.runtime.events"


class SecuredNats:
    """The module's server, its users' passwords and their settings."""

    def __init__(self, server: NatsServer, passwords: dict[str, str]) -> None:
        self.server = server
        self.passwords = passwords

    def settings(self, process: str | None, password: str | None = None) -> Settings:
        """Settings of `process` (None: no user at all), with its password unless another is given."""
        base = Settings(env="test", nats_url=self.server.url, nats_stream=STREAM, subject_root=ROOT)
        if process is None:
            return base
        secret = self.passwords.get(process, "") if password is None else password
        return base.model_copy(update={"nats_user": process, "nats_password": SecretStr(secret)})

    async def bus(self, process: str) -> EventBus:
        return await EventBus.connect(self.settings(process), name=f"test-{process}")


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    passwords = {process: secrets.token_urlsafe(24) for process in CLUSTER_NATS_USERS}
    base = Settings(env="test", nats_stream=STREAM, subject_root=ROOT)
    server = NatsServer(
        tmp_path_factory.mktemp("secured-nats"),
        free_port(),
        authorization=authorization_block(base, passwords),
    )
    server.start()
    try:
        yield SecuredNats(server, passwords)
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def secured(secured_server: SecuredNats) -> AsyncIterator[SecuredNats]:
    """The server once `counsel migrate`'s provisioning ran as the migrate user."""
    await provision_bus(secured_server.settings(MIGRATE))
    yield secured_server


def envelope(event_id: str = "") -> bytes:
    return EventEnvelope(id=event_id or secrets.token_hex(8)).SerializeToString()


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The permission violations the connections logged (nats-py reports subjects in lower case)."""
    return [
        str(getattr(r, "error", "")).lower()
        for r in caplog.records
        if r.name == EVENTS_LOGGER and r.getMessage() == "NATS refused an operation of this process"
    ]


async def wait_until_logged(caplog: pytest.LogCaptureFixture, fragment: str) -> None:
    deadline = time.monotonic() + 5
    while not any(fragment.lower() in line for line in refusals(caplog)):
        assert time.monotonic() < deadline, f"no refusal of {fragment} logged: {refusals(caplog)}"
        await asyncio.sleep(0.05)


async def stream_messages(secured: SecuredNats, subject: str) -> int:
    """How many messages of the stream are on `subject` (read as migrate, which may read stream info)."""
    bus = await secured.bus(MIGRATE)
    try:
        info = await bus.js.stream_info(STREAM, subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))
    finally:
        await bus.close()


# --- connecting ------------------------------------------------------------------------------------------


async def test_nobody_connects_without_the_credentials_of_a_process(secured: SecuredNats) -> None:
    """R-OPS-3: no user, a wrong password, or a process that has no user (the worker never connects) is
    refused at once — with the reason — instead of nats-py retrying for ever; a process's own user gets in."""
    for settings in (
        secured.settings(None),
        secured.settings("payment", password="not-the-password"),
        secured.settings("worker", password="anything"),
    ):
        started = time.monotonic()
        with pytest.raises(BusRefused, match="refused") as refused:
            await EventBus.connect(settings, name="intruder")
        assert time.monotonic() - started < 5
        assert "Authorization Violation" in str(refused.value)
    bus = await secured.bus("payment")
    assert bus.nc.is_connected
    await bus.close()


def test_prod_refuses_to_connect_without_a_user_and_says_which_variables() -> None:
    """R-OPS-3: settings fail closed — in prod a process without its NATS user stops before connecting."""
    prod = Settings(env="prod", secret_key=secrets.token_urlsafe(48), nats_url="nats://127.0.0.1:1")
    with pytest.raises(SettingsError, match="COUNSEL_NATS_USER and COUNSEL_NATS_PASSWORD"):
        prod.nats_auth()
    with pytest.raises(SettingsError, match="COUNSEL_NATS_PASSWORD"):
        prod.model_copy(update={"nats_user": "payment"}).nats_auth()
    auth = prod.model_copy(update={"nats_user": "payment", "nats_password": SecretStr("pw")}).nats_auth()
    assert auth == {"user": "payment", "password": "pw", "inbox_prefix": "_INBOX_payment"}


# --- publishing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("intruder", [p for p in NATS_USERS if p != "identity"])
async def test_only_identity_publishes_identity_user_erased(
    secured: SecuredNats, intruder: str, caplog: pytest.LogCaptureFixture
) -> None:
    """R-OPS-3, R-PRIV-1: no process but identity can publish `identity.user.erased` (which would erase a user
    everywhere): the server refuses the publish, nats-py reports a permissions violation and the stream never
    holds it. Identity itself can."""
    caplog.set_level(logging.ERROR, logger=EVENTS_LOGGER)
    subject = f"{ROOT}.identity.user.erased"
    before = await stream_messages(secured, subject)
    nc = await connect_nats(secured.settings(intruder), f"test-{intruder}")
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await nc.jetstream().publish(subject, envelope(), timeout=REFUSED_WAIT)
        await wait_until_logged(caplog, f'publish to "{subject}"')
    finally:
        await nc.close()
    assert await stream_messages(secured, subject) == before

    identity = await secured.bus("identity")
    try:
        assert await identity.publish(subject, envelope(), secrets.token_hex(8))
    finally:
        await identity.close()
    assert await stream_messages(secured, subject) == before + 1


async def test_the_backup_user_snapshots_the_event_stream_and_changes_nothing(
    secured: SecuredNats, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19 item 5 in a cluster (the chart's JetStream backup CronJob, `nats stream backup`): as `backup`,
    JetStream's snapshot API streams the event stream, paced by the user's acknowledgements, to an inbox of the
    default prefix, where the nats CLI has it sent. Publishing an event or creating a stream is refused."""
    caplog.set_level(logging.ERROR, logger=EVENTS_LOGGER)
    identity = await secured.bus("identity")
    try:
        await identity.publish(f"{ROOT}.identity.user.registered", envelope(), secrets.token_hex(8))
    finally:
        await identity.close()
    nc = await connect_nats(secured.settings(BACKUP), "test-backup")
    try:
        described = json.loads((await nc.request(f"$JS.API.STREAM.INFO.{STREAM}", b"", timeout=5)).data)
        assert described["config"]["name"] == STREAM and described["state"]["messages"] > 0
        chunks: list[bytes] = []
        ended = asyncio.Event()

        async def chunk(msg: Msg) -> None:
            if not msg.data:  # an empty message ends the snapshot
                ended.set()
                return
            chunks.append(msg.data)
            if msg.reply:  # $JS.SNAPSHOT.ACK.<stream>.…: the server sends more once acknowledged
                await nc.publish(msg.reply, b"")

        deliver = f"_INBOX.{secrets.token_hex(8)}"
        await nc.subscribe(deliver, cb=chunk)
        request = json.dumps({"deliver_subject": deliver, "chunk_size": 1024}).encode()
        started = json.loads((await nc.request(f"$JS.API.STREAM.SNAPSHOT.{STREAM}", request, timeout=5)).data)
        assert "error" not in started, started
        await asyncio.wait_for(ended.wait(), timeout=30)
        assert len(chunks) > 1  # several windows, each let through by an acknowledgement

        with pytest.raises(nats.errors.TimeoutError):
            await nc.jetstream().publish(f"{ROOT}.identity.user.erased", envelope(), timeout=REFUSED_WAIT)
        await wait_until_logged(caplog, f'publish to "{ROOT}.identity.user.erased"')
        with pytest.raises(nats.errors.TimeoutError):
            await nc.request(f"$JS.API.STREAM.CREATE.{STREAM}_COPY", b"{}", timeout=REFUSED_WAIT)
        await wait_until_logged(caplog, f'publish to "$JS.API.STREAM.CREATE.{STREAM}_COPY"')
    finally:
        await nc.close()


# --- the documents and invoices buckets ------------------------------------------------------------------


async def test_only_documents_reads_the_documents_bucket(
    secured: SecuredNats, caplog: pytest.LogCaptureFixture
) -> None:
    """R-OPS-3, R-DOC-6: a document's bytes are readable by documents alone. Every other process is refused
    the bucket (opening it, reading its stream's messages, consuming it, listening to its subjects), and
    payment cannot make a stream of its own that sources the bucket. Documents reads it by chunks."""
    caplog.set_level(logging.ERROR, logger=EVENTS_LOGGER)
    documents = await secured.bus("documents")
    files = await DocumentFiles.open(documents.js, 1)
    # Many chunks, as a large draft has (drafts go up to 20 MiB).
    secret = secrets.token_bytes(8 * 1024 * 1024)
    await files.put("order-1/v1.pdf", secret)

    for intruder in [p for p in NATS_USERS if p not in ("documents", MIGRATE)]:
        nc = await connect_nats(secured.settings(intruder), f"test-{intruder}")
        js = nc.jetstream(timeout=REFUSED_WAIT)
        received: list[bytes] = []

        async def overheard(msg: nats.aio.msg.Msg, into: list[bytes] = received) -> None:
            into.append(msg.data)

        try:
            with pytest.raises(nats.errors.TimeoutError):
                await js.object_store("documents")
            with pytest.raises(nats.errors.TimeoutError):
                await js.get_msg("OBJ_documents", seq=1)
            with pytest.raises(nats.errors.TimeoutError):
                await js.add_consumer("OBJ_documents", ConsumerConfig(ack_policy=AckPolicy.NONE))
            await nc.subscribe("$O.documents.>", cb=overheard)
            await nc.flush()
            await files.put(f"order-1/{intruder}.pdf", b"%PDF draft")  # a write while the intruder listens
            await asyncio.sleep(0.2)
            assert received == [], intruder
            await wait_until_logged(caplog, 'subscription to "$o.documents.>"')
            await wait_until_logged(caplog, 'publish to "$js.api.stream.info.obj_documents"')
        finally:
            await nc.close()

    # A stream that sources another copies its messages whatever the creator's permissions: creating streams
    # is migrate's alone, so payment can neither make its bucket's stream a copy of documents' nor a new one.
    payment = await connect_nats(secured.settings("payment"), "test-payment")
    try:
        for name, subjects in (
            ("OBJ_invoices", ["$O.invoices.C.>", "$O.invoices.M.>"]),
            ("COPY", ["copy.>"]),
        ):
            with pytest.raises(nats.errors.TimeoutError):
                await payment.jetstream(timeout=REFUSED_WAIT).add_stream(
                    StreamConfig(name=name, subjects=subjects, sources=[StreamSource(name="OBJ_documents")])
                )
    finally:
        await payment.close()

    chunks = [chunk async for chunk in files.chunks("order-1/v1.pdf")]
    assert b"".join(chunks) == secret
    await files.delete("order-1/v1.pdf")
    await documents.close()


async def test_only_payment_uses_the_invoices_bucket(secured: SecuredNats) -> None:
    """R-OPS-3: invoices are payment's alone; documents (which has a bucket of its own) cannot open them."""
    payment = await secured.bus("payment")
    invoices = ObjectStoreInvoices(payment.js)
    # Large enough that reading it back needs the ordered consumer's flow control. Bounded: a refused
    # flow-control reply stalls the read instead of failing it.
    pdf = b"%PDF invoice" + secrets.token_bytes(8 * 1024 * 1024)
    await invoices.put("invoice-1.pdf", pdf)
    assert await asyncio.wait_for(invoices.get("invoice-1.pdf"), 30) == pdf
    await payment.close()

    documents = await secured.bus("documents")
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await ObjectStoreInvoices(documents.nc.jetstream(timeout=REFUSED_WAIT)).get("invoice-1.pdf")
    finally:
        await documents.close()


# --- consuming -------------------------------------------------------------------------------------------


def _probe_subject(suffix: str) -> str:
    """A concrete subject that a consumer's filter suffix (`payment.>`, `booking.booking.*`) matches."""
    return f"{ROOT}.{suffix.replace('>', 'probe').replace('*', 'probe')}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_each_service_publishes_its_events_and_reads_through_its_own_consumers(
    secured: SecuredNats, service: str
) -> None:
    """R-OPS-3: with its own user each service still does its job — publishes its events, finds the durable
    consumers `counsel migrate` made from its CONSUMERS table without needing to create them, fetches through
    each and acknowledges (synchronously, so a refused acknowledgement would fail here)."""
    bus = await secured.bus(service)
    try:
        assert await bus.publish(f"{ROOT}.{service}.probe.done", envelope(), secrets.token_hex(8))
        for name, subjects in service_consumers(service).items():
            # The event the consumer waits for, published by the service that owns its subject.
            subject = _probe_subject(subjects[0])
            event_id = secrets.token_hex(8)
            owner = await secured.bus(subject.split(".")[1])
            assert await owner.publish(subject, envelope(event_id), event_id)
            await owner.close()

            consumer = f"{service}-{name}"
            await ensure_consumer(bus, consumer_config(ROOT, consumer, subjects))
            subscription = await bus.js.pull_subscribe_bind(durable=consumer, stream=STREAM)
            seen: list[str] = []
            deadline = time.monotonic() + 10
            while event_id not in seen:
                assert time.monotonic() < deadline, f"{consumer} never fetched {subject}"
                for message in await subscription.fetch(batch=64, timeout=2):
                    seen.append(EventEnvelope.FromString(message.data).id)
                    await message.ack_sync(timeout=2)
            await subscription.unsubscribe()
    finally:
        await bus.close()


async def test_a_service_cannot_create_change_or_drain_consumers_but_its_own(
    secured: SecuredNats, caplog: pytest.LogCaptureFixture
) -> None:
    """R-OPS-3: consumers are `counsel migrate`'s to make. Payment cannot widen its own consumer to every event,
    create a new one, fetch from catalog's erasure consumer (and so keep the catalog from erasing a user) or
    delete it; the catalog's event is still waiting for the catalog."""
    caplog.set_level(logging.ERROR, logger=EVENTS_LOGGER)
    identity = await secured.bus("identity")
    erased_id = secrets.token_hex(8)
    await identity.publish(f"{ROOT}.identity.user.erased", envelope(erased_id), erased_id)
    await identity.close()

    payment = await secured.bus("payment")
    js = payment.nc.jetstream(timeout=REFUSED_WAIT)
    try:
        with pytest.raises(RuntimeError, match="counsel migrate"):
            await ensure_consumer(payment, consumer_config(ROOT, "payment-erasure", [">"]))
        with pytest.raises(nats.errors.TimeoutError):
            await js.add_consumer(STREAM, consumer_config(ROOT, "payment-everything", [">"]))
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_consumer(STREAM, "catalog-erasure")
        stolen = await js.pull_subscribe_bind(durable="catalog-erasure", stream=STREAM)
        with pytest.raises(nats.errors.TimeoutError):
            await stolen.fetch(batch=10, timeout=REFUSED_WAIT)
        await wait_until_logged(caplog, f'publish to "$js.api.consumer.msg.next.{STREAM}.catalog-erasure"')
        # Its own consumer still reads only what migrate declared for it.
        info = await payment.js.consumer_info(STREAM, "payment-erasure")
        assert info.config.filter_subjects == [f"{ROOT}.identity.user.erased"]
    finally:
        await payment.close()

    catalog = await secured.bus("catalog")
    try:
        subscription = await catalog.js.pull_subscribe_bind(durable="catalog-erasure", stream=STREAM)
        ids = [EventEnvelope.FromString(m.data).id for m in await subscription.fetch(batch=256, timeout=2)]
        assert erased_id in ids
    finally:
        await catalog.close()


# --- replies and listening -------------------------------------------------------------------------------


async def test_replies_and_events_reach_only_the_processes_allowed_to_read_them(
    secured: SecuredNats, caplog: pytest.LogCaptureFixture
) -> None:
    """R-OPS-3: each process reads replies on its own inbox only, so payment cannot overhear identity's
    answers from JetStream, nor listen to events outside its consumers with a plain subscription."""
    caplog.set_level(logging.ERROR, logger=EVENTS_LOGGER)
    payment = await connect_nats(secured.settings("payment"), "test-payment")
    overheard: list[str] = []

    async def listen(msg: nats.aio.msg.Msg) -> None:
        overheard.append(msg.subject)

    for subject in ("_INBOX_identity.>", "_INBOX.>", f"{ROOT}.>", ">"):
        await payment.subscribe(subject, cb=listen)
    await payment.flush()
    identity = await secured.bus("identity")
    try:
        await identity.js.stream_info(STREAM)  # a request answered on identity's inbox
        await identity.publish(f"{ROOT}.identity.user.registered", envelope(), secrets.token_hex(8))
        await asyncio.sleep(0.3)
        assert overheard == []
        await wait_until_logged(caplog, 'subscription to "_inbox_identity.>"')
    finally:
        await identity.close()
        await payment.close()


async def test_the_gateway_hears_its_wake_ups_and_nothing_else(
    secured: SecuredNats, caplog: pytest.LogCaptureFixture
) -> None:
    """R-OPS-3: the gateway's wakers still wake (an in-app notification, a chat message) on its own user, while
    it may publish nothing and listen to no other event."""
    caplog.set_level(logging.ERROR, logger=EVENTS_LOGGER)
    gateway = secured.settings(GATEWAY)
    inbox = await InboxWaker.connect(gateway)
    chat = await ChatWaker.connect(gateway)
    assert inbox is not None and chat is not None
    notification = await secured.bus("notification")
    consultation = await secured.bus("consultation")
    try:
        sent = AnyProto()
        sent.Pack(notification_events_pb2.NotificationSent(user_id="user-1", channel="in_app"))
        with inbox.watch("user-1") as woken_inbox, chat.watch("conversation-1") as woken_chat:
            await notification.publish(
                f"{ROOT}.notification.notification.sent",
                EventEnvelope(id="n1", payload=sent).SerializeToString(),
                "n1",
            )
            await consultation.publish(
                f"{ROOT}.consultation.chat.message_posted.conversation-1", envelope("c1"), "c1"
            )
            await asyncio.wait_for(woken_inbox.wait(), 5)
            await asyncio.wait_for(woken_chat.wait(), 5)

        nc = await connect_nats(gateway, "test-gateway")
        overheard: list[str] = []

        async def listen(msg: nats.aio.msg.Msg) -> None:
            overheard.append(msg.subject)

        await nc.subscribe(f"{ROOT}.identity.>", cb=listen)
        await nc.publish(f"{ROOT}.consultation.chat.message_posted.conversation-1", b"forged")
        await nc.flush()
        identity = await secured.bus("identity")
        await identity.publish(f"{ROOT}.identity.user.registered", envelope(), secrets.token_hex(8))
        await identity.close()
        await wait_until_logged(
            caplog, f'publish to "{ROOT}.consultation.chat.message_posted.conversation-1"'
        )
        await wait_until_logged(caplog, f'subscription to "{ROOT}.identity.>"')
        await nc.close()
        assert overheard == []
    finally:
        await inbox.close()
        await chat.close()
        await notification.close()
        await consultation.close()


# --- the audit --------------------------------------------------------------------------------------------


async def test_counsel_audit_verify_reads_the_published_anchors_as_the_audit_user(
    secured: SecuredNats, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 20, R-PRIV-1: on a server that checks callers, `counsel audit verify` connects as `audit`, reads
    the anchor consultation published through its own consumer and finds the chain intact."""
    secret = secrets.token_urlsafe(48)
    settings = isolated_settings(postgres_server, secret_key=secret).model_copy(
        update={
            "nats_url": secured.server.url,
            "nats_stream": STREAM,
            "subject_root": ROOT,
            "nats_user": AUDIT,
            "nats_password": SecretStr(secured.passwords[AUDIT]),
        }
    )
    async with migrated_databases(settings, *audited_services()) as databases:
        db = databases["consultation"]
        outbox = Outbox("consultation", settings, TABLES)
        stores = ConsultationStores.build(db, outbox, DataKeys(db, master_key(settings), DATA_KEYS))
        client = Principal("client-1", "tenant-1", frozenset({"client"}))
        new = NewConsultation("general", "工资", "公司拖欠工资怎么办？", "")
        consultation_id = (await stores.consultations.create(client, new, "")).view.row.id
        await stores.consultations.get(Principal("agent-1", "", frozenset({"agent"})), consultation_id)
        await anchor_and_publish(db, outbox, STAFF_READS, secret)
        consultation = await secured.bus("consultation")
        try:
            await OutboxRelay(db, outbox, consultation).relay_once()
        finally:
            await consultation.close()

        assert await verify_all(settings) == 0
        assert "consultation: staff access log intact: 1 records, 1 anchors, 1 published" in (
            capsys.readouterr().out.splitlines()
        )
        with pytest.raises(SettingsError, match="audit NATS user"):
            await verify_all(settings.model_copy(update={"nats_user": "payment"}))


async def test_audit_publishes_no_event_and_reads_nothing_but_the_anchors(
    secured: SecuredNats, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 20, R-OPS-3: the audit user cannot publish an event, open a consumer of its own on other subjects,
    get a message by sequence, drain another process's consumer or listen to events."""
    caplog.set_level(logging.ERROR, logger=EVENTS_LOGGER)
    identity = await secured.bus("identity")
    await identity.publish(f"{ROOT}.identity.user.registered", envelope(), secrets.token_hex(8))
    await identity.close()
    nc = await connect_nats(secured.settings(AUDIT), "test-audit")
    js = nc.jetstream(timeout=REFUSED_WAIT)
    overheard: list[str] = []

    async def listen(msg: nats.aio.msg.Msg) -> None:
        overheard.append(msg.subject)

    try:
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish(f"{ROOT}.consultation.access_log.anchored", envelope(), timeout=REFUSED_WAIT)
        for filter_subject in (f"{ROOT}.identity.>", f"{ROOT}.>"):
            with pytest.raises(nats.errors.TimeoutError):
                await js.add_consumer(
                    STREAM,
                    ConsumerConfig(
                        name="audit-consultation", filter_subject=filter_subject, ack_policy=AckPolicy.NONE
                    ),
                )
        with pytest.raises(nats.errors.TimeoutError):
            await js.get_msg(STREAM, seq=1)
        stolen = await js.pull_subscribe_bind(durable="catalog-erasure", stream=STREAM)
        with pytest.raises(nats.errors.TimeoutError):
            await stolen.fetch(batch=1, timeout=REFUSED_WAIT)
        await nc.subscribe(f"{ROOT}.>", cb=listen)
        await nc.flush()
        await wait_until_logged(caplog, f'publish to "{ROOT}.consultation.access_log.anchored"')
        await wait_until_logged(
            caplog, f'publish to "$js.api.consumer.create.{STREAM}.audit-consultation.{ROOT}.identity.>"'
        )
        await wait_until_logged(caplog, f'publish to "$js.api.stream.msg.get.{STREAM}"')
        await wait_until_logged(caplog, f'publish to "$js.api.consumer.msg.next.{STREAM}.catalog-erasure"')
        await wait_until_logged(caplog, f'subscription to "{ROOT}.>"')
    finally:
        await nc.close()
    assert overheard == []


def test_the_config_holds_one_user_per_connecting_process_and_none_for_the_worker(
    secured_server: SecuredNats,
) -> None:
    """R-OPS-3: the server's configuration names exactly the processes that connect, and is private."""
    config = Path(secured_server.server.config_path)
    text = config.read_text()
    for process in NATS_USERS:
        assert f'"user": "{process}"' in text
    assert '"user": "worker"' not in text
    assert config.stat().st_mode & 0o777 == 0o600
