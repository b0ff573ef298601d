"""The documents service's store and file bucket against real PostgreSQL (migrated with its Alembic
revisions) and NATS JetStream's Object Store: idempotent creation, assignment by legal field (the rules
consultation uses), the catalog's lawyer events feeding the projection, tenant isolation,
the review gate, breaches recorded once, versions with their SHA-256 streamed chunk by chunk
(R-DOC-2..6, §9.5, R-ACC-4)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import cast

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from counsel.catalog.v1.events_pb2 import LawyerChanged, LawyerServiceWindow
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.documents.v1.events_pb2 import DocOrderAssigned, DocOrderSlaBreached
from deploy.local.servers import NatsServer, PostgresServer
from services.documents import domain
from services.documents import events as documents_events
from services.documents.files import DocumentFiles
from services.documents.models import DATA_KEYS, TABLES, DocumentVersionRow, LawyerRosterRow
from services.documents.server import document_order_proto
from services.documents.store import DocumentsStores, NewOrder
from services.documents.store.sealed import seal_clear_files, seal_clear_rows
from services.documents.workflow_link import WorkflowLink
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.runtime.events import EventBus, Outbox, unpack
from services.runtime.keys import SEALED_PREFIX, DataKeys, master_key
from services.runtime.metrics import DUE_IN, refresh_sla_timers
from services.runtime.records import new_id, utcnow
from services.runtime.sealed_files import open_file, seal_file
from tests.support.factories import deliver
from tests.support.platform import isolated_settings, migrated_databases

TENANT = "tenant-1"
CLIENT = Principal("client-1", tenant_id=TENANT, roles=frozenset({"client_admin"}))
OTHER_CLIENT = Principal("client-9", tenant_id="tenant-9", roles=frozenset({"client"}))
AGENT = Principal("agent-1", roles=frozenset({"agent"}))
REVIEWER = Principal("reviewer-1", roles=frozenset({"reviewer", "lawyer"}))
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def settings(postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str) -> Settings:
    return isolated_settings(
        postgres_server, nats_server, name=unique_name, secret_key=secrets.token_urlsafe(32)
    )


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[DocumentsStores]:
    async with migrated_databases(settings, "documents") as databases:
        db = databases["documents"]
        yield DocumentsStores.build(
            db, Outbox("documents", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
        )


@pytest.fixture
async def files(settings: Settings) -> AsyncIterator[DocumentFiles]:
    bus = await EventBus.connect(settings, name="documents-test")
    yield await DocumentFiles.open(bus.js, replicas=1)
    await bus.js.delete_stream(settings.nats_stream)
    await bus.close()


async def read(files: DocumentFiles, name: str) -> bytes:
    """An object's bytes as a download gets them."""
    return b"".join([chunk async for chunk in files.chunks(name)])


def new_order(**overrides: object) -> NewOrder:
    values: dict[str, object] = {
        "order_id": f"order-{os.urandom(4).hex()}",
        "tenant_id": TENANT,
        "client_id": CLIENT.user_id,
        "product_id": "doc-contract-drafting",
        "complexity": "simple",
        "paid_at": utcnow(),
        "acknowledge_within": timedelta(minutes=30),
        "draft_within": timedelta(hours=24),
        "revision_window": timedelta(days=3),
        "requirements": {"parties": "甲方/乙方"},
        # The product's field: the roster's lawyers below have passed it.
        "legal_field": "contract",
        "legal_field_source": "product",
    }
    values.update(overrides)
    return NewOrder(**values)  # type: ignore[arg-type]


async def events(stores: DocumentsStores) -> list[str]:
    async with stores.orders.db.transaction() as session:
        rows = (await session.execute(select(TABLES.outbox.c.subject).order_by(TABLES.outbox.c.seq))).all()
    return [row.subject.split(".", 2)[2] for row in rows]


def lawyer(user_id: str) -> Principal:
    return Principal(user_id, roles=frozenset({"lawyer"}))


async def test_creation_is_idempotent_by_order_id_and_spreads_equal_lawyers(stores: DocumentsStores) -> None:
    for n in (1, 2):
        await stores.staff.upsert_staff(f"lawyer-{n}", "lawyer", f"licence-{n}", fields=["contract"])
    first = new_order(legal_field="contract", legal_field_source="product")
    created = await stores.orders.create(first)
    again = await stores.orders.create(first)
    assert created.created and not again.created and again.view.row.id == created.view.row.id
    view = created.view
    other = (await stores.orders.create(new_order(legal_field="contract", legal_field_source="product"))).view
    # equal lawyers: the one with the lighter open load takes the next order
    assert {view.row.assigned_lawyer_id, other.row.assigned_lawyer_id} == {"lawyer-1", "lawyer-2"}
    assert view.row.assignment_reason.startswith("field contract;")
    assert view.row.assignment_reason.endswith("(field from product)")
    assert view.row.legal_field == "contract"
    assert view.row.stage == "awaiting_acknowledgement"
    assert view.row.acknowledge_due_at == first.paid_at + timedelta(minutes=30)  # R-DOC-2
    assert [s.stage for s in view.stages] == ["awaiting_acknowledgement"]
    assert await events(stores) == ["docorder.created", "docorder.created"]


async def test_requirements_are_stored_sealed_and_rows_from_before_are_sealed_at_start(
    stores: DocumentsStores,
) -> None:
    await stores.staff.upsert_staff("lawyer-1", "lawyer", "licence-1", fields=["contract"])
    order_id = (await stores.orders.create(new_order())).view.row.id
    assert (await stores.orders.get(CLIENT, order_id)).row.requirements_json == '{"parties": "甲方/乙方"}'
    await stores.orders.acknowledge(AGENT, order_id, "收到")
    upload = domain.validate_upload("合同.docx", DOCX, b"draft", "初稿")
    await stores.versions.add_version(lawyer("lawyer-1"), order_id, upload, files_discarded)
    async with stores.orders.db.engine.begin() as conn:
        (stored,) = (await conn.execute(text("SELECT requirements_json FROM document_orders"))).one()
        assert json.loads(stored)["parties"].startswith(SEALED_PREFIX)
        (note,) = (await conn.execute(text("SELECT note FROM document_versions"))).one()
        assert note.startswith(SEALED_PREFIX)
        # As rows written before sealing hold them:
        await conn.execute(text("""UPDATE document_orders SET requirements_json = '{"parties": "丙方"}'"""))
        await conn.execute(text("UPDATE document_versions SET note = '旧稿', review_comment = '请改'"))

    assert await seal_clear_rows(stores.orders.db, stores.orders.keys) == 2
    assert await seal_clear_rows(stores.orders.db, stores.orders.keys) == 0  # a second start finds nothing
    async with stores.orders.db.engine.begin() as conn:
        stored_note, stored_comment = (
            await conn.execute(text("SELECT note, review_comment FROM document_versions"))
        ).one()
    assert stored_note.startswith(SEALED_PREFIX) and stored_comment.startswith(SEALED_PREFIX)
    view = await stores.orders.get(CLIENT, order_id)
    assert view.row.requirements_json == '{"parties": "丙方"}'
    assert [(v.note, v.review_comment) for v in view.versions] == [("旧稿", "请改")]


async def files_discarded(name: str, content: bytes) -> None:
    """An object store for a test about rows: the file goes nowhere."""


async def test_the_lawyer_practises_the_orders_field_is_active_and_not_overloaded(
    stores: DocumentsStores,
) -> None:
    """R-DOC-3 "matched by legal field, as in consultation": only active lawyers of the field below their
    open-load limit are eligible; the reason is recorded; nobody in the field → nobody: an agent assigns it
    (test_an_order_nobody_has_passed_the_field_of_waits_for_an_agent)."""
    await stores.staff.upsert_staff("labour-busy", "lawyer", "l-1", fields=["labour"])
    await stores.staff.upsert_staff("labour-free", "lawyer", "l-2", fields=["labour"])
    await stores.staff.upsert_staff("labour-inactive", "lawyer", "l-3", fields=["labour"])
    await stores.staff.upsert_staff("contract-only", "lawyer", "l-4", fields=["contract"])
    async with stores.orders.db.transaction() as session:
        for user_id, active, max_open in (("labour-inactive", False, 20), ("labour-busy", True, 1)):
            row = await session.get(LawyerRosterRow, user_id)
            assert row is not None
            row.active, row.max_open = active, max_open
            session.add(row)
    busy = (
        await stores.orders.create(new_order(legal_field="labour"))
    ).view  # labour-busy: lowest id, no load
    assert busy.row.assigned_lawyer_id == "labour-busy"
    chosen = [(await stores.orders.create(new_order(legal_field="labour"))).view.row for _ in range(3)]
    # labour-busy is at its limit of one open order, labour-inactive is never chosen
    assert {row.assigned_lawyer_id for row in chosen} == {"labour-free"}
    assert "field labour" in chosen[0].assignment_reason and "1 eligible" in chosen[0].assignment_reason

    stray = (await stores.orders.create(new_order(legal_field="tax", legal_field_source="classified"))).view
    assert stray.row.assigned_lawyer_id == ""  # contract-only has not passed tax: no lawyer of another field
    assert (
        stray.row.assignment_reason
        == "no eligible lawyer has passed tax: left to an agent (field from classified)"
    )


async def test_the_catalogs_lawyer_changes_decide_who_is_assignable_by_field(
    stores: DocumentsStores,
) -> None:
    """R-DOC-3: `catalog.lawyer.changed` (through the durable consumer's transaction) feeds the projection:
    an activated IP lawyer who passed the IP assessment takes IP work; once the firm deactivates them, they
    get no more."""

    async def changed(active: bool) -> None:
        envelope = EventEnvelope(id=new_id(), type="lawyer.changed", tenant_id="")
        envelope.payload.Pack(
            LawyerChanged(
                lawyer_id="profile-7",
                user_id="lawyer-ip",
                fields=["ip"],
                active=active,
                service_hours=[LawyerServiceWindow(weekday=1, start="09:00", end="18:00")],
                passed_fields=["ip"],
            )
        )
        for _ in range(2):  # a redelivery changes nothing
            async with stores.orders.db.transaction() as session:
                await deliver(
                    documents_events.TABLE["lawyers"],
                    documents_events.HandlerContext(stores, cast(WorkflowLink, None)),
                    envelope,
                    session,
                )

    await changed(active=True)
    view = (await stores.orders.create(new_order(legal_field="ip", legal_field_source="requirements"))).view
    assert view.row.assigned_lawyer_id == "lawyer-ip"
    assert view.row.assignment_reason.startswith("field ip;")

    await changed(active=False)
    unassigned = (
        await stores.orders.create(new_order(legal_field="ip", legal_field_source="requirements"))
    ).view
    assert unassigned.row.assigned_lawyer_id == ""  # nobody else is on the roster: an agent assigns it
    assert unassigned.row.assignment_reason.startswith("no eligible lawyer has passed ip")


async def test_the_api_names_an_orders_legal_field_and_where_it_came_from(stores: DocumentsStores) -> None:
    """The field as a key (the portal's assignment page shows its label rather than read the reason's text);
    an order made before fields were matched stores none and is matched, and named, as `other`."""
    made = (await stores.orders.create(new_order(legal_field="tax", legal_field_source="classified"))).view
    message = document_order_proto(made.row, made)
    assert (message.legal_field, message.legal_field_source) == ("tax", "classified")
    assert message.assignment_reason.endswith("(field from classified)")
    async with stores.orders.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE document_orders SET legal_field = '', legal_field_source = '' WHERE id = :id"),
            {"id": made.row.id},
        )
    older = await stores.orders.get(AGENT, made.row.id)
    message = document_order_proto(older.row, older)
    assert (message.legal_field, message.legal_field_source) == ("other", "default")


async def test_a_cancelled_order_keeps_why_as_a_code_never_the_words_typed(stores: DocumentsStores) -> None:
    """The client's page says why in words from the code (services/rules/reasons.py); words a supervisor
    typed stay in the cancelled stage and the event, and the order says only `stated`."""
    supervisor = Principal("supervisor-1", roles=frozenset({"supervisor"}))
    still_open = (await stores.orders.create(new_order())).view
    assert document_order_proto(still_open.row, still_open).status_reason == ""
    by_code = await stores.orders.cancel(supervisor, still_open.row.id, "client_request")
    assert (by_code.row.stage, by_code.row.status_reason) == ("cancelled", "client_request")
    assert document_order_proto(by_code.row, by_code).status_reason == "client_request"
    typed_words = "客户已另行委托律所，不再需要"
    typed = await stores.orders.cancel(
        supervisor, (await stores.orders.create(new_order())).view.row.id, typed_words
    )
    assert (typed.row.stage, typed.row.status_reason) == ("cancelled", "stated")
    assert (typed.stages[-1].stage, typed.stages[-1].reason) == ("cancelled", typed_words)


async def test_an_order_nobody_has_passed_the_field_of_waits_for_an_agent(stores: DocumentsStores) -> None:
    """R-DOC-3, §9.4: a paid order whose field no eligible lawyer has passed gets nobody (as consultation's
    questions do): it waits in the agents' queue with the reason, cannot be acknowledged until an agent
    assigns it (to a lawyer who has passed the field, or to another one with the agent's reason, recorded
    as an override), and its acknowledgement clock runs and breaches as for any order."""
    await stores.staff.upsert_staff("contract-1", "lawyer", "l-1", fields=["contract"])
    await stores.staff.upsert_staff("reviewer-9", "reviewer", "r-9", fields=["tax"])
    first = await stores.orders.create(new_order(legal_field="tax", legal_field_source="classified"))
    order = first.view.row
    assert (order.assigned_lawyer_id, order.stage) == ("", "awaiting_acknowledgement")
    assert (
        order.assignment_reason
        == "no eligible lawyer has passed tax: left to an agent (field from classified)"
    )
    assert order.acknowledge_due_at is not None
    queue, _ = await stores.orders.list_orders(AGENT, "awaiting_acknowledgement", 10, "")
    assert [(o.id, o.assigned_lawyer_id, o.assignment_reason) for o in queue] == [
        (order.id, "", order.assignment_reason)
    ]
    with pytest.raises(Conflict) as refused:
        await stores.orders.acknowledge(AGENT, order.id, "收到")
    assert refused.value.reason == "no_lawyer_assigned"

    for nobody in ("lawyer-x", "reviewer-9"):  # not on the roster; a reviewer, not a lawyer
        with pytest.raises(InvalidArgument) as bad:
            await stores.orders.assign(AGENT, order.id, nobody, "")
        assert [v.field for v in bad.value.violations] == ["lawyer_id"]
    with pytest.raises(InvalidArgument) as bad:  # contract-1 has not passed tax: only with a reason
        await stores.orders.assign(AGENT, order.id, "contract-1", "  ")
    assert [v.field for v in bad.value.violations] == ["override_reason"]

    view = await stores.orders.assign(AGENT, order.id, "contract-1", "客户指定该律师，涉税条款由其复核")
    assert view.row.assigned_lawyer_id == "contract-1"
    assert view.row.assignment_reason == (
        "override by an agent: contract-1 has not passed tax; 客户指定该律师，涉税条款由其复核"
    )
    assert view.row.acknowledge_due_at == order.acknowledge_due_at  # the clock ran while it waited
    with pytest.raises(Conflict) as twice:
        await stores.orders.assign(AGENT, order.id, "contract-1", "again")
    assert twice.value.reason == "already_assigned"
    assert (await stores.orders.acknowledge(AGENT, order.id, "收到")).row.stage == "drafting"

    # Nobody had passed tax when the next order was paid; an agent gives it to the lawyer who since has.
    waiting = (await stores.orders.create(new_order(legal_field="tax"))).view.row
    await stores.staff.upsert_staff("tax-1", "lawyer", "l-2", fields=["tax"])
    # Its acknowledgement deadline passes first: breached and moved on to drafting as for any order.
    assert waiting.acknowledge_due_at is not None
    new_due = utcnow() + timedelta(hours=24)
    breached = await stores.deadlines.record_breach(
        waiting.id, "acknowledgement", waiting.acknowledge_due_at, new_due, "b1"
    )
    assert (breached.row.stage, breached.row.assigned_lawyer_id) == ("drafting", "")
    view = await stores.orders.assign(AGENT, waiting.id, "tax-1", "")
    assert (view.row.assigned_lawyer_id, view.row.assignment_reason) == (
        "tax-1",
        "assigned by an agent: field tax",
    )
    assert view.row.draft_due_at == new_due

    async with stores.orders.db.transaction() as session:
        payloads = (
            await session.execute(
                select(TABLES.outbox.c.payload)
                .where(TABLES.outbox.c.subject.like("%.docorder.assigned"))
                .order_by(TABLES.outbox.c.seq)
            )
        ).scalars()
        assigned = [unpack(EventEnvelope.FromString(p), DocOrderAssigned) for p in payloads]
    assert [
        (a.document_order_id, a.lawyer_id, a.agent_id, a.legal_field, a.override_reason) for a in assigned
    ] == [
        (order.id, "contract-1", AGENT.user_id, "tax", "客户指定该律师，涉税条款由其复核"),
        (waiting.id, "tax-1", AGENT.user_id, "tax", ""),
    ]


async def test_versions_keep_their_bytes_and_digest_and_the_review_gate_holds(
    stores: DocumentsStores, files: DocumentFiles
) -> None:
    """R-DOC-4, R-DOC-6, §9.5: the author cannot approve; clients see approved versions only."""
    await stores.staff.upsert_staff(
        REVIEWER.user_id, "lawyer", "licence-r", fields=["contract"]
    )  # a reviewer who also drafts
    view = (await stores.orders.create(new_order())).view
    assert view.row.assigned_lawyer_id == REVIEWER.user_id
    order_id = view.row.id
    await stores.orders.acknowledge(AGENT, order_id, "收到")
    content = os.urandom(4096)
    upload = domain.validate_upload("合同.docx", DOCX, content, "初稿")

    with pytest.raises(NotFound):  # another enterprise's client cannot even see it
        await stores.orders.get(OTHER_CLIENT, order_id)
    with pytest.raises(NotFound):  # a lawyer who is not assigned neither
        await stores.versions.add_version(lawyer("lawyer-x"), order_id, upload, files.put)

    view = await stores.versions.add_version(REVIEWER, order_id, upload, files.put)
    (version,) = view.versions
    assert (version.number, version.status, version.sha256) == (
        1,
        "in_review",
        hashlib.sha256(content).hexdigest(),
    )
    # The object store holds the file sealed with the enterprise's key; a download opens it to the bytes the
    # digest was taken over.
    assert version.file_sealed and content[:64] not in await read(files, version.object_name)
    cipher = await stores.versions.file_cipher(order_id)
    opened = open_file(cipher, version.object_name, files.chunks(version.object_name))
    assert b"".join([chunk async for chunk in opened]) == content

    with pytest.raises(PermissionDenied):
        await stores.versions.review(REVIEWER, order_id, "approve", "")
    unchanged = await stores.orders.get(AGENT, order_id)
    assert unchanged.row.stage == "in_review" and unchanged.versions[0].status == "in_review"

    other_reviewer = Principal("reviewer-2", roles=frozenset({"reviewer"}))
    await stores.staff.upsert_staff("reviewer-2", "reviewer", "11101201234567890")
    view = await stores.versions.review(other_reviewer, order_id, "approve", "同意")
    assert view.row.stage == "delivered" and view.versions[0].status == "approved"
    assert view.versions[0].reviewer_licence_number == "11101201234567890"
    assert view.row.revision_window_ends_at is not None and view.row.first_delivered_at is not None
    assert view.row.revision_window_ends_at - view.row.first_delivered_at == timedelta(days=3)  # R-DOC-5
    # The window closes: the workflow's completion is recorded once, however often it is retried.
    for _ in range(2):
        view = await stores.deadlines.record_stage(
            order_id, "completed", "system", None, "window_closed", "key-done"
        )
    assert view.row.stage == "completed" and view.row.completed_reason == "window_closed"
    assert [s.stage for s in view.stages].count("completed") == 1
    assert await events(stores) == [
        "docorder.created",
        "docorder.acknowledged",
        "docorder.drafted",
        "docorder.approved",
        "docorder.delivered",
        "docorder.completed",
    ]


async def test_files_stored_before_sealing_are_sealed_at_start_keeping_their_digest(
    stores: DocumentsStores, files: DocumentFiles
) -> None:
    """Issue 20: an object written in clear (`file_sealed` false) is sealed with the order's key under its
    name; one a stopped run already sealed is only marked; one matching its digest neither way is left."""
    await stores.staff.upsert_staff("lawyer-1", "lawyer", "licence-1", fields=["contract"])
    order_id = (await stores.orders.create(new_order())).view.row.id
    await stores.orders.acknowledge(AGENT, order_id, "收到")
    clear, crashed = os.urandom(200_000), os.urandom(5000)  # the first spans several segments
    view = await stores.versions.add_version(
        lawyer("lawyer-1"), order_id, domain.validate_upload("合同.docx", DOCX, clear, ""), files.put
    )
    (version,) = view.versions
    cipher = await stores.versions.file_cipher(order_id)
    # As stored before sealing: the same object in clear, the version not sealed.
    await files.put(version.object_name, clear)
    names = {"clear": version.object_name, "crashed": f"{order_id}/v2-old", "corrupt": f"{order_id}/v3-old"}
    await files.put(names["crashed"], seal_file(cipher, names["crashed"], crashed))
    await files.put(names["corrupt"], b"neither clear nor sealed")
    async with stores.orders.db.transaction() as session:
        await session.execute(
            text("UPDATE document_versions SET file_sealed = false WHERE id = :id"), {"id": version.id}
        )
        for number, kind, content in ((2, "crashed", crashed), (3, "corrupt", b"lost")):
            session.add(
                DocumentVersionRow(
                    id=f"version-{kind}-{new_id()}",
                    document_order_id=order_id,
                    number=number,
                    author_id="lawyer-1",
                    size_bytes=len(content),
                    media_type=DOCX,
                    sha256=hashlib.sha256(content).hexdigest(),
                    object_name=names[kind],
                    status="rejected",
                    created_at=utcnow(),
                )
            )

    assert await seal_clear_files(stores.orders.db, stores.orders.keys, files) == 2
    assert await seal_clear_files(stores.orders.db, stores.orders.keys, files) == 0  # a second start
    async with stores.orders.db.engine.connect() as conn:
        stored = {
            row.object_name: (row.file_sealed, row.sha256)
            for row in await conn.execute(
                text("SELECT object_name, file_sealed, sha256 FROM document_versions")
            )
        }
    assert stored == {
        names["clear"]: (True, hashlib.sha256(clear).hexdigest()),
        names["crashed"]: (True, hashlib.sha256(crashed).hexdigest()),
        names["corrupt"]: (False, hashlib.sha256(b"lost").hexdigest()),
    }
    assert clear[:64] not in await read(files, names["clear"])
    for kind, content in (("clear", clear), ("crashed", crashed)):
        opened = open_file(cipher, names[kind], files.chunks(names[kind]))
        assert b"".join([chunk async for chunk in opened]) == content


async def test_a_revision_on_someone_elses_order_changes_nothing(
    stores: DocumentsStores, files: DocumentFiles
) -> None:
    await stores.staff.upsert_staff("lawyer-1", "lawyer", "licence-1", fields=["contract"])
    view = (await stores.orders.create(new_order())).view
    order_id = view.row.id
    await stores.orders.acknowledge(AGENT, order_id, "")
    await stores.versions.add_version(
        lawyer("lawyer-1"),
        order_id,
        domain.validate_upload("a.pdf", "application/pdf", b"%PDF-1", ""),
        files.put,
    )
    await stores.versions.review(REVIEWER, order_id, "approve", "")
    asked: list[object] = []

    async def ask_workflow(window_ends_at: object) -> None:
        asked.append(window_ends_at)

    with pytest.raises(NotFound):
        await stores.revisions.request_revision(OTHER_CLIENT, order_id, "改一下", ask_workflow)
    assert asked == [] and (await stores.orders.get(AGENT, order_id)).row.revisions_requested == 0

    view = await stores.revisions.request_revision(CLIENT, order_id, "改一下", ask_workflow)
    assert view.row.stage == "revising" and view.row.revisions_requested == 1
    assert asked == [view.row.revision_window_ends_at]


async def test_a_breach_is_recorded_once_counted_and_reassigns_a_late_draft(stores: DocumentsStores) -> None:
    """R-DOC-2 / R-DOC-3: breaches are states; a retried activity (same key) has no second effect."""
    for n in (1, 2):
        await stores.staff.upsert_staff(f"lawyer-{n}", "lawyer", f"licence-{n}", fields=["contract"])
    view = (await stores.orders.create(new_order())).view
    order_id, first_lawyer = view.row.id, view.row.assigned_lawyer_id

    def counted(kind: str) -> float:
        return REGISTRY.get_sample_value("counsel_sla_breaches_total", {"kind": kind}) or 0.0

    before = counted("acknowledge_30m")
    due = view.row.acknowledge_due_at
    assert due is not None
    new_due = due + timedelta(hours=24)
    for _ in range(2):
        view = await stores.deadlines.record_breach(order_id, "acknowledgement", due, new_due, "key-ack")
    assert counted("acknowledge_30m") == before + 1
    assert [b.kind for b in view.breaches] == ["acknowledgement"]
    assert view.row.stage == "drafting" and view.row.draft_due_at == new_due  # the order continues

    later = new_due + timedelta(hours=24)
    before_delivery = counted("delivery")
    view = await stores.deadlines.record_breach(order_id, "delivery", new_due, later, "key-delivery")
    assert view.row.assigned_lawyer_id not in ("", first_lawyer)
    assert view.row.assignment_reason.startswith("reassigned_after_breach: ")
    assert view.row.draft_due_at == later
    assert counted("delivery") == before_delivery + 1
    assert [s.reason for s in view.stages][-1] == "reassigned_after_breach"
    assert (await events(stores)).count("docorder.sla_breached") == 2
    # The late draft was the first lawyer's: the breach names them (it counts in their quality record),
    # beside the lawyer now assigned; a missed acknowledgement, the agents' deadline, names nobody.
    async with stores.orders.db.transaction() as session:
        payloads = (await session.execute(select(TABLES.outbox.c.payload))).scalars().all()
    breached = [
        unpack(e, DocOrderSlaBreached)
        for e in (EventEnvelope.FromString(p) for p in payloads)
        if e.type == "docorder.sla_breached"
    ]
    assert sorted((b.kind, b.missed_by_lawyer_id, b.assigned_lawyer_id) for b in breached) == [
        ("acknowledgement", "", first_lawyer),
        ("delivery", first_lawyer, view.row.assigned_lawyer_id),
    ]
    with pytest.raises(Conflict):  # the workflow cannot complete an order that was never delivered
        await stores.deadlines.record_stage(
            order_id, "completed", "system", None, "window_closed", "key-done"
        )


async def test_staff_queues_are_soonest_due_first_and_scoped_to_who_asks(stores: DocumentsStores) -> None:
    """Staff queues: agents see every unacknowledged order by due time, a lawyer only those assigned,
    a client only their enterprise's (R-ACC-4)."""
    for n in (1, 2):
        await stores.staff.upsert_staff(f"lawyer-{n}", "lawyer", f"licence-{n}", fields=["contract"])
    now = utcnow()
    made = {}
    for minutes_ago in (5, 20, 10):
        view = (await stores.orders.create(new_order(paid_at=now - timedelta(minutes=minutes_ago)))).view
        made[minutes_ago] = view.row
    await stores.orders.create(new_order(tenant_id="tenant-9", client_id="client-9"))

    first, cursor = await stores.orders.list_orders(AGENT, "awaiting_acknowledgement", 2, "")
    assert [row.id for row in first] == [made[20].id, made[10].id] and cursor
    second, end = await stores.orders.list_orders(AGENT, "awaiting_acknowledgement", 2, cursor)
    assert len(second) == 2 and second[0].id == made[5].id and end == ""

    mine, _ = await stores.orders.list_orders(lawyer("lawyer-1"), "", 100, "")
    assert mine and {row.assigned_lawyer_id for row in mine} == {"lawyer-1"}
    theirs, _ = await stores.orders.list_orders(CLIENT, "", 100, "")
    assert len(theirs) == 3 and {row.tenant_id for row in theirs} == {TENANT}


async def test_an_uncommitted_file_can_be_removed_and_a_missing_one_is_not_found(
    files: DocumentFiles,
) -> None:
    name = f"probe/{os.urandom(6).hex()}"
    await files.put(name, b"bytes")
    assert await read(files, name) == b"bytes"
    await files.delete(name)
    with pytest.raises(NotFound):
        await read(files, name)
    await files.delete(name)  # deleting twice is harmless


async def test_a_file_larger_than_one_chunk_streams_back_chunk_by_chunk_with_its_bytes(
    files: DocumentFiles,
) -> None:
    """R-DOC-6 downloads stream: the bucket's chunks come back one at a time, in order, and together are
    exactly the stored bytes (their SHA-256 is the version's digest); an empty file has no chunk."""
    content = os.urandom(300 * 1024 + 7)  # the object store's chunks are 128 KiB: three of them
    name = f"probe/{os.urandom(6).hex()}"
    await files.put(name, content)
    chunks = [chunk async for chunk in files.chunks(name)]
    assert len(chunks) == 3 and max(len(c) for c in chunks) == 128 * 1024
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == hashlib.sha256(content).hexdigest()
    empty = f"probe/{os.urandom(6).hex()}"
    await files.put(empty, b"")
    assert [chunk async for chunk in files.chunks(empty)] == []
    with pytest.raises(NotFound):
        [chunk async for chunk in files.chunks("probe/missing")]


async def test_the_sla_timers_gauge_counts_the_deadlines_the_records_show_running(
    stores: DocumentsStores, files: DocumentFiles
) -> None:
    """counsel_sla_timers_pending{kind}: one acknowledgement clock per unacknowledged order, one delivery
    clock per order in its first drafting, one revision window per delivered order; in review, none."""
    await stores.staff.upsert_staff("lawyer-1", "lawyer", "licence-1", fields=["contract"])
    waiting = (await stores.orders.create(new_order())).view
    drafting = (await stores.orders.create(new_order())).view
    reviewed = (await stores.orders.create(new_order())).view
    delivered = (await stores.orders.create(new_order())).view
    for view in (drafting, reviewed, delivered):
        await stores.orders.acknowledge(AGENT, view.row.id, "")
    upload = domain.validate_upload("合同.docx", DOCX, b"draft", "")
    for view in (reviewed, delivered):
        await stores.versions.add_version(lawyer("lawyer-1"), view.row.id, upload, files.put)
    await stores.staff.upsert_staff(REVIEWER.user_id, "reviewer", "11101201234567890")
    await stores.versions.review(REVIEWER, delivered.row.id, "approve", "")
    assert await stores.orders.open_timers() == {"acknowledge_30m": 1, "delivery": 1, "revision_window": 1}

    await refresh_sla_timers(stores.orders, ("acknowledge_30m", "delivery", "revision_window", "other"))

    def gauge(kind: str) -> float | None:
        return REGISTRY.get_sample_value("counsel_sla_timers_pending", {"kind": kind})

    def due(kind: str) -> dict[str, float]:
        """counsel_sla_timers_due{kind} by bucket, the empty ones left out."""
        samples = {
            b: REGISTRY.get_sample_value("counsel_sla_timers_due", {"kind": kind, "due_in": b})
            for b in DUE_IN
        }
        return {bucket: value for bucket, value in samples.items() if value}

    assert [gauge(k) for k in ("acknowledge_30m", "delivery", "revision_window", "other")] == [1, 1, 1, 0]
    # The workflow dashboard's "timers pending by due hour": the 30-minute acknowledgement falls due within the
    # hour, each clock counts once, and an order past its due time is overdue.
    assert due("acknowledge_30m") == {"1h": 1}
    assert [sum(due(kind).values()) for kind in ("delivery", "revision_window", "other")] == [1, 1, 0]
    later = await stores.orders.timers_due(utcnow() + timedelta(hours=1))
    assert later[("acknowledge_30m", "overdue")] == 1
    await stores.orders.acknowledge(AGENT, waiting.row.id, "")
    await refresh_sla_timers(stores.orders, ("acknowledge_30m", "delivery"))
    assert (gauge("acknowledge_30m"), gauge("delivery")) == (0, 2)
    assert due("acknowledge_30m") == {}


def decided(kind: str, tier: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "counsel_sla_deadlines_total", {"kind": kind, "tier": tier, "outcome": outcome}
        )
        or 0.0
    )


async def test_each_clock_of_an_order_is_decided_once_kept_or_missed(
    stores: DocumentsStores, files: DocumentFiles
) -> None:
    """counsel_sla_deadlines_total{kind, tier, outcome}: the acknowledgement and the delivery clock of an
    order end once each, by the act (kept) or by the breach the workflow recorded first (missed); a breach
    recorded after the act, a second breach of the extension and a retried breach decide nothing."""
    clocks = [
        (k, t, o)
        for k in ("acknowledge_30m", "delivery", "revision_window")
        for t in ("simple", "complex")
        for o in ("kept", "missed")
    ]
    before = {clock: decided(*clock) for clock in clocks}

    def changes() -> dict[tuple[str, str, str], float]:
        return {
            clock: decided(*clock) - before[clock] for clock in clocks if decided(*clock) != before[clock]
        }

    await stores.staff.upsert_staff("lawyer-1", "lawyer", "licence-1", fields=["contract"])
    await stores.staff.upsert_staff(REVIEWER.user_id, "reviewer", "11101201234567890")
    upload = domain.validate_upload("合同.docx", DOCX, b"draft", "")

    # Kept: acknowledged and delivered in time, then accepted within the window.
    kept = (await stores.orders.create(new_order())).view
    await stores.orders.acknowledge(AGENT, kept.row.id, "")
    await stores.versions.add_version(lawyer("lawyer-1"), kept.row.id, upload, files.put)
    view = await stores.versions.review(REVIEWER, kept.row.id, "approve", "")
    due = view.row.draft_due_at
    assert due is not None
    await stores.deadlines.record_breach(kept.row.id, "delivery", due, due + timedelta(hours=1), "late-timer")
    await stores.revisions.accept(CLIENT, kept.row.id)
    assert changes() == {
        ("acknowledge_30m", "simple", "kept"): 1,
        ("delivery", "simple", "kept"): 1,
        ("revision_window", "simple", "kept"): 1,
    }

    # Missed: the workflow recorded both breaches (twice each, and the extension's) before the acts.
    missed = (
        await stores.orders.create(new_order(complexity="complex", draft_within=timedelta(hours=72)))
    ).view
    ack_due = missed.row.acknowledge_due_at
    assert ack_due is not None
    for _ in range(2):
        await stores.deadlines.record_breach(
            missed.row.id, "acknowledgement", ack_due, ack_due + timedelta(hours=72), "a"
        )
    for key in ("d1", "d1", "d2"):
        await stores.deadlines.record_breach(
            missed.row.id, "delivery", ack_due, ack_due + timedelta(hours=1), key
        )
    await stores.versions.add_version(lawyer("lawyer-1"), missed.row.id, upload, files.put)
    await stores.versions.review(REVIEWER, missed.row.id, "approve", "")
    await stores.deadlines.record_stage(missed.row.id, "completed", "system", None, "window_closed", "closed")
    assert changes() == {
        ("acknowledge_30m", "simple", "kept"): 1,
        ("delivery", "simple", "kept"): 1,
        ("revision_window", "simple", "kept"): 1,
        ("acknowledge_30m", "complex", "missed"): 1,
        ("delivery", "complex", "missed"): 1,
        ("revision_window", "complex", "missed"): 1,
    }


async def test_clocks_at_risk_have_little_time_left_and_nobody_working_them(stores: DocumentsStores) -> None:
    """counsel_sla_timers_at_risk: an unacknowledged order with under a quarter of its 30 minutes left is at
    risk, one just paid is not; once acknowledged, its delivery clock has all its time."""
    await stores.staff.upsert_staff("lawyer-1", "lawyer", "licence-1", fields=["contract"])
    await stores.orders.create(new_order())
    late = (await stores.orders.create(new_order(paid_at=utcnow() - timedelta(minutes=25)))).view
    assert await stores.orders.timers_at_risk() == {"acknowledge_30m": 1, "delivery": 0}
    await stores.orders.acknowledge(AGENT, late.row.id, "")
    assert await stores.orders.timers_at_risk() == {"acknowledge_30m": 0, "delivery": 0}
