"""The notification service's fan-out and dispatcher against real PostgreSQL (migrated to head), real NATS
JetStream redelivery and a real SMTP server (aiosmtpd). The rules' clock is injected (`now=`): quiet hours,
digest windows, rate limits and retry backoff are driven by time arguments, never by sleeping.
SPEC R-Q-3 (a notification at every stage), R-PRIV-2 (no spam), R-INFO-4."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email import message_from_string
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from google.protobuf.message import Message
from sqlalchemy import text
from sqlmodel import select

from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.common.v1.money_pb2 import Money
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.payment.v1 import events_pb2 as payment_events
from deploy.local.servers import NatsServer, PostgresServer, free_port
from services.gateway.routes.notifications import InboxWaker
from services.notification import events
from services.notification.channels import DevOutboxSender, SmtpSender, senders_for
from services.notification.config import NotificationSettings
from services.notification.dev_outbox import CapturedMessage, DevOutbox
from services.notification.directory import Contact, Directory
from services.notification.models import (
    DATA_KEYS,
    TABLES,
    DeliveryRow,
    DevMessageRow,
    InboxEntryRow,
    PreferencesRow,
)
from services.notification.policy import MAX_ATTEMPTS, Channel, QuietHours
from services.notification.store import NotificationStores
from services.notification.store.fan_out import FanOut
from services.notification.store.preferences import PreferencesUpdate
from services.notification.store.sealed import ContactAddresses, seal_former_addresses
from services.runtime.crypto import FieldCipher, address_index
from services.runtime.db import Database
from services.runtime.events import DurableConsumer, EventBus, Outbox, OutboxRelay, bind
from services.runtime.keys import SEALED_PREFIX, DataKeys, master_key, user_subject
from tests.support.factories import envelope, subject_of
from tests.support.platform import isolated_settings, migrated_databases

SECRET = "integration-test-secret-key-0123456789abcdef"
# 2026-11-29 12:00 in Shanghai.
NOON = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
NIGHT = QuietHours(time(22, 0), time(8, 0), "Asia/Shanghai")


# --- a real SMTP server -------------------------------------------------------------------------------


@dataclass
class SmtpInbox:
    """aiosmtpd handler: keeps what it receives; refuses some recipients for good (550) or for now (451)."""

    received: list[tuple[list[str], str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if address in self.busy:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [content for recipients, content in self.received if address in recipients]


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpInbox, int]]:
    handler = SmtpInbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# --- the service's stores on its migrated database ------------------------------------------------------


@pytest.fixture
def settings(
    postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str, smtp: tuple[SmtpInbox, int]
) -> NotificationSettings:
    return isolated_settings(
        postgres_server,
        nats_server,
        name=unique_name,
        settings_type=NotificationSettings,
        secret_key=SECRET,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_timeout_seconds=5.0,
    )


@pytest.fixture
async def db(settings: NotificationSettings) -> AsyncIterator[Database]:
    async with migrated_databases(settings, "notification") as databases:
        yield databases["notification"]


@dataclass(frozen=True)
class NotificationService:
    """The service's stores over the test database."""

    stores: NotificationStores
    db: Database
    outbox: Outbox


def dev_outbox(settings: NotificationSettings, db: Database) -> DevOutbox:
    return DevOutbox(db, DataKeys(db, master_key(settings), DATA_KEYS), FieldCipher(SECRET))


def contact_addresses(captured: DevOutbox) -> ContactAddresses:
    """The users' contact addresses as the service opens them: on the same data keys, `v1:` with the secret key."""
    return ContactAddresses(captured.keys, FieldCipher(SECRET))


@pytest.fixture
def service(settings: NotificationSettings, db: Database) -> NotificationService:
    outbox = Outbox("notification", settings, TABLES)
    captured = dev_outbox(settings, db)
    return NotificationService(
        NotificationStores.build(
            db, outbox, contact_addresses(captured), captured, senders_for(settings, captured)
        ),
        db,
        outbox,
    )


def event(event_type: str, payload: Message, *, tenant: str = "t1") -> EventEnvelope:
    published = envelope(event_type, payload, tenant_id=tenant)
    published.occurred_at.FromDatetime(NOON)
    return published


def submitted(client: str, n: int = 0) -> EventEnvelope:
    return event(
        "consultation.submitted",
        consultation_events.ConsultationSubmitted(
            consultation_id=f"c{n}", client_id=client, kind="general", subject=f"问题 {n}"
        ),
    )


def paid(client: str, n: int = 0) -> EventEnvelope:
    return event(
        "order.paid",
        payment_events.OrderPaid(
            order_id=f"o{n}", client_id=client, amount=Money(amount=99900, currency="CNY")
        ),
    )


async def deliver(service: NotificationService, envelope: EventEnvelope, now: datetime) -> int:
    async with service.db.transaction() as session:
        return await service.stores.fan_out.deliver(envelope, session, now=now)


async def prefer(
    service: NotificationService,
    user: str,
    *,
    email: bool = True,
    sms: bool = True,
    quiet: QuietHours | None = None,
    consent: bool = False,
    language: str = "zh",
    now: datetime = NOON,
) -> str:
    address = f"{user}@example.com"
    await service.stores.preferences.put(
        user,
        PreferencesUpdate(
            email=email,
            sms=sms,
            quiet_hours=quiet,
            marketing_consent=consent,
            language=language,
            email_address=address,
            phone="13800000000",
        ),
        now=now,
    )
    return address


async def deliveries(service: NotificationService, user: str) -> list[DeliveryRow]:
    rows, _ = await service.stores.deliveries.page(user, 100, "")
    return rows


async def sms_to_user(service: NotificationService, since: datetime) -> list[CapturedMessage]:
    captured = await service.stores.direct.newest_dev_messages("", 1000)
    return [m for m in captured if m.channel == "sms" and m.created_at > since]


def user() -> str:
    return f"u{uuid.uuid4().hex[:8]}"


# --- one notification per stage change --------------------------------------------------------------


async def test_a_redelivered_event_notifies_once(
    settings: NotificationSettings, db: Database, service: NotificationService
) -> None:
    """R-Q-3: JetStream redelivers an event whose ack was lost (here: nak'd after the effect committed);
    the inbox entry and each outbound delivery exist once."""
    client = user()
    await prefer(service, client)
    bus = await EventBus.connect(settings, name="test-notifications")
    try:
        producer = Outbox("consultation", settings, TABLES)
        envelope = submitted(client)
        await bus.publish(producer.subject(envelope.type), envelope.SerializeToString(), envelope.id)
        handlers = bind(
            events.TABLE["fan-out"],
            events.HandlerContext(
                service.stores.fan_out,
                service.stores.direct.dev_outbox.keys,
                service.stores.direct.dev_outbox,
            ),
        )
        consumer = DurableConsumer("notification-fan-out", bus, db, TABLES, handlers)
        subscription = await consumer._subscribe()
        (first,) = await subscription.fetch(1, timeout=5)
        assert await consumer.handle(first.data, subject_of(envelope)) == "processed"
        await first.nak()  # as if the ack had been lost: JetStream delivers the event again
        (again,) = await subscription.fetch(1, timeout=5)
        assert again.metadata.num_delivered == 2 and again.data == first.data
        assert await consumer.handle(again.data, subject_of(envelope)) == "duplicate"
        await again.ack()
        # Even a handler run outside the consumer's dedupe (a second consumer, a replay) adds nothing.
        assert await deliver(service, envelope, NOON) == 0
    finally:
        await bus.js.delete_stream(settings.nats_stream)
        await bus.close()

    inbox = await service.stores.inbox.page(client, False, 100, "")
    assert [(e.kind, e.subject_id) for e in inbox.entries] == [("consultation.submitted", "c0")]
    assert inbox.unread == 1
    assert sorted(d.channel for d in await deliveries(service, client)) == ["email", "sms"]


async def through_the_fan_out_consumer(
    settings: NotificationSettings,
    db: Database,
    service: NotificationService,
    directory: Directory,
    published: list[EventEnvelope],
    last_recipient: str,
) -> None:
    """Publish catalog's events on JetStream and run notification's durable fan-out consumer (resolving groups
    in `directory`) until `last_recipient` has an inbox entry (or 20 s have passed)."""
    fan_out = FanOut(service.outbox, contact_addresses(service.stores.direct.dev_outbox), directory)
    context = events.HandlerContext(
        fan_out, service.stores.direct.dev_outbox.keys, service.stores.direct.dev_outbox
    )
    bus = await EventBus.connect(settings, name=f"test-fan-out-{uuid.uuid4().hex[:8]}")
    catalog = Outbox("catalog", settings, TABLES)
    consumer = DurableConsumer(
        "notification-fan-out", bus, db, TABLES, bind(events.TABLE["fan-out"], context)
    )
    running = asyncio.create_task(consumer.run())
    try:
        for envelope in published:
            await bus.publish(catalog.subject(envelope.type), envelope.SerializeToString(), envelope.id)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            last = (await service.stores.inbox.page(last_recipient, False, 10, "")).entries
            if last or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await bus.js.delete_stream(settings.nats_stream)
        await bus.close()


@dataclass(frozen=True)
class StaffDirectory:
    """Identity's answer for the staff groups: the supervisors' accounts (identity's own lookup is tested
    in tests/integration/test_identity_flows.py)."""

    supervisors: tuple[str, ...]

    async def members(self, role: str, tenant_id: str) -> list[Contact]:
        return [Contact(s) for s in self.supervisors] if role == "supervisor" else []

    async def contact(self, user_id: str) -> Contact | None:
        return None


async def test_quality_supervision_reaches_the_lawyer_and_the_supervisors_through_the_consumer(
    settings: NotificationSettings, db: Database, service: NotificationService
) -> None:
    """R-Q-4/R-Q-5: catalog's `quality.follow_up_opened` (a supervisor failed a sample) reaches the lawyer,
    its `quality.risk_flagged` every supervisor, each in their language, through notification's durable
    fan-out consumer reading catalog's subjects on JetStream."""
    lawyer, supervisors = user(), (user(), user())
    await prefer(service, lawyer, language="zh")
    await prefer(service, supervisors[1], language="en")
    follow_up = event(
        "quality.follow_up_opened",
        catalog_events.QualityFollowUpOpened(
            sample_id="s1",
            lawyer_id=lawyer,
            kind="consultation_reply",
            object_id="c1",
            score=2,
            findings="未说明诉讼时效",
        ),
    )
    flagged = event(
        "quality.risk_flagged",
        catalog_events.QualityRiskFlagged(
            flag_id="f1", kind="visit_without_check_in", lawyer_id=lawyer, object_id="b1", detail="…"
        ),
    )
    await through_the_fan_out_consumer(
        settings, db, service, StaffDirectory(supervisors), [follow_up, flagged], supervisors[1]
    )

    (to_lawyer,) = (await service.stores.inbox.page(lawyer, False, 10, "")).entries
    assert (to_lawyer.kind, to_lawyer.subject_type, to_lawyer.subject_id) == (
        "quality.follow_up_opened",
        "qc_sample",
        "s1",
    )
    assert to_lawyer.title == "质检未通过，请跟进"
    assert "咨询回复" in to_lawyer.body and "2 分" in to_lawyer.body and "未说明诉讼时效" in to_lawyer.body
    for supervisor, title, risk in (
        (supervisors[0], "律师服务风险提示", "上门会面结束时律师未签到"),
        (supervisors[1], "Lawyer risk flagged", "without the lawyer's check-in"),
    ):
        (to_supervisor,) = (await service.stores.inbox.page(supervisor, False, 10, "")).entries
        assert (to_supervisor.kind, to_supervisor.subject_type, to_supervisor.subject_id) == (
            "quality.risk_flagged.supervisor",
            "risk_flag",
            "f1",
        )
        assert to_supervisor.title == title and risk in to_supervisor.body
        assert to_supervisor.category == "transactional"


@dataclass(frozen=True)
class OperatorDirectory:
    """Identity's answer for the operators' group."""

    operators: tuple[str, ...]

    async def members(self, role: str, tenant_id: str) -> list[Contact]:
        return [Contact(o) for o in self.operators] if role == "operator" else []

    async def contact(self, user_id: str) -> Contact | None:
        return None


async def test_an_ending_firm_agreement_reaches_every_operator_in_the_inbox_and_by_email(
    settings: NotificationSettings,
    db: Database,
    service: NotificationService,
    smtp: tuple[SmtpInbox, int],
) -> None:
    """§4.1.1: catalog's `firm.agreement_ending` (the QualificationDeadlineWorkflow's warning) reaches every
    operator at once through notification's durable fan-out consumer: an inbox entry and an e-mail each, in
    their language, once though the relay published the event twice."""
    mail, _ = smtp
    operators = (user(), user())
    addresses = [
        await prefer(service, operator, sms=False, language=language)
        for operator, language in zip(operators, ("zh", "en"), strict=True)
    ]
    ending = event(
        "firm.agreement_ending",
        catalog_events.FirmAgreementEnding(
            firm_id="f1", name="正义律师事务所", agreement_ends_on="2026-12-31"
        ),
        tenant="",
    )
    # A relay's retry publishes the same event id again: it adds nothing.
    await through_the_fan_out_consumer(
        settings, db, service, OperatorDirectory(operators), [ending, ending], operators[1]
    )

    report = await service.stores.deliveries.dispatch_once()
    assert report.sent == 2
    for operator, address, title, body in (
        (operators[0], addresses[0], "合作协议即将到期：正义律师事务所", "2026-12-31 到期"),
        (operators[1], addresses[1], "Cooperation agreement ending: 正义律师事务所", "ends on 2026-12-31"),
    ):
        (entry,) = (await service.stores.inbox.page(operator, False, 10, "")).entries
        assert (entry.kind, entry.subject_type, entry.subject_id, entry.category) == (
            "firm.agreement_ending.operator",
            "firm",
            "f1",
            "transactional",
        )
        assert entry.title == title and body in entry.body
        (sent,) = mail.to(address)
        parsed = message_from_string(sent, policy=default)
        assert parsed["Subject"] == title and body in parsed.get_content()


async def test_later_stages_reach_participants_learned_from_earlier_events(
    service: NotificationService,
) -> None:
    client, lawyer = user(), user()
    await deliver(service, submitted(client), NOON)
    await deliver(
        service,
        event(
            "consultation.assigned",
            consultation_events.ConsultationAssigned(consultation_id="c0", lawyer_id=lawyer),
        ),
        NOON,
    )
    await deliver(
        service,
        event(
            "consultation.replied",
            consultation_events.ConsultationReplied(consultation_id="c0", author_id=lawyer),
        ),
        NOON,
    )
    client_kinds = [e.kind for e in (await service.stores.inbox.page(client, False, 100, "")).entries]
    lawyer_kinds = [e.kind for e in (await service.stores.inbox.page(lawyer, False, 100, "")).entries]
    assert sorted(client_kinds) == [
        "consultation.assigned.client",
        "consultation.replied",
        "consultation.submitted",
    ]
    assert lawyer_kinds == ["consultation.assigned.lawyer"]  # not told of their own reply


async def test_messages_are_in_the_users_language(service: NotificationService) -> None:
    english, chinese = user(), user()
    await prefer(service, english, language="en")
    await prefer(service, chinese, language="zh")
    await deliver(service, submitted(english, 1), NOON)
    await deliver(service, submitted(chinese, 2), NOON)
    assert (await service.stores.inbox.page(english, False, 10, "")).entries[
        0
    ].title == "Consultation received"
    assert (await service.stores.inbox.page(chinese, False, 10, "")).entries[0].title == "咨询已提交"


# --- SMTP, quiet hours, digest, rate limit, opt-out --------------------------------------------------


async def test_a_transactional_message_goes_by_smtp_at_once_even_in_quiet_hours(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, _ = smtp
    client = user()
    address = await prefer(service, client, quiet=NIGHT)
    midnight = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
    await deliver(service, paid(client), midnight)
    report = await service.stores.deliveries.dispatch_once(now=midnight)
    assert report.sent == 2  # e-mail and SMS, no consent or daytime needed for a payment receipt
    (mail,) = inbox.to(address)
    parsed = message_from_string(mail, policy=default)
    assert parsed["Subject"] == "支付成功" and parsed["To"] == address
    assert "999.00 CNY" in parsed.get_content()
    entries = (await service.stores.inbox.page(client, False, 10, "")).entries
    assert entries[0].category == "transactional"


async def test_quiet_hours_defer_a_status_message_and_then_deliver_it(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    """R-PRIV-2: queued at 23:00 local, nothing goes out in the night, it goes at 08:00."""
    inbox, _ = smtp
    client = user()
    address = await prefer(service, client, quiet=NIGHT, sms=False)
    late = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    await deliver(service, submitted(client), late)
    assert (await service.stores.inbox.page(client, False, 10, "")).unread == 1  # the inbox has it at once

    for minutes in (2, 60, 8 * 60 + 59):  # 23:02, 00:00, 07:59
        report = await service.stores.deliveries.dispatch_once(now=late + timedelta(minutes=minutes))
        assert report.sent == 0
    assert inbox.to(address) == []
    (queued,) = await deliveries(service, client)
    assert queued.status == "queued"

    morning = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    report = await service.stores.deliveries.dispatch_once(now=morning)
    assert (report.released, report.sent) == (1, 1)
    assert len(inbox.to(address)) == 1
    (sent,) = await deliveries(service, client)
    assert sent.status == "sent" and sent.sent_at == morning


async def test_ten_status_messages_in_a_minute_become_one_digest_per_channel(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, _ = smtp
    client = user()
    address = await prefer(service, client, language="en")
    for n in range(10):
        await deliver(service, submitted(client, n), NOON + timedelta(seconds=5 * n))
    assert (
        len((await service.stores.inbox.page(client, False, 100, "")).entries) == 10
    )  # the inbox keeps each one

    assert (
        await service.stores.deliveries.dispatch_once(now=NOON + timedelta(seconds=50))
    ).sent == 0  # still collecting
    report = await service.stores.deliveries.dispatch_once(now=NOON + timedelta(minutes=1))
    assert (report.released, report.digests, report.sent) == (20, 2, 2)  # ten per channel → one each
    (mail,) = inbox.to(address)
    parsed = message_from_string(mail, policy=default)
    assert parsed["Subject"] == "10 service updates"
    assert parsed.get_content().count("Consultation received") == 10
    sms = [
        m for m in await sms_to_user(service, NOON - timedelta(days=3650)) if "10 service updates" in m.body
    ]
    assert len(sms) == 1 and sms[0].body.count("Consultation received") == 10
    rows = await deliveries(service, client)
    assert sorted({r.status for r in rows}) == ["digested", "sent"]
    assert len([r for r in rows if r.kind == "digest"]) == 2


async def test_the_rate_limit_holds_status_messages_but_not_transactional_ones(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, _ = smtp
    client = user()
    address = await prefer(service, client, email=False)  # SMS only: 5 per hour
    for n in range(5):
        await deliver(service, paid(client, n), NOON + timedelta(minutes=n))
        await service.stores.deliveries.dispatch_once(now=NOON + timedelta(minutes=n))
    await deliver(service, submitted(client), NOON + timedelta(minutes=10))
    assert (
        await service.stores.deliveries.dispatch_once(now=NOON + timedelta(minutes=12))
    ).sent == 0  # limit reached

    await deliver(service, paid(client, 99), NOON + timedelta(minutes=20))
    assert (
        await service.stores.deliveries.dispatch_once(now=NOON + timedelta(minutes=20))
    ).sent == 1  # a receipt is not held

    assert (await service.stores.deliveries.dispatch_once(now=NOON + timedelta(minutes=59))).sent == 0
    report = await service.stores.deliveries.dispatch_once(
        now=NOON + timedelta(minutes=60)
    )  # the first send left the window
    assert report.sent == 1
    assert inbox.to(address) == []  # e-mail is off
    statuses = {r.kind: r.status for r in await deliveries(service, client)}
    assert statuses["consultation.submitted"] == "sent"


async def test_an_opted_out_channel_is_not_used(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, _ = smtp
    client = user()
    address = await prefer(service, client, email=False, sms=False)
    await deliver(service, submitted(client), NOON)
    await deliver(service, paid(client), NOON)  # transactional too: the user turned both channels off
    await service.stores.deliveries.dispatch_once(now=NOON + timedelta(hours=1))
    assert await deliveries(service, client) == []
    assert inbox.to(address) == []
    assert (
        len((await service.stores.inbox.page(client, False, 10, "")).entries) == 2
    )  # the inbox still has both


async def test_turning_a_channel_off_cancels_what_waits_on_it(service: NotificationService) -> None:
    client = user()
    await prefer(service, client)
    await deliver(service, submitted(client), NOON)
    await prefer(service, client, email=False, sms=False)
    await service.stores.deliveries.dispatch_once(now=NOON + timedelta(minutes=5))
    assert {r.status for r in await deliveries(service, client)} == {"cancelled"}


# --- failures: retry with backoff, fall back to the inbox --------------------------------------------


async def test_a_refused_address_falls_back_to_the_inbox_at_once(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, _ = smtp
    client = user()
    address = await prefer(service, client, sms=False)
    inbox.refuse.add(address)
    await deliver(service, paid(client), NOON)
    (entry,) = (await service.stores.inbox.page(client, False, 10, "")).entries
    await service.stores.inbox.mark_read(client, entry.id)

    report = await service.stores.deliveries.dispatch_once(now=NOON)
    assert report.fell_back == 1
    (delivery,) = await deliveries(service, client)
    assert (delivery.status, delivery.attempts) == ("fell_back", 1)
    assert "550" in delivery.last_error
    assert (
        await service.stores.inbox.page(client, False, 10, "")
    ).unread == 1  # the receipt is back at the top of the inbox, unread


async def test_a_temporary_failure_is_retried_with_backoff_then_delivered(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, _ = smtp
    client = user()
    address = await prefer(service, client, sms=False)
    inbox.busy.add(address)
    await deliver(service, paid(client), NOON)

    assert (await service.stores.deliveries.dispatch_once(now=NOON)).retried == 1
    (delivery,) = await deliveries(service, client)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "ready",
        1,
        NOON + timedelta(seconds=30),
    )
    assert (
        await service.stores.deliveries.dispatch_once(now=NOON + timedelta(seconds=29))
    ).retried == 0  # not yet due
    assert (await service.stores.deliveries.dispatch_once(now=NOON + timedelta(seconds=30))).retried == 1
    (delivery,) = await deliveries(service, client)
    assert delivery.next_attempt_at == NOON + timedelta(seconds=30 + 60)  # the wait doubled

    inbox.busy.clear()
    assert (await service.stores.deliveries.dispatch_once(now=NOON + timedelta(seconds=90))).sent == 1
    assert len(inbox.to(address)) == 1
    (delivery,) = await deliveries(service, client)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")


async def test_an_unreachable_smtp_server_falls_back_after_the_last_attempt(
    settings: NotificationSettings, db: Database
) -> None:
    unreachable = settings.model_copy(update={"smtp_port": free_port()})
    outbox = Outbox("notification", settings, TABLES)
    captured = dev_outbox(settings, db)
    senders = {Channel.EMAIL: SmtpSender(unreachable), Channel.SMS: DevOutboxSender(Channel.SMS, captured)}
    service = NotificationService(
        NotificationStores.build(db, outbox, contact_addresses(captured), captured, senders), db, outbox
    )
    client = user()
    await prefer(service, client, sms=False)
    await deliver(service, paid(client), NOON)
    now = NOON
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = await service.stores.deliveries.dispatch_once(now=now)
        (delivery,) = await deliveries(service, client)
        assert delivery.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert report.retried == 1 and delivery.next_attempt_at is not None
            now = delivery.next_attempt_at
        else:
            assert report.fell_back == 1 and delivery.status == "fell_back"
    assert "SMTP unavailable" in delivery.last_error


# --- preferences and consent ------------------------------------------------------------------------


async def test_preferences_record_consent_time_and_seal_addresses(service: NotificationService) -> None:
    client = user()
    defaults = await service.stores.preferences.get(client)
    assert (defaults.email, defaults.sms, defaults.marketing_consent_at) == (True, True, None)
    assert defaults.quiet_hours == NIGHT

    await prefer(service, client, consent=True, now=NOON)
    await prefer(service, client, consent=True, now=NOON + timedelta(days=1))
    kept = await service.stores.preferences.get(client)
    assert kept.marketing_consent_at == NOON  # when consent was first given
    assert kept.email_address == f"{client}@example.com" and kept.phone == "13800000000"

    async with service.db.transaction() as session:
        raw = (
            await session.execute(
                text(
                    "SELECT email_address_sealed, phone_sealed FROM notification_preferences WHERE user_id = :u"
                ),
                {"u": client},
            )
        ).one()
    assert "example.com" not in raw[0] and "13800000000" not in raw[1]  # personal data sealed at rest

    await prefer(service, client, consent=False)
    assert (await service.stores.preferences.get(client)).marketing_consent_at is None


async def test_addresses_sealed_with_the_former_field_cipher_are_sealed_anew_with_the_users_key(
    service: NotificationService,
) -> None:
    """docs/privacy.md: one way to seal — the `v1:` values of before are sealed with the person's data key at
    start, so their erasure shreds them; a second start finds nothing."""
    client, former = user(), FieldCipher(SECRET)
    async with service.db.transaction() as session:
        session.add(
            PreferencesRow(
                user_id=client,
                email_address_sealed=former.encrypt(f"{client}@example.com"),
                phone_sealed=former.encrypt("13800000000"),
                updated_at=NOON,
            )
        )
    keys = service.stores.direct.dev_outbox.keys
    assert await seal_former_addresses(service.db, keys, former) == 1
    assert await seal_former_addresses(service.db, keys, former) == 0
    async with service.db.transaction() as session:
        row = await session.get(PreferencesRow, client)
    assert (
        row is not None
        and row.email_address_sealed.startswith("dk1:")
        and row.phone_sealed.startswith("dk1:")
    )
    prefs = await service.stores.preferences.get(client)
    assert (prefs.email_address, prefs.phone) == (f"{client}@example.com", "13800000000")
    await keys.destroy(user_subject(client))
    assert (await service.stores.preferences.get(client)).email_address == ""  # shredded with the key


async def test_a_rolling_deploy_reads_addresses_still_sealed_the_former_way(
    service: NotificationService, smtp: tuple[SmtpInbox, int]
) -> None:
    """During a rolling deploy a process reads a row its own start has not sealed anew yet, or one a process
    of the code before wrote since (`v1:`): it opens it with the former cipher (services/runtime/resealing.py)
    and sends to it; what it writes is sealed with the person's key; the next start's sealing leaves the same
    addresses."""
    inbox, _ = smtp
    client, former = user(), FieldCipher(SECRET)
    address = f"{client}@example.com"
    async with service.db.transaction() as session:
        session.add(
            PreferencesRow(
                user_id=client,
                email_address_sealed=former.encrypt(address),
                phone_sealed=former.encrypt("13800000000"),
                updated_at=NOON,
            )
        )
    prefs = await service.stores.preferences.get(client)
    assert (prefs.email_address, prefs.phone) == (address, "13800000000")
    await deliver(service, paid(client), NOON)
    assert (await service.stores.deliveries.dispatch_once(now=NOON)).sent == 2
    assert len(inbox.to(address)) == 1  # the payment receipt reached the address sealed the former way

    assert await prefer(service, client, quiet=NIGHT) == address  # a change: written the new way
    async with service.db.transaction() as session:
        row = await session.get(PreferencesRow, client)
    assert row is not None and row.email_address_sealed.startswith(SEALED_PREFIX)
    assert row.phone_sealed.startswith(SEALED_PREFIX)
    assert await seal_former_addresses(service.db, service.stores.direct.dev_outbox.keys, former) == 0
    prefs = await service.stores.preferences.get(client)
    assert (prefs.email_address, prefs.phone, prefs.quiet_hours) == (address, "13800000000", NIGHT)


async def test_inbox_queries_are_scoped_to_the_user(service: NotificationService) -> None:
    alice, bob = user(), user()
    await deliver(service, submitted(alice), NOON)
    (entry,) = (await service.stores.inbox.page(alice, False, 10, "")).entries
    assert (await service.stores.inbox.page(bob, False, 10, "")).entries == []
    with pytest.raises(Exception, match="no such notification"):
        await service.stores.inbox.mark_read(bob, entry.id)
    assert await deliveries(service, bob) == []


async def test_a_document_order_is_followed_from_delivery_on(service: NotificationService) -> None:
    """Documents' events before the first delivery do not name the client (see domain.py): the author
    hears of approval; the client hears of delivery (transactional), revisions and completion."""
    client, lawyer = user(), user()
    order = "d-" + uuid.uuid4().hex[:6]
    steps: list[tuple[str, Message]] = [
        (
            "docorder.acknowledged",
            documents_events.DocOrderAcknowledged(document_order_id=order, agent_id="a"),
        ),
        (
            "docorder.drafted",
            documents_events.DocOrderDrafted(document_order_id=order, version_number=1, author_id=lawyer),
        ),
        (
            "docorder.approved",
            documents_events.DocOrderApproved(document_order_id=order, version_number=1, reviewer_id="r"),
        ),
        (
            "docorder.delivered",
            documents_events.DocOrderDelivered(document_order_id=order, version_number=1, client_id=client),
        ),
        (
            "docorder.revision_requested",
            documents_events.DocOrderRevisionRequested(document_order_id=order, requested_by=client),
        ),
        (
            "docorder.completed",
            documents_events.DocOrderCompleted(document_order_id=order, order_id="o", final_version_number=2),
        ),
    ]
    for event_type, payload in steps:
        await deliver(service, event(event_type, payload), NOON)
    client_kinds = sorted(e.kind for e in (await service.stores.inbox.page(client, False, 100, "")).entries)
    lawyer_kinds = sorted(e.kind for e in (await service.stores.inbox.page(lawyer, False, 100, "")).entries)
    assert client_kinds == ["docorder.completed", "docorder.delivered", "docorder.revision_requested.client"]
    assert lawyer_kinds == ["docorder.approved", "docorder.revision_requested.lawyer"]
    entries: list[InboxEntryRow] = (await service.stores.inbox.page(client, False, 100, "")).entries
    assert {e.kind: e.category for e in entries}["docorder.delivered"] == "transactional"


async def test_lifting_quiet_hours_releases_what_waits_for_the_morning(service: NotificationService) -> None:
    client = user()
    await prefer(service, client, quiet=NIGHT, sms=False)
    late = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    await deliver(service, submitted(client), late)
    assert (await service.stores.deliveries.dispatch_once(now=late + timedelta(minutes=2))).sent == 0
    (waiting,) = await deliveries(service, client)
    assert waiting.next_attempt_at == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # looked at again at 08:00
    await prefer(service, client, quiet=None, sms=False, now=late + timedelta(minutes=3))
    assert (await service.stores.deliveries.dispatch_once(now=late + timedelta(minutes=4))).sent == 1


async def test_an_event_whose_payload_does_not_match_its_type_is_skipped(
    service: NotificationService,
) -> None:
    wrong = event("order.paid", consultation_events.ConsultationClosed(consultation_id="c", client_id="x"))
    assert await deliver(service, wrong, NOON) == 0


async def test_an_inbox_entry_wakes_the_users_open_streams_through_the_event_bus(
    settings: NotificationSettings, db: Database, service: NotificationService
) -> None:
    """The in-app push: the entry's `notification.sent` goes out through the outbox and JetStream, and the
    gateway's subscription wakes that user's SSE streams (and nobody else's)."""
    client, other = user(), user()
    bus = await EventBus.connect(settings, name="test-waker")
    waker = await InboxWaker.connect(settings)
    assert waker is not None
    try:
        with waker.watch(client) as woken, waker.watch(other) as not_woken:
            await deliver(service, submitted(client), NOON)
            assert await OutboxRelay(db, service.outbox, bus).relay_once() == 1
            await asyncio.wait_for(woken.wait(), 10)
            assert not not_woken.is_set()
    finally:
        await waker.close()
        await bus.js.delete_stream(settings.nats_stream)
        await bus.close()


async def test_the_dev_outbox_seals_by_address_and_an_erased_address_is_used_anew(
    settings: NotificationSettings, db: Database
) -> None:
    """docs/privacy.md: a captured message is sealed with its address's data key and found by the address's
    blind index (with or without +86); erasing the address's owner deletes it and destroys the key, and a
    new account on that phone gets its codes under a new key."""
    captured = dev_outbox(settings, db)
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    async with db.transaction() as session:
        await captured.record(session, "sms", f"+86{phone}", "", "验证码 111111")
    assert [(m.to, m.body) for m in await captured.newest(phone, 10)] == [(f"+86{phone}", "验证码 111111")]
    async with db.transaction() as session:
        [row] = (await session.exec(select(DevMessageRow))).all()
    assert phone not in row.to + row.to_index and "111111" not in row.body

    async with db.transaction() as session:
        await captured.erase(session, [address_index(FieldCipher(SECRET), phone)])
    assert await captured.newest(phone, 10) == []
    async with db.transaction() as session:
        await captured.record(session, "sms", phone, "", "验证码 222222")
    assert [m.body for m in await captured.newest(f"+86{phone}", 10)] == ["验证码 222222"]
