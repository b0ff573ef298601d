"""The decisions consultation's stores act on, without a database (R-CON-2, R-CON-3, R-CS-1, R-CS-2): what a
recorded stage does to the status, when a reply is due, what a classification and an assignment record,
when an assignment or reclassification moves a consultation, what a missed deadline records, and what the
chat bot does with a client's message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.consultation import chat, domain
from services.legal_fields.classifier import Prediction
from services.runtime.errors import Conflict

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_recorded_stage_moves_the_status_it_implies_once() -> None:
    assert domain.status_after_stage("submitted", "assigned") == "assigned"
    assert domain.status_after_stage("assigned", "escalated") is None  # still assigned
    assert domain.status_after_stage("assigned", "answered") == "answered"
    assert domain.status_after_stage("answered", "closed") == "closed"
    assert domain.status_after_stage("assigned", "classified") is None  # a stage without a status
    with pytest.raises(Conflict):
        domain.status_after_stage("closed", "answered")


def test_only_a_professional_question_carries_a_reply_clock() -> None:
    assert domain.reply_due_at("professional", NOW, timedelta(hours=48)) == NOW + timedelta(hours=48)
    assert domain.reply_due_at("professional", NOW, None) is None
    assert domain.reply_due_at("phone", NOW, timedelta(hours=24)) is None
    assert domain.reply_due_at("general", NOW, timedelta(hours=24)) is None


def test_the_assigned_lawyers_first_message_answers_the_consultation() -> None:
    assert domain.is_first_reply("lawyer", answered=False)
    assert not domain.is_first_reply("lawyer", answered=True)
    assert not domain.is_first_reply("client", answered=False)
    assert not domain.is_first_reply("agent", answered=False)


def test_a_classification_says_whether_an_agent_must_classify_by_hand() -> None:
    sure = domain.classification(Prediction("labour", 0.91, False, "labour"))
    assert sure == domain.Classification("labour", 0.91, False, "labour (91%)")
    unsure = domain.classification(Prediction("other", 0.2, True, "tax"))
    assert unsure.needs_manual and unsure.legal_field == "other"
    assert unsure.detail == "not confident (20%): an agent classifies it by hand"


def test_a_reclassification_reassigns_unless_the_lawyer_practises_the_new_field() -> None:
    assert domain.reassigns_after_reclassification("submitted", lawyer_practises_field=False)
    assert domain.reassigns_after_reclassification("assigned", lawyer_practises_field=False)
    assert not domain.reassigns_after_reclassification("assigned", lawyer_practises_field=True)
    assert not domain.reassigns_after_reclassification("answered", lawyer_practises_field=False)


def test_an_assignment_names_the_lawyer_and_why_or_leaves_it_to_a_supervisor() -> None:
    chosen = domain.assignment("labour", ("lawyer-1", "field labour; within service hours"), "matched")
    assert chosen == domain.Assignment("lawyer-1", "matched: field labour; within service hours")
    nobody = domain.assignment("", None, "matched")
    assert nobody == domain.Assignment("", "no eligible other lawyer: left to a supervisor")


def test_an_assignment_is_made_once_and_never_after_the_answer() -> None:
    assert domain.assignment_due("submitted", already_recorded=False)
    assert domain.assignment_due("assigned", already_recorded=False)  # a reassignment
    assert not domain.assignment_due("submitted", already_recorded=True)  # the activity's retry
    assert not domain.assignment_due("answered", already_recorded=False)
    assert not domain.assignment_due("closed", already_recorded=False)


def test_a_breach_is_the_current_holders_and_keeps_the_original_promise() -> None:
    original = NOW + timedelta(hours=24)
    missed = NOW + timedelta(hours=4)
    # The row's holder wins over the one the workflow remembers (an agent may have moved it).
    moved = domain.breach("lawyer-2", "lawyer-1", ["lawyer-0"], missed, original, 2)
    assert moved.from_lawyer_id == "lawyer-2" and moved.exclude == ["lawyer-0", "lawyer-2"]
    assert moved.detail == (
        f"reply deadline {missed.isoformat()} missed by lawyer-2; breach 2; original due {original.isoformat()}"
    )
    unheld = domain.breach("", "", [], None, original, 1)
    assert unheld.exclude == [] and f"reply deadline {original.isoformat()} missed by nobody assigned" in (
        unheld.detail
    )


def test_a_calls_duration_is_whole_seconds_never_negative() -> None:
    assert domain.call_seconds(NOW, NOW + timedelta(seconds=61.6)) == 62
    assert domain.call_seconds(NOW, NOW - timedelta(seconds=1)) == 0


def test_the_bot_answers_from_the_faq_or_queues_the_client_for_a_person() -> None:
    assert chat.bot_answer("client", "bot", faq_found=True, request_agent=False) == "faq"
    assert chat.bot_answer("client", "bot", faq_found=False, request_agent=False) == "queue"
    assert chat.bot_answer("client", "bot", faq_found=True, request_agent=True) == "queue"
    assert (
        chat.bot_answer("client", "queued", faq_found=True, request_agent=False) == ""
    )  # waits for a person
    assert chat.bot_answer("client", "active", faq_found=False, request_agent=True) == ""
    assert chat.bot_answer("agent", "active", faq_found=False, request_agent=False) == ""


def test_buying_signals_are_kept_for_views_and_orders_only() -> None:
    assert chat.SIGNAL_KINDS["product.viewed"] == "product_viewed"
    assert chat.SIGNAL_KINDS["order.paid"] == "order_paid"
    assert "order.refunded" not in chat.SIGNAL_KINDS
