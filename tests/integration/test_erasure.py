"""Cross-service erasure (R-PRIV-1, PIPL art. 47) against real PostgreSQL (every service's database migrated
to head) and real NATS JetStream: identity erases a user and publishes `user.erased` through its outbox; the
durable `<svc>-erasure` consumers of consultation, documents, notification, payment, catalog and booking erase or
pseudonymise their copies. Another user's data and the payment ledger stay intact, and a redelivered event
has no second effect. What each service keeps is the decision table in docs/erasure.md."""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.identity.v1 import events_pb2 as identity_events
from deploy.local.servers import NatsServer, PostgresServer
from services.booking.models import DATA_KEYS as BOOKING_DATA_KEYS
from services.booking.models import TABLES as BOOKING_TABLES
from services.booking.models import BookingRow
from services.booking.workflow_link import WorkflowLink as BookingWorkflowLink
from services.catalog.models import TABLES as CATALOG_TABLES
from services.catalog.models import OrderRecordRow, ReviewRow
from services.consultation import events as consultation_events
from services.consultation.models import DATA_KEYS as CONSULTATION_DATA_KEYS
from services.consultation.models import TABLES as CONSULTATION_TABLES
from services.consultation.models import (
    ChatConversationRow,
    ChatMessageRow,
    ClientSignalRow,
    ComplaintRow,
    ConsultationMessageRow,
    ConsultationRow,
)
from services.documents.models import TABLES as DOCUMENTS_TABLES
from services.documents.models import DocumentOrderRow, DocumentRevisionRow, DocumentStageRow
from services.identity.config import IdentitySettings
from services.identity.models import DATA_KEYS as IDENTITY_DATA_KEYS
from services.identity.models import TABLES as IDENTITY_TABLES
from services.identity.store import IdentityStores
from services.notification import events as notification_events
from services.notification.dev_outbox import DevOutbox
from services.notification.models import DATA_KEYS as NOTIFICATION_DATA_KEYS
from services.notification.models import TABLES as NOTIFICATION_TABLES
from services.notification.models import (
    DeliveryRow,
    DevMessageRow,
    InboxEntryRow,
    ParticipantRow,
    PreferencesRow,
)
from services.payment import domain as payment_domain
from services.payment.models import DATA_KEYS as PAYMENT_DATA_KEYS
from services.payment.models import TABLES as PAYMENT_TABLES
from services.payment.models import InvoiceRow, LedgerEntryRow, OrderRow, RefundRow
from services.payment.store import PaymentStores
from services.payment.store.sealed import (
    BOOKING,
    BOOKING_FACTS,
    INVOICE_TAX_ID,
    INVOICE_TITLE,
    REQUIREMENTS,
    open_answers,
    order_subject,
)
from services.payment.workflow_link import OrderWorkflowLink
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.crypto import FieldCipher, address_index
from services.runtime.db import Database
from services.runtime.erasure import ERASED_TEXT, opened
from services.runtime.erasure import SUBJECT as ERASURE_SUBJECT
from services.runtime.events import DurableConsumer, EventBus, Outbox, OutboxRelay, bind, unpack
from services.runtime.keys import DataKeys, master_key, tenant_subject, user_subject
from services.runtime.records import new_id, utcnow
from services.runtime.service import cancel_all
from services.runtime.tables import RuntimeTables
from tests.support.platform import catalog_stores, isolated_settings, migrated_databases

SERVICES = ("identity", "consultation", "documents", "notification", "payment", "catalog", "booking")
CONSUMING: dict[str, RuntimeTables] = {
    "booking": BOOKING_TABLES,
    "consultation": CONSULTATION_TABLES,
    "documents": DOCUMENTS_TABLES,
    "notification": NOTIFICATION_TABLES,
    "payment": PAYMENT_TABLES,
    "catalog": CATALOG_TABLES,
}


@dataclass
class Platform:
    settings: Settings
    dbs: dict[str, Database]
    bus: EventBus
    cipher: FieldCipher
    dev_outbox: DevOutbox
    identity: IdentityStores
    payment: PaymentStores
    consumers: dict[str, DurableConsumer]


@pytest.fixture
async def platform(
    postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str
) -> AsyncIterator[Platform]:
    settings = isolated_settings(
        postgres_server, nats_server, name=unique_name, secret_key=secrets.token_urlsafe(32)
    )
    async with migrated_databases(settings, *SERVICES, pool_size=2) as dbs:
        bus = await EventBus.connect(settings, name="erasure-test")
        cipher = FieldCipher(settings.secret_key)
        # Each service's `erasure` consumer of its events.py; all but documents' handlers use their context
        # (notification's its outbox; each of them, the data keys they destroy).
        contexts: dict[str, Any] = dict.fromkeys(CONSUMING)
        notification_keys = DataKeys(dbs["notification"], master_key(settings), NOTIFICATION_DATA_KEYS)
        dev_outbox = DevOutbox(dbs["notification"], notification_keys, cipher)
        contexts["notification"] = notification_events.HandlerContext(
            cast(Any, None), notification_keys, dev_outbox
        )
        contexts["consultation"] = consultation_events.HandlerContext(
            cast(Any, None), DataKeys(dbs["consultation"], master_key(settings), CONSULTATION_DATA_KEYS)
        )
        payment_keys = DataKeys(dbs["payment"], master_key(settings), PAYMENT_DATA_KEYS)
        contexts["payment"] = OrderWorkflowLink(cast(Any, None), "", timedelta(0), payment_keys)
        contexts["catalog"] = catalog_stores(dbs["catalog"], settings)
        contexts["booking"] = BookingWorkflowLink(
            cast(Any, None), "", DataKeys(dbs["booking"], master_key(settings), BOOKING_DATA_KEYS)
        )
        consumers = {
            service: DurableConsumer(
                f"{service}-erasure",
                bus,
                dbs[service],
                CONSUMING[service],
                bind(
                    importlib.import_module(f"services.{service}.events").TABLE["erasure"], contexts[service]
                ),
            )
            for service in CONSUMING
        }
        yield Platform(
            settings,
            dbs,
            bus,
            cipher,
            dev_outbox,
            IdentityStores.build(
                dbs["identity"],
                Outbox("identity", settings, IDENTITY_TABLES),
                cipher,
                DataKeys(dbs["identity"], master_key(settings), IDENTITY_DATA_KEYS),
                IdentitySettings.from_settings(settings),
            ),
            PaymentStores.build(
                dbs["payment"],
                Outbox("payment", settings, PAYMENT_TABLES),
                payment_keys,
            ),
            consumers,
        )
        await bus.js.delete_stream(settings.nats_stream)
        await bus.close()


# --- one person's data in every service -------------------------------------------------------------------


@dataclass
class Person:
    user_id: str
    tenant_id: str
    email: str
    consultation_id: str = ""
    chat_id: str = ""
    document_order_id: str = ""
    orders: tuple[str, ...] = ()
    lawyer_id: str = ""
    booking_id: str = ""


async def in_tx(db: Database, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
    async with db.transaction() as session:
        await work(session)


async def person_with_data(p: Platform, name: str) -> Person:
    """A client with a consultation, a document order, notifications, two orders (one invoiced) and a
    review: the data a real journey leaves in each service."""
    accounts = p.identity.accounts
    enterprise = (await accounts.create_enterprise(f"{name}的公司")).enterprise
    email = f"{name}-{secrets.token_hex(3)}@example.com"
    user = (
        await accounts.create_user(
            email=email,
            display_name=name,
            roles=("client_admin",),
            password_hash=await accounts.hash_password("Str0ng-Enough!"),
            tenant_id=enterprise.id,
        )
    ).user
    lawyer = "lawyer-" + secrets.token_hex(3)
    person = Person(user.row.id, user.row.tenant_id, email, lawyer_id=lawyer)
    now = utcnow()

    person.consultation_id = new_id()

    async def consultation(session: AsyncSession) -> None:
        session.add(
            ConsultationRow(
                id=person.consultation_id,
                tenant_id=person.tenant_id,
                client_id=person.user_id,
                kind="general",
                status="answered",
                subject=f"{name}的劳动合同",
                question=f"我是{name}，公司拖欠工资怎么办？",
                assigned_lawyer_id=lawyer,
                rating=5,
                rating_comment=f"{name}很满意",
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        for author, role, body in (
            (person.user_id, "client", f"{name}补充"),
            (lawyer, "lawyer", f"{name}您好"),
        ):
            session.add(
                ConsultationMessageRow(
                    id=new_id(),
                    consultation_id=person.consultation_id,
                    author_id=author,
                    author_role=role,
                    body=body,
                    created_at=now,
                )
            )
        session.add(
            ComplaintRow(
                id=new_id(),
                subject_type="consultation",
                subject_id=person.consultation_id,
                consultation_id=person.consultation_id,
                tenant_id=person.tenant_id,
                client_id=person.user_id,
                status="reopened",
                body=f"{name}投诉",
                resolution=f"已联系{name}",
                reopen_reason=f"{name}仍不满意",
                created_at=now,
                updated_at=now,
            )
        )

    await in_tx(p.dbs["consultation"], consultation)

    person.chat_id = new_id()

    async def chat(session: AsyncSession) -> None:
        session.add(
            ChatConversationRow(
                id=person.chat_id,
                tenant_id=person.tenant_id,
                client_id=person.user_id,
                status="active",
                agent_id="agent-" + secrets.token_hex(3),
                last_seq=2,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        for seq, (author, role, body) in enumerate(
            ((person.user_id, "client", f"{name}想咨询合同"), ("", "agent", f"{name}您好，请讲")), start=1
        ):
            session.add(
                ChatMessageRow(
                    id=new_id(),
                    conversation_id=person.chat_id,
                    seq=seq,
                    author_id=author,
                    author_role=role,
                    body=body,
                    created_at=now,
                )
            )
        session.add(
            ClientSignalRow(
                event_id=new_id(),
                client_id=person.user_id,
                tenant_id=person.tenant_id,
                kind="product_viewed",
                subject_id="product-1",
                occurred_at=now,
            )
        )

    await in_tx(p.dbs["consultation"], chat)

    person.document_order_id = new_id()

    async def documents(session: AsyncSession) -> None:
        session.add(
            DocumentOrderRow(
                id=person.document_order_id,
                tenant_id=person.tenant_id,
                order_id=new_id(),
                client_id=person.user_id,
                stage="cancelled",
                status_reason="stated",
                complexity="standard",
                requirements_json=json.dumps({"party_a": f"{name}", "amount": "30000"}, ensure_ascii=False),
                created_at=now,
            )
        )
        await session.flush()
        # A supervisor cancelled it, typing why (about the client); the order keeps `stated` only.
        for stage, reason in (("awaiting_acknowledgement", "paid"), ("cancelled", f"{name}已另行委托律所")):
            session.add(
                DocumentStageRow(
                    document_order_id=person.document_order_id,
                    stage=stage,
                    actor="system",
                    reason=reason,
                    entered_at=now,
                    idempotency_key=new_id(),
                )
            )
        session.add(
            DocumentRevisionRow(
                document_order_id=person.document_order_id,
                number=1,
                requested_by=person.user_id,
                instructions=f"把{name}的地址改一下",
                requested_at=now,
            )
        )

    await in_tx(p.dbs["documents"], documents)

    async def notification(session: AsyncSession) -> None:
        entry_id = new_id()
        session.add(
            InboxEntryRow(
                id=entry_id,
                user_id=person.user_id,
                tenant_id=person.tenant_id,
                kind="consultation.answered",
                title="已回复",
                body=f"{name}的咨询已回复",
                subject_type="consultation",
                subject_id=person.consultation_id,
                event_id=new_id(),
                created_at=now,
            )
        )
        session.add(
            DeliveryRow(
                id=new_id(),
                user_id=person.user_id,
                channel="email",
                category="status",
                kind="consultation.answered",
                title="已回复",
                body=f"{name}的咨询已回复",
                event_id=new_id(),
                inbox_entry_id=entry_id,
                status="sent",
                created_at=now,
            )
        )
        session.add(
            ParticipantRow(
                subject_type="consultation",
                subject_id=person.consultation_id,
                role="client",
                user_id=person.user_id,
            )
        )
        session.add(
            PreferencesRow(
                user_id=person.user_id,
                email_address_sealed=p.cipher.encrypt(email),
                marketing_consent_at=now,
                updated_at=now,
            )
        )
        await p.dev_outbox.record(session, "email", email, "", "验证码 123456")

    await in_tx(p.dbs["notification"], notification)

    principal = Principal(person.user_id, person.tenant_id, frozenset({"client_admin"}))
    orders = []
    for key, booking in (
        ("plain", {}),
        ("booked", {"lawyer_id": lawyer, "start": "2026-12-01T09:00", "address": f"{name}家"}),
    ):
        new = payment_domain.NewOrder(
            product_id="prod-1",
            product_name="劳动合同审查",
            category="booking" if booking else "document",
            tier={"id": "standard", "price": 19900},
            amount_fen=19900,
            currency="CNY",
            requirements={"employer": f"{name}的雇主"},
            booking=booking,
        )
        created = await p.payment.orders.create(
            principal,
            new,
            timedelta(hours=1),
            key,
            key,
            invoice_title=f"{name}的公司",
            invoice_tax_id="91110000",
        )
        orders.append(created.view.row.id)
    person.orders = tuple(orders)
    # The client cancels the booked order in their own words; an agent refunded part of the first one.
    await p.payment.orders.cancel(principal, orders[1], f"{name}搬家了，地址变了")

    async def invoice(session: AsyncSession) -> None:  # the first order has an issued invoice
        session.add(
            InvoiceRow(
                number=f"INV-{secrets.token_hex(4)}",
                order_id=orders[0],
                object_name="invoices/x.pdf",
                sha256="0" * 64,
                amount_fen=19900,
                tax_fen=1126,
                currency="CNY",
                issued_at=now,
            )
        )
        for reason in ("goodwill", f"{name}不满意"):
            session.add(
                RefundRow(
                    id=new_id(),
                    order_id=orders[0],
                    payment_id="pay-1",
                    amount_fen=100,
                    reason=reason,
                    status="succeeded",
                    created_at=now,
                )
            )

    await in_tx(p.dbs["payment"], invoice)

    async def catalog(session: AsyncSession) -> None:
        session.add(
            OrderRecordRow(order_id=orders[0], client_id=person.user_id, status="completed", updated_at=now)
        )
        session.add(
            ReviewRow(
                id=new_id(),
                order_id=orders[0],
                product_id="prod-1",
                client_id=person.user_id,
                tenant_id=person.tenant_id,
                rating=4,
                comment="专业",
                created_at=now,
            )
        )

    await in_tx(p.dbs["catalog"], catalog)

    person.booking_id = new_id()

    async def booking(session: AsyncSession) -> None:
        session.add(
            BookingRow(
                id=person.booking_id,
                tenant_id=person.tenant_id,
                client_id=person.user_id,
                lawyer_id=lawyer,
                mode="on_site",
                status="completed",
                start=now,
                minutes=60,
                ends_at=now + timedelta(minutes=60),
                buffer_minutes=60,
                blocked_from=now - timedelta(minutes=60),
                blocked_until=now + timedelta(minutes=120),
                address=f"{name}家，朝阳路 1 号",
                needs=f"{name}需要无障碍通道",
                summary=f"与{name}讨论了劳动争议",
                quality={"rating": 5, "client_comment": f"{name}很满意", "checklist": {"advice_given": True}},
                created_at=now,
            )
        )

    await in_tx(p.dbs["booking"], booking)
    return person


# --- what each service holds about a person ---------------------------------------------------------------


async def holdings(p: Platform, person: Person) -> dict[str, Any]:
    """Everything the five services hold that is tied to `person` or written by them."""
    found: dict[str, Any] = {}
    async with p.dbs["consultation"].transaction() as s:
        c = await s.get(ConsultationRow, person.consultation_id)
        assert c is not None
        messages = (
            await s.exec(
                select(ConsultationMessageRow.body).where(
                    col(ConsultationMessageRow.consultation_id) == person.consultation_id
                )
            )
        ).all()
        complaints = (
            await s.exec(
                select(ComplaintRow.body, ComplaintRow.resolution, ComplaintRow.reopen_reason).where(
                    col(ComplaintRow.consultation_id) == person.consultation_id
                )
            )
        ).all()
        chat_messages = (
            await s.exec(
                select(ChatMessageRow.body).where(col(ChatMessageRow.conversation_id) == person.chat_id)
            )
        ).all()
        signals = (
            await s.exec(select(ClientSignalRow.kind).where(col(ClientSignalRow.client_id) == person.user_id))
        ).all()
        found["consultation"] = {
            "client_id": c.client_id,
            "subject": c.subject,
            "question": c.question,
            "rating": c.rating,
            "rating_comment": c.rating_comment,
            "messages": sorted(messages),
            "complaints": [tuple(row) for row in complaints],
            "chat_messages": sorted(chat_messages),
            "intent_signals": sorted(signals),
        }
    async with p.dbs["documents"].transaction() as s:
        d = await s.get(DocumentOrderRow, person.document_order_id)
        assert d is not None
        revisions = (
            await s.exec(
                select(DocumentRevisionRow.instructions).where(
                    col(DocumentRevisionRow.document_order_id) == person.document_order_id
                )
            )
        ).all()
        stage_reasons = (
            await s.exec(
                select(DocumentStageRow.reason)
                .where(col(DocumentStageRow.document_order_id) == person.document_order_id)
                .order_by(col(DocumentStageRow.id))
            )
        ).all()
        found["documents"] = {
            "stage": d.stage,
            "status_reason": d.status_reason,
            "requirements": json.loads(d.requirements_json),
            "revisions": list(revisions),
            "stage_reasons": list(stage_reasons),
        }
    async with p.dbs["notification"].transaction() as s:
        counts = {}
        for table in (InboxEntryRow, DeliveryRow, ParticipantRow, PreferencesRow):
            counts[table.__tablename__] = len(
                (await s.exec(select(table).where(col(table.user_id) == person.user_id))).all()
            )
        counts["dev_messages"] = len(
            (
                await s.exec(
                    select(DevMessageRow).where(
                        col(DevMessageRow.to_index) == address_index(p.cipher, person.email)
                    )
                )
            ).all()
        )
        found["notification"] = counts
    async with p.dbs["payment"].transaction() as s:
        orders = (await s.exec(select(OrderRow).where(col(OrderRow.id).in_(person.orders)))).all()
        refunds = (
            await s.exec(select(RefundRow.reason).where(col(RefundRow.order_id).in_(person.orders)))
        ).all()
        found["refund_reasons"] = sorted(refunds)
        found["payment"] = {}
        for o in orders:  # what the client typed is sealed with the owner's data key: read it opened
            cipher = await p.payment.orders.keys.cipher(order_subject(o))
            found["payment"][o.id] = {
                "client_id": o.client_id,
                "amount_fen": o.amount_fen,
                "requirements": open_answers(cipher, REQUIREMENTS, o.requirements),
                "booking": open_answers(cipher, BOOKING, o.booking, BOOKING_FACTS),
                "invoice": (
                    opened(cipher, INVOICE_TITLE, o.invoice_title),
                    opened(cipher, INVOICE_TAX_ID, o.invoice_tax_id),
                ),
            }
    async with p.dbs["catalog"].transaction() as s:
        review = (await s.exec(select(ReviewRow).where(col(ReviewRow.order_id) == person.orders[0]))).one()
        record = await s.get(OrderRecordRow, person.orders[0])
        assert record is not None
        found["catalog"] = {
            "review": (review.client_id, review.rating, review.comment),
            "order_record_client": record.client_id,
        }
    async with p.dbs["booking"].transaction() as s:
        b = await s.get(BookingRow, person.booking_id)
        assert b is not None
        found["booking"] = {
            "lawyer_id": b.lawyer_id,
            "status": b.status,
            "address": b.address,
            "needs": b.needs,
            "summary": b.summary,
            "quality": b.quality,
        }
    return found


async def processed(p: Platform, service: str, event_id: str) -> bool:
    table = CONSUMING[service].processed_events
    async with p.dbs[service].transaction() as s:
        row = await s.execute(
            select(table.c.event_id).where(
                table.c.consumer == f"{service}-erasure", table.c.event_id == event_id
            )
        )
        return row.first() is not None


async def erased_event(p: Platform, user_id: str) -> EventEnvelope:
    outbox = IDENTITY_TABLES.outbox
    async with p.dbs["identity"].transaction() as s:
        payloads = (
            await s.execute(select(outbox.c.payload).where(outbox.c.subject.endswith(".user.erased")))
        ).scalars()
        envelopes = [EventEnvelope.FromString(payload) for payload in payloads]
    (event,) = [e for e in envelopes if e.aggregate_id == user_id]
    return event


async def test_an_erased_users_personal_data_is_gone_from_every_service_and_nobody_elses(
    platform: Platform,
) -> None:
    """R-PRIV-1: erasure reaches every service holding the user's data; records the law keeps stay (order
    amounts, issued invoices, the hash-chained ledger) and another user's data is untouched."""
    p = platform
    alice = await person_with_data(p, "爱丽丝")
    bob = await person_with_data(p, "鲍勃")
    bob_before = await holdings(p, bob)
    ledger_before = await p.payment.ledger.verify()
    assert ledger_before.valid and ledger_before.checked == 6  # each: two orders created, one cancelled
    async with p.dbs["payment"].transaction() as s:
        cancelled = (
            await s.exec(select(LedgerEntryRow.data).where(col(LedgerEntryRow.event) == "order_cancelled"))
        ).all()
    # The immutable ledger never holds what a person typed: only a reason code.
    assert cancelled == ['{"reason":"stated"}', '{"reason":"stated"}']

    await p.identity.privacy.erase(Principal(alice.user_id, alice.tenant_id, frozenset({"client_admin"})))
    identity_outbox = Outbox("identity", p.settings, IDENTITY_TABLES)
    assert await OutboxRelay(p.dbs["identity"], identity_outbox, p.bus).relay_once() >= 1
    event = await erased_event(p, alice.user_id)

    # The durable consumers, as each service runs them, until each has processed the event.
    tasks = [asyncio.create_task(consumer.run()) for consumer in p.consumers.values()]
    try:
        deadline = time.monotonic() + 60
        while not all([await processed(p, service, event.id) for service in CONSUMING]):
            assert time.monotonic() < deadline, "the erasure consumers did not process user.erased"
            await asyncio.sleep(0.1)
    finally:
        await cancel_all(tasks, "test")

    after = await holdings(p, alice)
    assert after["consultation"] == {
        "client_id": alice.user_id,  # a pseudonym now: identity holds nothing personal under it
        "subject": ERASED_TEXT,
        "question": ERASED_TEXT,
        "rating": 5,
        "rating_comment": "",
        "messages": [ERASED_TEXT, ERASED_TEXT],  # the lawyer's reply discussed the case too
        "complaints": [(ERASED_TEXT, ERASED_TEXT, ERASED_TEXT)],
        "chat_messages": [ERASED_TEXT, ERASED_TEXT],  # the agent's answers are about the client too
        "intent_signals": [],
    }
    # Alice was her enterprise's only member: her data key and the enterprise's are destroyed (crypto-shredding),
    # so whatever they sealed stays unreadable wherever a copy is; Bob's enterprise keeps its key.
    assert unpack(event, identity_events.UserErased).tenant_erased
    shredded = DataKeys(p.dbs["consultation"], master_key(p.settings), CONSULTATION_DATA_KEYS)
    assert (await shredded.cipher(user_subject(alice.user_id))).destroyed
    assert (await shredded.cipher(tenant_subject(alice.tenant_id))).destroyed
    assert not (await shredded.cipher(tenant_subject(bob.tenant_id))).destroyed
    assert after["documents"] == {
        "stage": "cancelled",
        "status_reason": "stated",
        "requirements": {"party_a": ERASED_TEXT, "amount": ERASED_TEXT},
        "revisions": [ERASED_TEXT],
        "stage_reasons": ["paid", ERASED_TEXT],  # a code stays; the words typed about the client go
    }
    assert after["notification"] == {
        "inbox_entries": 0,
        "deliveries": 0,
        "participants": 0,
        "notification_preferences": 0,
        "dev_messages": 0,
    }
    invoiced, booked = alice.orders
    assert after["payment"][invoiced] == {
        "client_id": alice.user_id,
        "amount_fen": 19900,
        "requirements": {"employer": ERASED_TEXT},
        "booking": {},
        # The order's copy goes with the enterprise's key; the issued invoice (its PDF, a tax record) keeps
        # its buyer.
        "invoice": (ERASED_TEXT, ERASED_TEXT),
    }
    assert after["payment"][booked] == {
        "client_id": alice.user_id,
        "amount_fen": 19900,
        "requirements": {"employer": ERASED_TEXT},
        "booking": {"lawyer_id": alice.lawyer_id, "start": "2026-12-01T09:00", "address": ERASED_TEXT},
        "invoice": ("", ""),
    }
    assert after["booking"] == {
        "lawyer_id": alice.lawyer_id,
        "status": "completed",
        "address": ERASED_TEXT,
        "needs": ERASED_TEXT,
        "summary": ERASED_TEXT,
        # The stars and the lawyer's checklist are the service's quality record (R-Q-4); the words go.
        "quality": {"rating": 5, "client_comment": ERASED_TEXT, "checklist": {"advice_given": True}},
    }
    assert after["refund_reasons"] == sorted(["goodwill", ERASED_TEXT])
    # The review's stars stay in the ratings; its author and its words go (issue 20: sealed, then erased).
    assert after["catalog"] == {"review": ("", 4, ERASED_TEXT), "order_record_client": ""}

    assert await holdings(p, bob) == bob_before
    ledger_after = await p.payment.ledger.verify()
    assert ledger_after.valid and ledger_after.checked == ledger_before.checked

    # Redelivery (JetStream delivers again after a crash before the ack): no second effect anywhere.
    envelope_bytes = event.SerializeToString()
    for consumer in p.consumers.values():
        assert await consumer.handle(envelope_bytes, ERASURE_SUBJECT) == "duplicate"
    assert await holdings(p, alice) == after
    assert await holdings(p, bob) == bob_before
