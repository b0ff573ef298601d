"""Every stage event in the protos has a template in Chinese and English and named recipients (R-Q-3, §9.2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from counsel.booking.v1 import events_pb2 as booking
from counsel.catalog.v1 import events_pb2 as catalog
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.common.v1.money_pb2 import Money
from counsel.consultation.v1 import events_pb2 as consultation
from counsel.documents.v1 import events_pb2 as documents
from counsel.payment.v1 import events_pb2 as payment
from services.notification.domain import Fact, plan_for, render, render_digest
from services.notification.policy import Category
from services.notification.templates import load_templates, templates
from tests.support import factories

PROTOS = Path(__file__).resolve().parents[2] / "protos" / "counsel"


def envelope(event_type: str, payload: Message) -> EventEnvelope:
    return factories.envelope(event_type, payload, id="e1", tenant_id="t1")


# Events of those services that are no stage of a client's service: a lawyer's record of their own visit feeds
# quality supervision (catalog), and the enterprise reads its visits in `GET /api/v1/visits`.
# An online call's end notifies nobody: both of its parties were on it.
NOT_STAGES = {"visit.recorded", "online_call.ended"}


def stage_event_types() -> set[str]:
    """Every `"<entity>.<past>"` named in the events.proto of the services whose clients are notified."""
    found: set[str] = set()
    for service in ("consultation", "documents", "booking", "payment"):
        text = (PROTOS / service / "v1" / "events.proto").read_text()
        found |= set(re.findall(r'Payload of event "([a-z_]+\.[a-z_]+)"', text))
    return found - NOT_STAGES


EXAMPLES: dict[str, Message] = {
    "consultation.submitted": consultation.ConsultationSubmitted(
        consultation_id="c1", client_id="client", kind="general", subject="试用期"
    ),
    "consultation.assigned": consultation.ConsultationAssigned(consultation_id="c1", lawyer_id="lawyer"),
    "consultation.replied": consultation.ConsultationReplied(consultation_id="c1", author_id="lawyer"),
    "consultation.escalated": consultation.ConsultationEscalated(
        consultation_id="c1", from_lawyer_id="lawyer", to_lawyer_id="lawyer2"
    ),
    "consultation.closed": consultation.ConsultationClosed(consultation_id="c1", client_id="client"),
    "consultation.classified": consultation.ConsultationClassified(
        consultation_id="c1", legal_field="labour"
    ),
    "chat.message_posted": consultation.ChatMessagePosted(
        conversation_id="chat1",
        seq=3,
        message_id="m1",
        author_role="agent",
        client_id="client",
        author_id="agent",
    ),
    "consultation.rated": consultation.ConsultationRated(consultation_id="c1", lawyer_id="lawyer", rating=5),
    "docorder.created": documents.DocOrderCreated(
        document_order_id="d1",
        order_id="o1",
        client_id="client",
        complexity="simple",
        assigned_lawyer_id="lawyer",
    ),
    "docorder.assigned": documents.DocOrderAssigned(
        document_order_id="d1", lawyer_id="lawyer", agent_id="agent", legal_field="tax"
    ),
    "docorder.rejected": documents.DocOrderRejected(
        document_order_id="d1", version_number=1, reviewer_id="rev"
    ),
    "docorder.accepted": documents.DocOrderAccepted(document_order_id="d1", client_id="client"),
    "docorder.sla_breached": documents.DocOrderSlaBreached(
        document_order_id="d1",
        kind="delivery",
        due_at=Timestamp(seconds=1_780_000_000),
        client_id="client",
        assigned_lawyer_id="lawyer2",
        missed_by_lawyer_id="lawyer",
    ),
    "docorder.acknowledged": documents.DocOrderAcknowledged(document_order_id="d1", agent_id="agent"),
    "docorder.drafted": documents.DocOrderDrafted(
        document_order_id="d1", version_number=1, author_id="lawyer"
    ),
    "docorder.approved": documents.DocOrderApproved(
        document_order_id="d1", version_number=1, reviewer_id="reviewer"
    ),
    "docorder.delivered": documents.DocOrderDelivered(
        document_order_id="d1", version_number=1, client_id="client"
    ),
    "docorder.revision_requested": documents.DocOrderRevisionRequested(
        document_order_id="d1", requested_by="client", note="改一下"
    ),
    "docorder.completed": documents.DocOrderCompleted(
        document_order_id="d1", order_id="o1", final_version_number=2
    ),
    "docorder.cancelled": documents.DocOrderCancelled(
        document_order_id="d1",
        order_id="o1",
        client_id="client",
        reason="无法按要求起草",
        cancelled_by="supervisor",
        stage="drafting",
        assigned_lawyer_id="lawyer",
    ),
    "booking.held": booking.BookingHeld(booking_id="b1", client_id="client", lawyer_id="lawyer"),
    "booking.confirmed": booking.BookingConfirmed(booking_id="b1", client_id="client", lawyer_id="lawyer"),
    "booking.reminded": booking.BookingReminded(
        booking_id="b1", client_id="client", lawyer_id="lawyer", lead_minutes=60
    ),
    "booking.cancelled": booking.BookingCancelled(
        booking_id="b1", client_id="client", status="cancelled", reason="client_request"
    ),
    "booking.completed": booking.BookingCompleted(booking_id="b1", client_id="client", status="completed"),
    "booking.rescheduled": booking.BookingRescheduled(
        booking_id="b1", client_id="client", lawyer_id="lawyer"
    ),
    "booking.checked_in": booking.BookingCheckedIn(booking_id="b1", client_id="client", lawyer_id="lawyer"),
    "order.created": payment.OrderCreated(
        order_id="o1", client_id="client", amount=Money(amount=99900, currency="CNY")
    ),
    "order.paid": payment.OrderPaid(
        order_id="o1", client_id="client", amount=Money(amount=99900, currency="CNY")
    ),
    "order.cancelled": payment.OrderCancelled(order_id="o1", client_id="client", reason="payment_timeout"),
    "order.refunded": payment.OrderRefunded(
        order_id="o1",
        client_id="client",
        amount=Money(amount=500, currency="CNY"),
        reason="fulfilment_failed",
    ),
}


def test_every_stage_event_in_the_protos_has_an_example_here() -> None:
    assert stage_event_types() == set(EXAMPLES)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_every_stage_event_notifies_someone_in_both_languages(event_type: str) -> None:
    plan = plan_for(envelope(event_type, EXAMPLES[event_type]))
    assert plan.notices, f"{event_type} notifies nobody"
    for notice in plan.notices:
        assert notice.user_id or notice.role or notice.group
        for language in ("zh", "en"):
            text = render(notice.kind, notice.params, language)
            assert text.title and text.body
            assert "{" not in text.title + text.body and "[[" not in text.body
        zh, en = render(notice.kind, notice.params, "zh"), render(notice.kind, notice.params, "en")
        assert zh.title != en.title


def test_every_template_has_both_languages() -> None:
    assert all(set(t) == {"zh", "en"} for t in templates().values())


def test_deadline_breaches_delivery_payment_and_reminders_are_transactional() -> None:
    transactional = {
        event_type
        for event_type, payload in EXAMPLES.items()
        if any(n.category is Category.TRANSACTIONAL for n in plan_for(envelope(event_type, payload)).notices)
    }
    assert {
        "consultation.escalated",
        "docorder.sla_breached",
        "docorder.delivered",
        "docorder.cancelled",
        "order.paid",
        "order.refunded",
        "booking.reminded",
    } <= transactional
    assert "consultation.replied" not in transactional


def test_booking_reminders_reach_the_client_and_the_lawyer() -> None:
    """R-BK-1: the 24 h and 1 h reminders go to both sides of the meeting."""
    plan = plan_for(envelope("booking.reminded", EXAMPLES["booking.reminded"]))
    assert {n.user_id for n in plan.notices} == {"client", "lawyer"}


def test_groups_hear_of_breaches_escalations_and_their_enterprises_payments() -> None:
    """Recipients no event names are groups, resolved through identity: a document breach alerts the agents
    and the supervisors, a missed consultation reply the supervisors, a paid order the enterprise's admins
    (not the payer, who is told already)."""

    def groups(event_type: str) -> set[tuple[str, str]]:
        plan = plan_for(envelope(event_type, EXAMPLES[event_type]))
        return {(n.kind, n.group) for n in plan.notices if n.group}

    assert groups("docorder.sla_breached") == {
        ("docorder.sla_breached.staff", "agent"),
        ("docorder.sla_breached.staff", "supervisor"),
    }
    assert groups("consultation.escalated") == {("consultation.escalated.supervisor", "supervisor")}
    assert groups("order.paid") == {("order.paid.admin", "client_admin")}
    paid = plan_for(envelope("order.paid", EXAMPLES["order.paid"]))
    admin = next(n for n in paid.notices if n.group)
    assert EXAMPLES["order.paid"].client_id in admin.exclude  # type: ignore[attr-defined]


def test_a_lawyer_who_missed_a_document_deadline_hears_it_themselves() -> None:
    """As consultation's `escalated.missed`: the lawyer whose draft was late is told, in their language, that
    the order went to another lawyer, who is told to finish it; a lawyer still assigned gets the one notice."""
    reassigned = plan_for(envelope("docorder.sla_breached", EXAMPLES["docorder.sla_breached"]))
    to_lawyers = {n.user_id: n for n in reassigned.notices if n.user_id not in ("", "client")}
    assert {user: n.kind for user, n in to_lawyers.items()} == {
        "lawyer": "docorder.sla_breached.missed",
        "lawyer2": "docorder.sla_breached.lawyer",
    }
    missed = to_lawyers["lawyer"]
    assert missed.category is Category.TRANSACTIONAL
    assert render(missed.kind, missed.params, "zh").body == (
        "您未按期（2026-05-29 04:26 (UTC+8)）提交文书初稿，该订单已转交其他律师。"
    )
    assert render(missed.kind, missed.params, "en").title == "Document deadline missed"

    kept = documents.DocOrderSlaBreached(
        document_order_id="d1", kind="delivery", assigned_lawyer_id="lawyer", missed_by_lawyer_id="lawyer"
    )
    plan = plan_for(envelope("docorder.sla_breached", kept))
    assert [n.kind for n in plan.notices if n.user_id == "lawyer"] == ["docorder.sla_breached.lawyer"]


def test_participants_are_learned_for_later_events() -> None:
    submitted = plan_for(envelope("consultation.submitted", EXAMPLES["consultation.submitted"]))
    assert Fact("consultation", "c1", "client", "client") in submitted.facts
    assigned = plan_for(envelope("consultation.assigned", EXAMPLES["consultation.assigned"]))
    assert {(n.user_id, n.role) for n in assigned.notices} == {("lawyer", ""), ("", "client")}
    replied = plan_for(envelope("consultation.replied", EXAMPLES["consultation.replied"]))
    assert all("lawyer" in n.exclude for n in replied.notices)  # the author does not hear of their reply


def test_optional_template_parts_disappear_without_their_value() -> None:
    without = render("consultation.submitted", {"subject": "s", "due": ""}, "en")
    assert without.body == "We have received your consultation “s”."
    with_due = render("consultation.submitted", {"subject": "s", "due": "2026-11-30 10:00 (UTC+8)"}, "en")
    assert with_due.body.endswith("A lawyer will reply by 2026-11-30 10:00 (UTC+8).")


def test_a_digest_lists_the_titles_it_carries() -> None:
    digest = render_digest(["咨询已提交", "已为您指派律师"], "zh")
    assert digest.title == "2 条服务进展"
    assert digest.body.splitlines() == ["· 咨询已提交", "· 已为您指派律师"]


def test_an_unknown_event_notifies_nobody() -> None:
    plan = plan_for(envelope("product.published", consultation.ConsultationClosed()))
    assert plan.notices == [] and plan.facts == []


def test_money_and_deadlines_render_for_the_client() -> None:
    created = plan_for(envelope("order.created", EXAMPLES["order.created"])).notices[0]
    assert "999.00 CNY" in render(created.kind, created.params, "en").body


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('["order.paid"]\nzh.title = "支付成功"\nzh.body = "已付款"\n', "languages zh, en"),
        (
            '["order.paid"]\nzh.title = "支付成功"\nen.title = "Paid"\nen.body = "Paid"\nzh.body = ""\n',
            "non-empty",
        ),
        (
            '["order.paid"]\nzh = { title = "t", body = "{amount" }\nen = { title = "t", body = "b" }\n',
            "zh.body",
        ),
        (
            '["order.paid"]\nzh = { title = "t", body = "{amount!r}" }\nen = { title = "t", body = "b" }\n',
            "plain",
        ),
        (
            '["order.paid"]\nzh = { title = "t", body = "[[{due}" }\nen = { title = "t", body = "b" }\n',
            "[[ ]]",
        ),
    ],
)
def test_a_broken_templates_file_is_refused_at_load_naming_the_kind(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "templates.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(complaint)) as refused:
        load_templates(path)
    assert "order.paid" in str(refused.value)


@pytest.mark.parametrize(
    ("key", "zh", "en"), [("other", "其他", "other matters"), ("labour", "劳动", "labour")]
)
def test_the_client_reads_the_field_of_their_question_as_a_word_of_their_language(
    key: str, zh: str, en: str
) -> None:
    """A field reaches people as its label: never a raw key such as "other" inside a Chinese sentence."""
    event = consultation.ConsultationClassified(consultation_id="c1", legal_field=key)
    (notice,) = plan_for(envelope("consultation.classified", event)).notices
    chinese = render(notice.kind, notice.params, "zh")
    assert f"“{zh}”" in chinese.body and not re.search("[a-z]", chinese.body)
    assert en in render(notice.kind, notice.params, "en").body


@pytest.mark.parametrize(
    ("event_type", "payload", "zh", "en"),
    [
        (
            "booking.cancelled",
            booking.BookingCancelled(
                booking_id="b1", client_id="client", status="cancelled", reason="client_request"
            ),
            "应客户要求",
            "at the client's request",
        ),
        (
            "order.cancelled",
            payment.OrderCancelled(order_id="o1", client_id="client", reason="payment_timeout"),
            "未在时限内付款",
            "not paid in time",
        ),
        (
            "order.refunded",
            payment.OrderRefunded(
                order_id="o1",
                client_id="client",
                amount=Money(amount=500, currency="CNY"),
                reason="booking_cancelled: client_request",
            ),
            "预约已取消：应客户要求",
            "the booking was cancelled: at the client's request",
        ),
    ],
)
def test_a_cancellation_or_refund_reason_reaches_the_client_in_words_not_as_a_code(
    event_type: str, payload: Message, zh: str, en: str
) -> None:
    """Reason codes (`client_request`, `booking_cancelled: …`) are shown in the reader's language; a reason
    someone typed is shown as it is."""
    notice = plan_for(envelope(event_type, payload)).notices[0]  # the client's (a lawyer may hear it too)
    chinese = render(notice.kind, notice.params, "zh").body
    assert f"（{zh}）" in chinese and not re.search("[a-z]", chinese)
    assert f"({en})" in render(notice.kind, notice.params, "en").body
    typed = payment.OrderCancelled(order_id="o1", client_id="client", reason="不再需要")
    (notice,) = plan_for(envelope("order.cancelled", typed)).notices
    assert "（不再需要）" in render(notice.kind, notice.params, "zh").body


def test_complaints_reach_the_agents_the_client_and_on_a_breach_the_supervisors() -> None:
    """R-CS-3: agents hear of a new or reopened complaint, the client of its resolution, the supervisors of
    a response clock that ran out; every message in both languages names what the complaint is about."""
    due = Timestamp(seconds=1_796_000_000)

    def notices(step: str) -> set[tuple[str, str, str]]:
        changed = consultation.ComplaintChanged(
            complaint_id="k1", subject_type="booking", subject_id="b1", client_id="client", due_at=due
        )
        plan = plan_for(envelope(f"complaint.{step}", changed))
        for notice in plan.notices:
            assert notice.subject_type == "complaint"
            zh, en = render(notice.kind, notice.params, "zh"), render(notice.kind, notice.params, "en")
            assert "预约" in zh.body and "booking" in en.body and "{" not in zh.body + en.body
        return {(n.kind, n.user_id, n.group) for n in plan.notices}

    assert notices("raised") == {
        ("complaint.raised", "client", ""),
        ("complaint.raised.agent", "", "agent"),
    }
    assert notices("reopened") == {("complaint.reopened.agent", "", "agent")}
    assert notices("resolved") == {("complaint.resolved", "client", "")}
    assert notices("escalated") == {("complaint.escalated.supervisor", "", "supervisor")}
    assert notices("in_progress") == notices("closed") == set()


@pytest.mark.parametrize(
    ("kind", "zh_name", "en_name"),
    [
        ("consultation_reply", "咨询回复", "consultation reply"),
        ("document_version", "交付文书", "delivered document"),
        ("meeting", "会面", "meeting"),
        ("visit", "上门走访", "visit"),
    ],
)
def test_a_failed_sample_asks_its_lawyer_to_follow_it_up_naming_the_output(
    kind: str, zh_name: str, en_name: str
) -> None:
    """R-Q-5: the follow-up of a failed sample reaches the sampled lawyer alone, the output named in words of
    their language, the findings included when the supervisor wrote some."""
    opened = catalog.QualityFollowUpOpened(
        sample_id="s1", lawyer_id="lawyer", kind=kind, object_id="o1", score=2, findings="遗漏时效"
    )
    (notice,) = plan_for(envelope("quality.follow_up_opened", opened)).notices
    assert (notice.user_id, notice.group, notice.subject_type, notice.subject_id) == (
        "lawyer",
        "",
        "qc_sample",
        "s1",
    )
    zh, en = render(notice.kind, notice.params, "zh"), render(notice.kind, notice.params, "en")
    assert zh_name in zh.body and "遗漏时效" in zh.body and "2 分" in zh.body
    assert not re.search("[a-z]", zh.body)
    assert en_name in en.body
    silent = render(notice.kind, {**notice.params, "findings": ""}, "zh")
    assert "意见" not in silent.body


@pytest.mark.parametrize("kind", ["visit_without_check_in", "two_low_ratings", "reply_past_due_twice"])
def test_a_risk_flag_reaches_every_supervisor_at_once(kind: str) -> None:
    """R-Q-4: a risk control's flag goes to the supervisors' group, transactional (like a missed deadline),
    saying in Chinese what was seen rather than the flag's key."""
    flagged = catalog.QualityRiskFlagged(flag_id="f1", kind=kind, lawyer_id="lawyer", object_id="o1")
    (notice,) = plan_for(envelope("quality.risk_flagged", flagged)).notices
    assert (notice.group, notice.user_id, notice.category) == ("supervisor", "", Category.TRANSACTIONAL)
    assert (notice.subject_type, notice.subject_id) == ("risk_flag", "f1")
    zh = render(notice.kind, notice.params, "zh")
    assert not re.search("[a-z]", zh.body)
    assert kind not in render(notice.kind, notice.params, "en").body


def test_an_ending_firm_agreement_reaches_every_operator_at_once() -> None:
    """§4.1.1: the warning of a firm's ending cooperation agreement goes to the operators' group,
    transactional (in the inbox and by e-mail at once), naming the firm and the agreement's last day."""
    ending = catalog.FirmAgreementEnding(firm_id="f1", name="正义律师事务所", agreement_ends_on="2026-12-31")
    (notice,) = plan_for(envelope("firm.agreement_ending", ending)).notices
    assert (notice.group, notice.user_id, notice.category) == ("operator", "", Category.TRANSACTIONAL)
    assert (notice.subject_type, notice.subject_id) == ("firm", "f1")
    for language in ("zh", "en"):
        text = render(notice.kind, notice.params, language)
        assert "正义律师事务所" in text.title and "2026-12-31" in text.body
    assert not re.search("[a-z]", render(notice.kind, notice.params, "zh").body)
