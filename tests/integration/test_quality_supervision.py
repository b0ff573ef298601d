"""Quality supervision and assessments over the catalog's real, migrated PostgreSQL (issue 23 items 2 and 3):
the `catalog-quality` consumer's handlers fold lawyers' outputs and the facts risk controls watch into samples,
records and flags (each with its `quality.*` event in the outbox); a failed score opens a follow-up and
watches the lawyer's next items; an assessment submitted after its due time, or twice, is refused and a pass
qualifies the profile, whose `lawyer.changed` then carries the field."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from deploy.local.servers import NatsServer, PostgresServer
from services.catalog import events, quality
from services.catalog.models import TABLES
from services.catalog.quality_models import AssessmentRow, QualityRecordRow
from services.catalog.seed import demo_firms, demo_lawyers
from services.catalog.seed_questions import demo_questions
from services.catalog.store import CatalogStores
from services.runtime.context import Principal
from services.runtime.errors import Conflict
from services.runtime.events import bind, handler_for, unpack
from services.runtime.records import utcnow
from tests.support.factories import envelope
from tests.support.platform import catalog_stores, isolated_settings, migrated_databases

SUPERVISOR = Principal("supervisor-1", "", frozenset({"supervisor"}))
LAWYER = demo_lawyers()[5]  # lawyer-6: tax and finance
LAWYER_PRINCIPAL = Principal(LAWYER.user_id, "", frozenset({"lawyer"}))


@pytest.fixture
async def stores(
    postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str
) -> AsyncIterator[CatalogStores]:
    settings = isolated_settings(
        postgres_server, nats_server, name=unique_name, secret_key=secrets.token_urlsafe(32)
    )
    async with migrated_databases(settings, "catalog") as databases:
        built = catalog_stores(databases["catalog"], settings)
        for firm in demo_firms():
            await built.firms.upsert_firm(firm)
        await built.lawyers.upsert_lawyer(LAWYER.model_copy(update={"fields": ["tax", "finance"]}))
        yield built


async def deliver(stores: CatalogStores, subject: str, event: EventEnvelope) -> None:
    handlers = bind(events.TABLE["quality"], stores)
    async with stores.db.transaction() as session:
        await handler_for(handlers, subject)(event, session)


async def published(stores: CatalogStores, event_type: str) -> list[EventEnvelope]:
    async with stores.db.transaction() as session:
        rows = (await session.execute(select(TABLES.outbox.c.payload))).scalars().all()
    return [e for e in (EventEnvelope.FromString(p) for p in rows) if e.type == event_type]


async def record(stores: CatalogStores) -> QualityRecordRow:
    async with stores.db.transaction() as session:
        row = await session.get(QualityRecordRow, LAWYER.user_id)
    assert row is not None
    return row


async def test_a_failed_sample_opens_a_follow_up_and_watches_the_next_items(stores: CatalogStores) -> None:
    delivered = documents_events.DocOrderDelivered(
        document_order_id="d-1", version_number=2, lawyer_id=LAWYER.user_id
    )
    # A new lawyer's items are sampled at half: some event ids fall in, some out, as the rule says.
    ids = [f"delivered-{n}" for n in range(8)]
    for event_id in ids:
        await deliver(
            stores, "documents.docorder.delivered", envelope("docorder.delivered", delivered, id=event_id)
        )
    expected = sum(quality.is_sampled(i, quality.NEW_LAWYER_RATE) for i in ids)
    samples, _ = await stores.quality.list_samples("document_version", "pending", LAWYER.user_id, 100, "")
    assert len(samples) == expected > 0
    assert samples[0].object_id == "d-1/v2" and samples[0].reason.startswith("new lawyer")
    assert (await record(stores)).completed_items == 8

    scored = await stores.quality.score_sample(SUPERVISOR, samples[0].id, 2, False, "条款遗漏违约责任")
    assert (scored.status, scored.score, scored.scored_by) == ("failed", 2, SUPERVISOR.user_id)
    with pytest.raises(Conflict):
        await stores.quality.score_sample(SUPERVISOR, samples[0].id, 4, True, "")
    follow_up = unpack(
        (await published(stores, "quality.follow_up_opened"))[0], catalog_events.QualityFollowUpOpened
    )
    assert (follow_up.lawyer_id, follow_up.sample_id, follow_up.findings) == (
        LAWYER.user_id,
        scored.id,
        "条款遗漏违约责任",
    )
    after = await record(stores)
    assert (after.failed_samples, after.watched_items) == (1, quality.WATCH_ITEMS)

    # The next items after a failed check are all sampled.
    for n in range(quality.WATCH_ITEMS):
        await deliver(
            stores,
            "documents.docorder.delivered",
            envelope("docorder.delivered", delivered, id=f"watched-{n}"),
        )
    watched, _ = await stores.quality.list_samples("document_version", "", LAWYER.user_id, 100, "")
    assert len(watched) == expected + quality.WATCH_ITEMS


async def test_recorded_visits_are_sampled_like_the_lawyers_other_outputs(stores: CatalogStores) -> None:
    """A lawyer's visit to a client enterprise (booking's `visit.recorded`) is an output: it counts in their
    record and is sampled at their rate, a redelivery deciding the same way."""
    ids = [f"visit-{n}" for n in range(8)]
    for n, event_id in enumerate(ids):
        recorded = booking_events.VisitRecorded(
            visit_id=f"v-{n}", enterprise_id="tenant-1", lawyer_id=LAWYER.user_id, date="2026-12-01"
        )
        await deliver(stores, "booking.visit.recorded", envelope("visit.recorded", recorded, id=event_id))
    expected = sorted(f"v-{n}" for n, i in enumerate(ids) if quality.is_sampled(i, quality.NEW_LAWYER_RATE))
    samples, _ = await stores.quality.list_samples("visit", "pending", LAWYER.user_id, 100, "")
    assert sorted(s.object_id for s in samples) == expected and expected
    assert all(s.reason.startswith("new lawyer") for s in samples)
    assert (await record(stores)).completed_items == len(ids)


async def test_risk_controls_flag_a_meeting_without_check_in_and_replies_past_due_twice(
    stores: CatalogStores,
) -> None:
    on_site = booking_events.BookingCompleted(
        booking_id="b-1", status="completed", lawyer_id=LAWYER.user_id, mode="on_site"
    )
    checked_in = booking_events.BookingCompleted(
        booking_id="b-2", status="completed", lawyer_id=LAWYER.user_id, mode="on_site", checked_in=True
    )
    for event in (on_site, checked_in):
        await deliver(stores, "booking.booking.completed", envelope("booking.completed", event))
    escalated = consultation_events.ConsultationEscalated(
        consultation_id="c-1", from_lawyer_id=LAWYER.user_id
    )
    for _ in range(2):
        await deliver(
            stores, "consultation.consultation.escalated", envelope("consultation.escalated", escalated)
        )
    flags, _ = await stores.quality.list_flags(LAWYER.user_id, 100, "")
    assert sorted((f.kind, f.object_id) for f in flags) == [
        ("reply_past_due_twice", "c-1"),
        ("visit_without_check_in", "b-1"),
    ]
    raised = [
        unpack(e, catalog_events.QualityRiskFlagged) for e in await published(stores, "quality.risk_flagged")
    ]
    assert sorted(r.kind for r in raised) == ["reply_past_due_twice", "visit_without_check_in"]
    assert (await record(stores)).completed_items == 2  # both meetings are outputs


async def test_a_missed_document_deadline_is_past_due_in_the_lawyers_record(stores: CatalogStores) -> None:
    """A document order's delivery breach names the lawyer who missed it: it counts as past due like a late
    consultation reply, so one of each raises the flag; a missed acknowledgement (the agents') counts not."""
    acknowledgement = documents_events.DocOrderSlaBreached(
        document_order_id="d-1", kind="acknowledgement", assigned_lawyer_id=LAWYER.user_id
    )
    delivery = documents_events.DocOrderSlaBreached(
        document_order_id="d-1",
        kind="delivery",
        assigned_lawyer_id="lawyer-other",
        missed_by_lawyer_id=LAWYER.user_id,
    )
    for breach in (acknowledgement, delivery):
        await deliver(stores, "documents.docorder.sla_breached", envelope("docorder.sla_breached", breach))
    assert (await record(stores)).replies_past_due == 1
    escalated = consultation_events.ConsultationEscalated(
        consultation_id="c-1", from_lawyer_id=LAWYER.user_id
    )
    await deliver(
        stores, "consultation.consultation.escalated", envelope("consultation.escalated", escalated)
    )
    assert (await record(stores)).replies_past_due == 2
    flags, _ = await stores.quality.list_flags(LAWYER.user_id, 100, "")
    assert [(f.kind, f.object_id) for f in flags] == [("reply_past_due_twice", "c-1")]


async def test_a_late_or_second_submission_is_refused_and_a_pass_qualifies_the_field(
    stores: CatalogStores,
) -> None:
    await stores.assessments.upsert_questions(demo_questions())
    late = await stores.assessments.start(LAWYER_PRINCIPAL, "tax")
    async with stores.db.transaction() as session:
        row = await session.get(AssessmentRow, late.assessment.id)
        assert row is not None
        row.due_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    with pytest.raises(Conflict, match="time ran out"):
        await stores.assessments.submit(
            LAWYER_PRINCIPAL, late.assessment.id, [q.answer for q in late.questions]
        )

    drawn = await stores.assessments.start(LAWYER_PRINCIPAL, "tax")
    assert len(drawn.questions) == quality.QUESTIONS_PER_ASSESSMENT == len(set(drawn.assessment.question_ids))
    result = await stores.assessments.submit(
        LAWYER_PRINCIPAL, drawn.assessment.id, [q.answer for q in drawn.questions]
    )
    assert result == quality.AssessmentScore(100, True)
    with pytest.raises(Conflict):
        await stores.assessments.submit(
            LAWYER_PRINCIPAL, drawn.assessment.id, [q.answer for q in drawn.questions]
        )
    changed = unpack((await published(stores, "lawyer.changed"))[-1], catalog_events.LawyerChanged)
    assert (changed.user_id, list(changed.passed_fields)) == (LAWYER.user_id, ["tax"])
    results, _ = await stores.assessments.list_results(LAWYER.user_id, "tax", 100, "")
    assert {r.status for r in results} == {"open", "passed"}  # the late one was never scored
    unscored = next(r for r in results if r.status == "open")
    assert quality.assessment_status(unscored.status, unscored.due_at, utcnow()) == "expired"
