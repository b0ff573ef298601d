"""Classification, assignment, escalation, replies and rating of professional consultations, against real
PostgreSQL with the service's migrations (R-CON-2, §6.2.1.2; R-Q-1). The clock itself is the workflow's
(tests/workflows/test_consultation_workflow.py); here is what the service records at each hop."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from deploy.local.servers import PostgresServer
from services.consultation.domain import NewConsultation
from services.consultation.models import DATA_KEYS, TABLES, LawyerProjectionRow
from services.consultation.store import ConsultationStores
from services.legal_fields.classifier import default_classifier
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from services.runtime.records import utcnow
from tests.support.platform import isolated_settings, migrated_databases

ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59:59"}]
NEVER: list[dict[str, object]] = []
CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
OTHER_TENANT = Principal("client-2", "tenant-2", frozenset({"client"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
SUPERVISOR = Principal("supervisor-1", "", frozenset({"supervisor"}))
LABOUR_QUESTION = "公司拖欠了我两个月工资，现在又要求我主动辞职，我可以要求经济补偿吗？"


def lawyer(principal_id: str) -> Principal:
    return Principal(principal_id, "", frozenset({"lawyer"}))


@pytest.fixture
def settings(postgres_server: PostgresServer, unique_name: str) -> Settings:
    return isolated_settings(postgres_server, name=unique_name, secret_key=secrets.token_urlsafe(32))


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[ConsultationStores]:
    async with migrated_databases(settings, "consultation") as databases:  # 0001 → head
        db = databases["consultation"]
        s = ConsultationStores.build(
            db, Outbox("consultation", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
        )
        for lawyer_id, fields, hours, max_open in [
            ("labour-busy", ["labour"], ALWAYS, 1),
            ("labour-a", ["labour", "litigation"], ALWAYS, 20),
            ("labour-b", ["labour"], ALWAYS, 20),
            ("labour-off-duty", ["labour"], NEVER, 20),
            ("ip-a", ["ip"], ALWAYS, 20),
        ]:
            await s.lawyers.upsert_lawyer(
                LawyerProjectionRow(
                    lawyer_id=lawyer_id,
                    fields=fields,
                    service_hours=hours,
                    max_open=max_open,
                    updated_at=utcnow(),
                )
            )
        await s.lawyers.upsert_lawyer(
            LawyerProjectionRow(
                lawyer_id="labour-inactive", fields=["labour"], active=False, updated_at=utcnow()
            )
        )
        yield s


async def submit(stores: ConsultationStores, question: str = LABOUR_QUESTION) -> str:
    new = NewConsultation("professional", "工资", question, "order-1")
    return (await stores.consultations.create(CLIENT, new, "")).view.row.id


async def events(stores: ConsultationStores) -> list[str]:
    async with stores.consultations.db.transaction() as session:
        rows = (await session.execute(select(TABLES.outbox.c.subject))).all()
    return [r[0].rsplit(".", 2)[-2] + "." + r[0].rsplit(".", 1)[-1] for r in rows]


async def test_professional_question_is_classified_and_assigned_to_an_eligible_labour_lawyer(
    stores: ConsultationStores,
) -> None:
    consultation_id = await submit(stores)
    row = await stores.assignments.classify(consultation_id, "c1", default_classifier().classify)
    assert (row.legal_field, row.needs_manual_classification) == ("labour", False)
    again = await stores.assignments.classify(
        consultation_id, "c2", lambda q: pytest.fail("classified twice")
    )
    assert again.legal_field == "labour"

    due = utcnow() + timedelta(hours=24)
    assignment = await stores.assignments.assign(consultation_id, [], due, "a1")
    lawyer_id, reason = assignment.lawyer_id, assignment.reason
    assert lawyer_id in {"labour-busy", "labour-a", "labour-b"}  # never off duty, inactive or ip
    assert "field labour" in reason and "within service hours" in reason
    assert await stores.assignments.assign(consultation_id, [], due, "a1") == assignment  # a retry

    view = await stores.consultations.get(CLIENT, consultation_id)
    assert view.row.status == "assigned"
    assert view.row.current_due_at == due
    assigned = [s for s in view.stages if s.stage == "assigned"]
    assert len(assigned) == 1 and assigned[0].actor == lawyer_id and reason in assigned[0].detail


async def test_ties_spread_fairly_and_overloaded_or_off_duty_lawyers_wait(stores: ConsultationStores) -> None:
    picked = []
    for n in range(4):
        consultation_id = await submit(stores)
        await stores.assignments.classify(consultation_id, f"c{n}", default_classifier().classify)
        lawyer_id = (await stores.assignments.assign(consultation_id, [], None, f"a{n}")).lawyer_id
        picked.append(lawyer_id)
    # labour-busy takes one (capacity 1), then a and b alternate; the off-duty lawyer is never first choice.
    assert picked.count("labour-busy") == 1
    assert {picked.count("labour-a"), picked.count("labour-b")} <= {1, 2}
    assert "labour-off-duty" not in picked and "labour-inactive" not in picked


async def test_breach_reassigns_keeping_the_original_due_time_and_counts_it(
    stores: ConsultationStores,
) -> None:
    consultation_id = await submit(stores)
    original_due = (await stores.consultations.get(CLIENT, consultation_id)).row.reply_due_at
    assert original_due is not None
    await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
    first = (await stores.assignments.assign(consultation_id, [], original_due, "a")).lawyer_id
    before = REGISTRY.get_sample_value("counsel_sla_breaches_total", {"kind": "reply_24h"}) or 0.0

    next_due = utcnow() + timedelta(hours=4)
    escalation = await stores.assignments.escalate(
        consultation_id, first, original_due, [first], next_due, "e1"
    )
    second = escalation.to_lawyer_id
    assert not escalation.already_answered and second not in ("", first)
    assert "reassigned after a breach" in escalation.reason
    # A retried activity does not breach twice.
    assert (
        await stores.assignments.escalate(consultation_id, first, original_due, [first], next_due, "e1")
    ).to_lawyer_id == second
    assert REGISTRY.get_sample_value("counsel_sla_breaches_total", {"kind": "reply_24h"}) == before + 1

    view = await stores.consultations.get(AGENT, consultation_id)
    assert view.row.reply_due_at == original_due  # the promise does not move
    assert view.row.current_due_at == next_due
    assert view.row.escalations == 1
    assert view.row.assigned_lawyer_id == second
    hops = [(s.stage, s.actor) for s in view.stages if s.stage in ("assigned", "escalated")]
    assert hops == [("assigned", first), ("escalated", "system"), ("assigned", second)]
    escalated = next(s for s in view.stages if s.stage == "escalated")
    assert escalated.due_at == original_due and first in escalated.detail
    assert "consultation.escalated" in await events(stores)  # the supervisor's alert

    # The new lawyer replies; the old one can no longer see it.
    with pytest.raises(NotFound):
        await stores.consultations.post_message(lawyer(first), consultation_id, "我来回答")
    await stores.consultations.post_message(
        lawyer(second), consultation_id, "您好，根据劳动合同法第三十八条……"
    )
    # A timer that fires now finds the reply: no breach.
    late = await stores.assignments.escalate(
        consultation_id, second, next_due, [first, second], next_due, "e2"
    )
    assert late.already_answered
    assert REGISTRY.get_sample_value("counsel_sla_breaches_total", {"kind": "reply_24h"}) == before + 1


async def test_messages_go_both_ways_and_only_parties_may_write(stores: ConsultationStores) -> None:
    consultation_id = await submit(stores)
    await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
    lawyer_id = (await stores.assignments.assign(consultation_id, [], None, "a")).lawyer_id

    with pytest.raises(InvalidArgument) as empty:
        await stores.consultations.post_message(CLIENT, consultation_id, "   ")
    assert [v.field for v in empty.value.violations] == ["body"]
    with pytest.raises(NotFound):
        await stores.consultations.post_message(OTHER_TENANT, consultation_id, "我也想问")
    with pytest.raises(NotFound):
        await stores.consultations.post_message(lawyer("ip-a"), consultation_id, "not mine")
    with pytest.raises(PermissionDenied):
        await stores.consultations.post_message(
            SUPERVISOR, consultation_id, "supervisors read, they do not write here"
        )

    await stores.consultations.post_message(CLIENT, consultation_id, "补充：我有工资条")
    view = await stores.consultations.post_message(lawyer(lawyer_id), consultation_id, "可以主张经济补偿。")
    assert view.row.status == "answered" and view.row.answered_at is not None
    view = await stores.consultations.post_message(AGENT, consultation_id, "客服：律师已回复，请查看。")
    view = await stores.consultations.post_message(CLIENT, consultation_id, "谢谢")
    assert [m.author_role for m in view.messages] == ["client", "lawyer", "agent", "client"]
    assert [s.stage for s in view.stages].count("answered") == 1

    queue, _ = await stores.consultations.lawyer_queue(lawyer_id, 10, "")
    assert consultation_id not in [r.id for r in queue]  # answered: out of the queue


async def test_the_lawyer_queue_is_ordered_by_due_time(stores: ConsultationStores) -> None:
    now = utcnow()
    ids = []
    for hours in (20, 5, 12):
        consultation_id = await submit(stores)
        await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
        await stores.assignments.assign(
            consultation_id, ["labour-busy", "labour-b", "labour-off-duty"], now + timedelta(hours=hours), "a"
        )
        ids.append(consultation_id)
    page, cursor = await stores.consultations.lawyer_queue("labour-a", 2, "")
    rest, last = await stores.consultations.lawyer_queue("labour-a", 2, cursor)
    assert [r.id for r in [*page, *rest]] == [ids[1], ids[2], ids[0]]
    assert cursor and not last


async def test_rating_once_by_the_client_after_the_answer(stores: ConsultationStores) -> None:
    consultation_id = await submit(stores)
    await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
    lawyer_id = (await stores.assignments.assign(consultation_id, [], None, "a")).lawyer_id
    with pytest.raises(Conflict):
        await stores.consultations.rate(CLIENT, consultation_id, 5, "")  # not answered yet
    await stores.consultations.post_message(lawyer(lawyer_id), consultation_id, "答复如下……")
    with pytest.raises(InvalidArgument):
        await stores.consultations.rate(CLIENT, consultation_id, 6, "")
    with pytest.raises(PermissionDenied):
        await stores.consultations.rate(AGENT, consultation_id, 5, "")
    with pytest.raises(NotFound):
        await stores.consultations.rate(OTHER_TENANT, consultation_id, 5, "")
    view = await stores.consultations.rate(CLIENT, consultation_id, 5, "很专业")
    assert (view.row.rating, view.row.rating_comment) == (5, "很专业")
    with pytest.raises(Conflict):
        await stores.consultations.rate(CLIENT, consultation_id, 4, "")
    assert "consultation.rated" in await events(stores)


async def test_a_question_nobody_can_place_goes_to_an_agent_and_a_supervisor(
    stores: ConsultationStores,
) -> None:
    consultation_id = await submit(stores, "asdf qwer zxcv")
    row = await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
    assert (row.legal_field, row.needs_manual_classification) == ("other", True)
    assignment = await stores.assignments.assign(consultation_id, [], None, "a")
    lawyer_id, reason = assignment.lawyer_id, assignment.reason
    assert lawyer_id == "" and "supervisor" in reason  # no "other" lawyer in this projection
    view = await stores.consultations.get(AGENT, consultation_id)
    assert view.stages[-1].stage == "awaiting_lawyer"


async def test_an_agent_classifies_by_hand_and_the_consultation_moves_to_a_lawyer_of_that_field(
    stores: ConsultationStores,
) -> None:
    consultation_id = await submit(stores, "asdf qwer zxcv")
    await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
    due = utcnow() + timedelta(hours=20)
    await stores.assignments.assign(
        consultation_id, [], due, "a"
    )  # nobody practises "other" here: awaiting a lawyer

    with pytest.raises(PermissionDenied):
        await stores.assignments.reclassify(CLIENT, consultation_id, "ip")
    with pytest.raises(PermissionDenied):
        await stores.assignments.reclassify(lawyer("ip-a"), consultation_id, "ip")
    with pytest.raises(InvalidArgument) as bad:
        await stores.assignments.reclassify(AGENT, consultation_id, "astrology")
    assert [v.field for v in bad.value.violations] == ["legal_field"]

    view = await stores.assignments.reclassify(AGENT, consultation_id, "ip")
    assert (view.row.legal_field, view.row.needs_manual_classification) == ("ip", False)
    assert view.row.assigned_lawyer_id == "ip-a" and view.row.status == "assigned"
    assert view.row.current_due_at == due  # the clock is not reset by the agent's correction
    assert "reclassified by an agent" in view.row.assignment_reason
    assert any(s.stage == "classified" and s.actor == AGENT.user_id for s in view.stages)

    # A lawyer who already practises the new field keeps it.
    view = await stores.assignments.reclassify(AGENT, consultation_id, "ip")
    assert view.row.assigned_lawyer_id == "ip-a"


async def test_the_classification_names_its_client_on_the_event(stores: ConsultationStores) -> None:
    """`consultation.classified`, decided by the classifier or corrected by an agent, carries the client on
    the envelope (as the check-in events do): identity links it to the client's activity and the catalog
    links the client to their enterprise's history (§5.5), though neither the classifier nor the agent is
    the client."""
    from counsel.common.v1.event_pb2 import EventEnvelope

    consultation_id = await submit(stores)
    await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
    await stores.assignments.reclassify(AGENT, consultation_id, "litigation")
    async with stores.consultations.db.transaction() as session:
        payloads = (
            await session.execute(
                select(TABLES.outbox.c.payload)
                .where(TABLES.outbox.c.subject.like("%.consultation.classified"))
                .order_by(TABLES.outbox.c.seq)
            )
        ).scalars()
        classified = [EventEnvelope.FromString(p) for p in payloads]
    assert [(e.actor_id, e.client_id, e.tenant_id) for e in classified] == [
        ("", CLIENT.user_id, CLIENT.tenant_id),
        (AGENT.user_id, CLIENT.user_id, CLIENT.tenant_id),
    ]


async def test_agents_see_consultations_due_within_two_hours_or_overdue(stores: ConsultationStores) -> None:
    from services.consultation.domain import at_risk_window

    now = utcnow()
    ids = {}
    for label, hours in (("overdue", -1), ("soon", 1), ("later", 5)):
        consultation_id = await submit(stores)
        await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
        await stores.assignments.assign(consultation_id, [], now + timedelta(hours=hours), "a")
        ids[label] = consultation_id
    answered = await submit(stores)
    await stores.assignments.classify(answered, "c", default_classifier().classify)
    lawyer_id = (await stores.assignments.assign(answered, [], now + timedelta(minutes=30), "a")).lawyer_id
    await stores.consultations.post_message(lawyer(lawyer_id), answered, "已答复")

    rows = await stores.consultations.at_risk(at_risk_window(AGENT, 0), 50)
    assert [r.id for r in rows] == [ids["overdue"], ids["soon"]]
    assert [r.id for r in await stores.consultations.at_risk(at_risk_window(SUPERVISOR, 600), 50)] == [
        ids["overdue"],
        ids["soon"],
        ids["later"],
    ]
    with pytest.raises(PermissionDenied):
        at_risk_window(CLIENT, 0)
    with pytest.raises(PermissionDenied):
        at_risk_window(lawyer("labour-a"), 0)


async def test_a_client_complains_and_an_agent_tracks_it_to_resolution(stores: ConsultationStores) -> None:
    """R-CS-3, §6.1.4.4: recorded, tracked, resolved; only the client's enterprise and agents see it."""
    consultation_id = await submit(stores)
    with pytest.raises(PermissionDenied):
        await stores.complaints.raise_complaint(
            AGENT, "consultation", consultation_id, "agents do not complain"
        )
    with pytest.raises(NotFound):
        await stores.complaints.raise_complaint(OTHER_TENANT, "consultation", consultation_id, "not mine")
    with pytest.raises(InvalidArgument):
        await stores.complaints.raise_complaint(CLIENT, "consultation", consultation_id, "  ")
    complaint = await stores.complaints.raise_complaint(
        CLIENT, "consultation", consultation_id, "律师回复太慢，而且没有回答我的问题。"
    )
    assert complaint.status == "open"

    mine, _ = await stores.complaints.list_complaints(CLIENT, "", 10, "")
    assert [c.id for c in mine] == [complaint.id]
    assert (await stores.complaints.list_complaints(OTHER_TENANT, "", 10, ""))[0] == []
    with pytest.raises(PermissionDenied):
        await stores.complaints.list_complaints(lawyer("labour-a"), "", 10, "")
    assert [c.id for c in (await stores.complaints.list_complaints(AGENT, "open", 10, ""))[0]] == [
        complaint.id
    ]

    with pytest.raises(PermissionDenied):
        await stores.complaints.update_complaint(CLIENT, complaint.id, "resolved", "done")
    with pytest.raises(InvalidArgument) as no_resolution:
        await stores.complaints.update_complaint(AGENT, complaint.id, "resolved", "")
    assert [v.field for v in no_resolution.value.violations] == ["resolution"]
    taken = await stores.complaints.update_complaint(AGENT, complaint.id, "in_progress", "")
    assert (taken.status, taken.handled_by) == ("in_progress", AGENT.user_id)
    resolved = await stores.complaints.update_complaint(
        AGENT, complaint.id, "resolved", "已更换律师并致歉，补发答复。"
    )
    assert resolved.status == "resolved" and resolved.resolution.startswith("已更换律师")
    with pytest.raises(Conflict):
        await stores.complaints.update_complaint(AGENT, complaint.id, "in_progress", "")

    stages = [s.stage for s in (await stores.consultations.get(AGENT, consultation_id)).stages]
    assert [s for s in stages if s.startswith("complaint")] == [
        "complaint_raised",
        "complaint_in_progress",
        "complaint_resolved",
    ]
    assert {"complaint.raised", "complaint.resolved"} <= set(await events(stores))


async def test_an_agent_bridges_a_phone_consultation_and_the_call_record_is_kept(
    stores: ConsultationStores,
) -> None:
    """R-CON-3, §6.2.1.3, §6.2.4.4: parties, start, end, duration, outcome and the recording's key."""
    from services.consultation.telephony import SimulatedTelephony

    phone = SimulatedTelephony()
    new = NewConsultation("phone", "电话咨询", LABOUR_QUESTION, "order-2")
    consultation_id = (await stores.consultations.create(CLIENT, new, "")).view.row.id
    professional = await submit(stores)

    with pytest.raises(PermissionDenied):
        await stores.calls.start_call(CLIENT, consultation_id, "labour-a", phone)
    with pytest.raises(Conflict):
        await stores.calls.start_call(AGENT, professional, "labour-a", phone)  # not a phone consultation
    with pytest.raises(InvalidArgument) as unknown:
        await stores.calls.start_call(AGENT, consultation_id, "nobody", phone)
    assert [v.field for v in unknown.value.violations] == ["lawyer_id"]
    with pytest.raises(Conflict) as inactive:  # a lawyer who takes no new work (§4.2.1), as in assignment
        await stores.calls.start_call(AGENT, consultation_id, "labour-inactive", phone)
    assert inactive.value.reason == "not_assignable"

    call = await stores.calls.start_call(AGENT, consultation_id, "labour-a", phone)
    assert (call.status, call.agent_id, call.lawyer_id, call.provider) == (
        "connected",
        AGENT.user_id,
        "labour-a",
        "simulated",
    )
    with pytest.raises(InvalidArgument):
        await stores.calls.end_call(AGENT, consultation_id, call.id, " ", phone)
    with pytest.raises(NotFound):
        await stores.calls.end_call(AGENT, professional, call.id, "wrong consultation", phone)
    ended = await stores.calls.end_call(
        AGENT, consultation_id, call.id, "已解答试用期问题，建议书面沟通。", phone
    )
    assert ended.status == "ended" and ended.ended_at is not None and ended.duration_seconds >= 0
    assert ended.recording_ref == f"recordings/sim-{call.id}.wav"
    with pytest.raises(Conflict):
        await stores.calls.end_call(AGENT, consultation_id, call.id, "again", phone)

    view = await stores.consultations.get(CLIENT, consultation_id)
    assert [(c.id, c.status) for c in view.calls] == [(call.id, "ended")]
    assert [s.stage for s in view.stages if s.stage.startswith("call")] == ["call_connected", "call_ended"]
    assert {"call.connected", "call.ended"} <= set(await events(stores))


async def test_a_professional_question_gets_the_reply_clock_of_its_orders_tier(
    stores: ConsultationStores,
) -> None:
    """`reply_due_at` = submission + the bought tier's `reply_hours` as the order copied it; 24 h when the
    order carries none (an order from before tiers were copied)."""
    from typing import Any, cast

    from counsel.consultation.v1 import consultation_service_pb2 as pb
    from counsel.payment.v1 import payment_service_pb2 as payment_pb
    from services.consultation.server import ConsultationServicer
    from services.runtime.context import principal_var

    class Payments:
        async def GetOrder(
            self, request: payment_pb.GetOrderRequest, **_: Any
        ) -> payment_pb.GetOrderResponse:
            order = payment_pb.Order(id=request.order_id, status="paid", category="consultation")
            if request.order_id == "order-48h":
                order.reply_hours = 48
            return payment_pb.GetOrderResponse(order=order)

    servicer = ConsultationServicer(stores, cast(Any, Payments()))
    token = principal_var.set(CLIENT)
    try:
        due = {}
        for order_id in ("order-48h", "order-without-hours"):
            reply = await servicer.CreateConsultation(
                pb.CreateConsultationRequest(
                    kind="professional", subject="工资", question=LABOUR_QUESTION, order_id=order_id
                ),
                cast(Any, None),
            )
            c = reply.consultation
            due[order_id] = c.reply_due_at.ToDatetime() - c.created_at.ToDatetime()
    finally:
        principal_var.reset(token)
    assert due == {"order-48h": timedelta(hours=48), "order-without-hours": timedelta(hours=24)}


async def test_open_reply_clocks_are_counted_for_the_sla_timers_gauge(stores: ConsultationStores) -> None:
    """counsel_sla_timers_pending{kind="reply_24h"}: professional questions with a reply promised and not
    given; a general question carries no promise; an answered one stops its clock."""
    assert await stores.consultations.open_timers() == {"reply_24h": 0}
    answered = await submit(stores)
    await submit(stores)
    await stores.consultations.create(CLIENT, NewConsultation("general", "试用期", LABOUR_QUESTION, ""), "")
    await stores.assignments.classify(answered, "c", default_classifier().classify)
    lawyer_id = (await stores.assignments.assign(answered, [], None, "a")).lawyer_id
    assert await stores.consultations.open_timers() == {"reply_24h": 2}
    # By due hour (the workflow dashboard): both replies were promised within 24 hours; a day on, both are late.
    assert await stores.consultations.timers_due(utcnow()) == {("reply_24h", "24h"): 2}
    assert await stores.consultations.timers_due(utcnow() + timedelta(days=1)) == {
        ("reply_24h", "overdue"): 2
    }
    await stores.consultations.post_message(lawyer(lawyer_id), answered, "答复如下……")
    assert await stores.consultations.open_timers() == {"reply_24h": 1}


async def test_a_paid_consultation_order_serves_exactly_one_consultation_of_its_kind(
    stores: ConsultationStores,
) -> None:
    """API.md: one paid consultation order serves exactly one consultation of its product's kind; a second
    one (however many are submitted at once: the unique index decides), another kind or another category's
    order is a 409 naming why. A retainer serves any number."""
    import asyncio
    from typing import Any, cast

    from counsel.consultation.v1 import consultation_service_pb2 as pb
    from counsel.payment.v1 import payment_service_pb2 as payment_pb
    from services.consultation.server import ConsultationServicer
    from services.runtime.context import principal_var

    orders = {
        "o-professional": payment_pb.Order(
            status="paid", category="consultation", consultation_kind="professional"
        ),
        "o-phone": payment_pb.Order(status="in_service", category="consultation", consultation_kind="phone"),
        "o-document": payment_pb.Order(status="in_service", category="document"),
        "o-retainer": payment_pb.Order(status="in_service", category="retainer"),
    }

    class Payments:
        async def GetOrder(
            self, request: payment_pb.GetOrderRequest, **_: Any
        ) -> payment_pb.GetOrderResponse:
            order = payment_pb.Order(id=request.order_id)
            order.MergeFrom(orders[request.order_id])
            return payment_pb.GetOrderResponse(order=order)

    servicer = ConsultationServicer(stores, cast(Any, Payments()))

    async def submit(kind: str, order_id: str, key: str = "") -> pb.Consultation:
        token = principal_var.set(CLIENT)
        try:
            reply = await servicer.CreateConsultation(
                pb.CreateConsultationRequest(
                    kind=kind,
                    subject="工资",
                    question=LABOUR_QUESTION,
                    order_id=order_id,
                    idempotency_key=key,
                ),
                cast(Any, None),
            )
        finally:
            principal_var.reset(token)
        return reply.consultation

    async def refused(kind: str, order_id: str) -> str:
        with pytest.raises(Conflict) as conflict:
            await submit(kind, order_id)
        return conflict.value.reason

    assert await refused("phone", "o-professional") == "order_kind_mismatch"
    assert await refused("professional", "o-phone") == "order_kind_mismatch"
    assert await refused("professional", "o-document") == "order_not_for_consultation"
    attempts = await asyncio.gather(
        *(submit("professional", "o-professional", f"k{n}") for n in range(5)), return_exceptions=True
    )
    [(winner, served)] = [(n, a) for n, a in enumerate(attempts) if isinstance(a, pb.Consultation)]
    assert all(isinstance(a, Conflict) and a.reason == "order_used" for a in attempts if a is not served)
    # The winner's own retry (its Idempotency-Key) is the consultation it made, not a second use.
    assert (await submit("professional", "o-professional", f"k{winner}")).id == served.id
    assert await refused("professional", "o-professional") == "order_used"
    assert (await submit("phone", "o-phone")).order_id == "o-phone"
    retained = {(await submit("professional", "o-retainer")).id for _ in range(2)}
    assert len(retained) == 2


async def test_the_close_tells_the_order_whether_the_consultation_was_served(
    stores: ConsultationStores,
) -> None:
    """`consultation.closed` carries its order and whether it was served (a lawyer answered, or a call
    took place): the order's workflow completes the order or refunds it."""
    from counsel.common.v1.event_pb2 import EventEnvelope
    from counsel.consultation.v1 import events_pb2

    answered = await submit(stores)
    await stores.assignments.classify(answered, "c", default_classifier().classify)
    lawyer_id = (await stores.assignments.assign(answered, [], None, "a")).lawyer_id
    await stores.consultations.post_message(lawyer(lawyer_id), answered, "可以主张经济补偿。")
    unanswered = await submit(stores)
    for consultation_id in (answered, unanswered):
        await stores.consultations.close(CLIENT, consultation_id, "closed_by_client")
    async with stores.consultations.db.transaction() as session:
        payloads = (
            await session.execute(
                select(TABLES.outbox.c.payload).where(TABLES.outbox.c.subject.like("%.consultation.closed"))
            )
        ).scalars()
        closes = [EventEnvelope.FromString(p) for p in payloads]
    told = {}
    for envelope in closes:
        closed = events_pb2.ConsultationClosed()
        envelope.payload.Unpack(closed)
        told[closed.consultation_id] = (closed.order_id, closed.served)
    assert told == {answered: ("order-1", True), unanswered: ("order-1", False)}


async def test_the_reply_promise_is_decided_once_by_the_reply_or_the_first_breach(
    stores: ConsultationStores,
) -> None:
    """counsel_sla_deadlines_total{kind="reply_24h"}: a first reply before any breach keeps the promise; the
    first breach misses it, and neither a second breach nor the late reply counts again."""

    def decided(outcome: str) -> float:
        labels = {"kind": "reply_24h", "tier": "all", "outcome": outcome}
        return REGISTRY.get_sample_value("counsel_sla_deadlines_total", labels) or 0.0

    kept, missed = decided("kept"), decided("missed")
    answered = await submit(stores)
    await stores.assignments.classify(answered, "c", default_classifier().classify)
    lawyer_id = (await stores.assignments.assign(answered, [], None, "a")).lawyer_id
    await stores.consultations.post_message(lawyer(lawyer_id), answered, "答复如下……")
    assert (decided("kept"), decided("missed")) == (kept + 1, missed)

    late = await submit(stores)
    await stores.assignments.classify(late, "c", default_classifier().classify)
    first = (await stores.assignments.assign(late, [], None, "a")).lawyer_id
    due = utcnow()
    second = (
        await stores.assignments.escalate(late, first, due, [first], due + timedelta(hours=4), "e1")
    ).to_lawyer_id
    await stores.assignments.escalate(
        late, first, due, [first], due + timedelta(hours=4), "e1"
    )  # a retried activity
    await stores.assignments.escalate(late, second, due, [first], due + timedelta(hours=8), "e2")
    current = (await stores.consultations.get(AGENT, late)).row.assigned_lawyer_id
    await stores.consultations.post_message(lawyer(current), late, "抱歉久等……")
    assert (decided("kept"), decided("missed")) == (kept + 1, missed + 1)


async def test_reply_clocks_at_risk_have_under_a_quarter_of_the_window_left(
    stores: ConsultationStores,
) -> None:
    """counsel_sla_timers_at_risk{kind="reply_24h"}: measured on the current lawyer's due time against the
    reply window (24 h: at risk from 6 h before), until the reply."""
    consultation_id = await submit(stores)
    await stores.assignments.classify(consultation_id, "c", default_classifier().classify)
    lawyer_id = (await stores.assignments.assign(consultation_id, [], None, "a")).lawyer_id
    assert await stores.consultations.timers_at_risk() == {"reply_24h": 0}
    await stores.assignments.escalate(
        consultation_id, lawyer_id, utcnow(), [lawyer_id], utcnow() + timedelta(hours=5), "e"
    )
    assert await stores.consultations.timers_at_risk() == {"reply_24h": 1}


def complaint_clocks(outcome: str) -> float:
    labels = {"kind": "complaint_response", "tier": "all", "outcome": outcome}
    return REGISTRY.get_sample_value("counsel_sla_deadlines_total", labels) or 0.0


async def test_a_complaint_about_a_document_order_runs_a_response_clock_and_is_idempotent(
    stores: ConsultationStores,
) -> None:
    """R-CS-3 on every service: any subject (its owner checked by the gateway), due in 24 h, one per key."""
    with pytest.raises(InvalidArgument) as bad_subject:
        await stores.complaints.raise_complaint(CLIENT, "invoice", "x-1", "不满意")
    assert [v.field for v in bad_subject.value.violations] == ["subject_type"]
    with pytest.raises(NotFound):
        await stores.complaints.raise_complaint(CLIENT, "consultation", "no-such-consultation", "不满意")

    complaint = await stores.complaints.raise_complaint(
        CLIENT, "document_order", "docorder-1", "合同初稿迟交了一天。", "key-1"
    )
    assert (complaint.subject_type, complaint.subject_id, complaint.consultation_id) == (
        "document_order",
        "docorder-1",
        None,
    )
    assert complaint.due_at == complaint.created_at + timedelta(hours=24)
    again = await stores.complaints.raise_complaint(
        CLIENT, "document_order", "docorder-1", "合同初稿迟交了一天。", "key-1"
    )
    assert again.id == complaint.id
    with pytest.raises(Conflict):
        await stores.complaints.raise_complaint(CLIENT, "document_order", "docorder-1", "另一件事", "key-1")
    assert await events(stores) == ["complaint.raised"]

    assert (await stores.complaints.get_complaint(CLIENT, complaint.id)).id == complaint.id
    assert (await stores.complaints.get_complaint(SUPERVISOR, complaint.id)).id == complaint.id
    with pytest.raises(NotFound):
        await stores.complaints.get_complaint(OTHER_TENANT, complaint.id)
    with pytest.raises(NotFound):
        await stores.complaints.get_complaint(lawyer("labour-a"), complaint.id)


async def test_the_client_reopens_a_resolution_with_a_reason_then_accepts_the_next(
    stores: ConsultationStores,
) -> None:
    """Resolving stops the clock (kept, counted once); a reopen starts a new one; accepting closes."""
    complaint = await stores.complaints.raise_complaint(CLIENT, "booking", "booking-1", "律师迟到半小时。")
    kept = complaint_clocks("kept")
    with pytest.raises(Conflict):
        await stores.complaints.accept_complaint(CLIENT, complaint.id)
    resolved = await stores.complaints.update_complaint(
        AGENT, complaint.id, "resolved", "已致歉并退还部分费用。"
    )
    assert (resolved.status, resolved.due_at) == ("resolved", None)
    assert complaint_clocks("kept") == kept + 1

    with pytest.raises(NotFound):
        await stores.complaints.reopen_complaint(OTHER_TENANT, complaint.id, "不够")
    with pytest.raises(PermissionDenied):
        await stores.complaints.reopen_complaint(AGENT, complaint.id, "不够")
    with pytest.raises(InvalidArgument):
        await stores.complaints.reopen_complaint(CLIENT, complaint.id, " ")
    reopened = await stores.complaints.reopen_complaint(CLIENT, complaint.id, "退款金额不对。")
    assert (reopened.status, reopened.reopen_reason) == ("reopened", "退款金额不对。")
    assert reopened.due_at is not None and reopened.due_at > utcnow() + timedelta(hours=23)
    with pytest.raises(Conflict):
        await stores.complaints.reopen_complaint(CLIENT, complaint.id, "再次")
    with pytest.raises(Conflict):
        await stores.complaints.accept_complaint(CLIENT, complaint.id)

    await stores.complaints.update_complaint(AGENT, complaint.id, "in_progress", "")
    await stores.complaints.update_complaint(AGENT, complaint.id, "resolved", "已补退差额。")
    closed = await stores.complaints.accept_complaint(CLIENT, complaint.id)
    assert closed.status == "closed"
    with pytest.raises(Conflict):
        await stores.complaints.reopen_complaint(CLIENT, complaint.id, "又不满意")
    assert (await stores.complaints.close_unanswered(complaint.id)).status == "closed"
    assert await events(stores) == [
        "complaint.raised",
        "complaint.resolved",
        "complaint.reopened",
        "complaint.in_progress",
        "complaint.resolved",
        "complaint.closed",
    ]


async def test_a_breached_clock_escalates_once_and_a_resolution_left_unanswered_closes(
    stores: ConsultationStores,
) -> None:
    """The workflow's breach stands only for the running clock; it counts the clock missed once."""
    complaint = await stores.complaints.raise_complaint(CLIENT, "order", "order-1", "扣款两次。")
    assert complaint.due_at is not None
    missed, kept = complaint_clocks("missed"), complaint_clocks("kept")
    assert not await stores.complaints.escalate(complaint.id, complaint.due_at - timedelta(hours=1))
    assert await stores.complaints.escalate(complaint.id, complaint.due_at)
    assert not await stores.complaints.escalate(complaint.id, complaint.due_at)  # a retry
    assert complaint_clocks("missed") == missed + 1
    escalated = await stores.complaints.get_complaint(AGENT, complaint.id)
    assert escalated.escalated_at is not None and escalated.status == "open"

    await stores.complaints.update_complaint(AGENT, complaint.id, "resolved", "已退还重复扣款。")
    assert (complaint_clocks("missed"), complaint_clocks("kept")) == (missed + 1, kept)
    assert not await stores.complaints.escalate(complaint.id, complaint.due_at)
    assert (await stores.complaints.close_unanswered(complaint.id)).status == "closed"
    assert await events(stores) == [
        "complaint.raised",
        "complaint.escalated",
        "complaint.resolved",
        "complaint.closed",
    ]
