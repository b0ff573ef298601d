"""Pure rules of document orders: upload limits (R-DOC-6), the review gate (R-DOC-4, §9.5), the revision
window (R-DOC-5), who sees which versions, and the allowed stage transitions."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from services.documents import domain
from services.legal_fields.classifier import default_classifier
from services.rules import forms
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LAWYER = Principal("lawyer-1", roles=frozenset({"lawyer"}))
REVIEWER = Principal("reviewer-1", roles=frozenset({"reviewer", "lawyer"}))
CLIENT = Principal("client-1", tenant_id="tenant-1", roles=frozenset({"client"}))
OTHER_CLIENT = Principal("client-2", tenant_id="tenant-2", roles=frozenset({"client_admin"}))
AGENT = Principal("agent-1", roles=frozenset({"agent"}))


def field_of(error: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return error.value.violations[0].field


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("合同.docx", DOCX),
        ("opinion.pdf", "application/pdf"),
        ("letter.odt", "application/vnd.oasis.opendocument.text"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("scan.JPG", "image/jpeg"),
        ("scan.png", "image/png"),
    ],
)
def test_documents_and_images_are_accepted_with_their_digest(name: str, media_type: str) -> None:
    upload = domain.validate_upload(f"C:\\drafts\\{name}", media_type, b"content", " note ")
    assert upload.file_name == name and upload.note == "note"
    assert upload.media_type == media_type.split(";")[0]
    assert upload.sha256 == hashlib.sha256(b"content").hexdigest()


@pytest.mark.parametrize(
    ("name", "media_type", "content"),
    [
        ("virus.exe", "application/x-msdownload", b"MZ"),
        ("contract.docx", "application/pdf", b"%PDF"),  # the name must match the type
        ("page.html", "text/html", b"<html>"),
        ("empty.pdf", "application/pdf", b""),
        ("big.pdf", "application/pdf", b"0" * (domain.MAX_UPLOAD_BYTES + 1)),
        ("", "application/pdf", b"%PDF"),
    ],
)
def test_other_files_are_refused_naming_the_file_field(name: str, media_type: str, content: bytes) -> None:
    with pytest.raises(InvalidArgument) as error:
        domain.validate_upload(name, media_type, content, "")
    assert field_of(error) == "file"


def test_only_the_assigned_lawyer_uploads_and_only_while_a_draft_is_expected() -> None:
    domain.check_upload("drafting", LAWYER, "lawyer-1")
    domain.check_upload("revising", LAWYER, "lawyer-1")
    with pytest.raises(PermissionDenied):
        domain.check_upload("drafting", LAWYER, "lawyer-2")
    for stage in ("awaiting_acknowledgement", "in_review", "delivered", "completed"):
        with pytest.raises(Conflict):
            domain.check_upload(stage, LAWYER, "lawyer-1")


def test_the_author_never_reviews_their_own_version() -> None:
    """§9.5: a reviewer who is also a lawyer cannot approve a version they wrote."""
    domain.check_review("in_review", REVIEWER, "lawyer-1", "approve", "")
    with pytest.raises(PermissionDenied):
        domain.check_review("in_review", REVIEWER, "reviewer-1", "approve", "")
    with pytest.raises(InvalidArgument) as error:
        domain.check_review("in_review", REVIEWER, "lawyer-1", "reject", "  ")
    assert field_of(error) == "comment"
    with pytest.raises(InvalidArgument) as error:
        domain.check_review("in_review", REVIEWER, "lawyer-1", "maybe", "")
    assert field_of(error) == "decision"
    with pytest.raises(Conflict):
        domain.check_review("drafting", REVIEWER, "lawyer-1", "approve", "")


def test_revisions_only_after_delivery_and_before_the_window_ends() -> None:
    """R-DOC-5: unlimited within the window; one second after it is a conflict with a clear reason."""
    ends = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert domain.check_revision("delivered", ends, ends - timedelta(seconds=1), " 改第三条 ") == "改第三条"
    assert domain.check_revision("revising", ends, ends - timedelta(days=2), "again") == "again"
    with pytest.raises(Conflict) as late:
        domain.check_revision("delivered", ends, ends + timedelta(seconds=1), "too late")
    assert late.value.reason == "revision_window_closed"
    with pytest.raises(Conflict) as early:
        domain.check_revision("drafting", None, ends, "not yet")
    assert early.value.reason == "not_delivered"
    with pytest.raises(InvalidArgument) as empty:
        domain.check_revision("delivered", ends, ends - timedelta(days=1), "   ")
    assert field_of(empty) == "instructions"


def test_clients_see_their_enterprises_orders_and_approved_versions_only() -> None:
    assert domain.can_see(CLIENT, "tenant-1", "lawyer-1")
    assert not domain.can_see(OTHER_CLIENT, "tenant-1", "lawyer-1")
    assert domain.can_see(LAWYER, "tenant-1", "lawyer-1")
    assert not domain.can_see(Principal("lawyer-2", roles=frozenset({"lawyer"})), "tenant-1", "lawyer-1")
    assert domain.can_see(AGENT, "tenant-1", "lawyer-1") and domain.can_see(REVIEWER, "tenant-1", "x")
    with pytest.raises(NotFound):
        domain.require_visible(OTHER_CLIENT, "tenant-1", "lawyer-1")
    with pytest.raises(NotFound):  # a revision on someone else's order looks like no order at all
        domain.check_client_owns(OTHER_CLIENT, "tenant-1")
    assert domain.may_see_version(CLIENT, "approved")
    assert not domain.may_see_version(CLIENT, "in_review") and not domain.may_see_version(CLIENT, "rejected")
    assert domain.may_see_version(AGENT, "rejected") and domain.may_see_version(None, "in_review")


def test_stage_transitions_follow_the_process() -> None:
    assert domain.next_stage("awaiting_acknowledgement", "drafting") == "drafting"
    assert domain.next_stage("in_review", "delivered") == "delivered"
    assert domain.next_stage("delivered", "revising") == "revising"
    for current, target in [
        ("awaiting_acknowledgement", "delivered"),
        ("drafting", "delivered"),
        ("completed", "revising"),
        ("delivered", "drafting"),
    ]:
        with pytest.raises(Conflict):
            domain.next_stage(current, target)


def test_tier_clocks_default_to_the_standard_and_reject_unknown_complexity() -> None:
    """R-DOC-3 / R-DOC-5: 24/48/72 h and 3/5/7 days by complexity unless the tier says otherwise."""
    assert domain.tier_clocks("simple", None, None) == (timedelta(hours=24), timedelta(days=3))
    assert domain.tier_clocks("complex", None, None) == (timedelta(hours=72), timedelta(days=7))
    assert domain.tier_clocks("standard", timedelta(hours=36), None) == (
        timedelta(hours=36),
        timedelta(days=5),
    )
    with pytest.raises(InvalidArgument) as error:
        domain.validate_complexity("trivial")
    assert field_of(error) == "complexity"


FORM = [
    forms.RequirementSpec("contract_type", "choice", True, ("买卖 Sale", "服务 Services")),
    forms.RequirementSpec("parties", "list", True),
    forms.RequirementSpec("amount", "number", False),
    forms.RequirementSpec("deadline", "date", False),
]


def test_requirements_are_checked_against_the_products_form() -> None:
    answers = {"contract_type": "买卖 Sale", "parties": " 甲方；乙方 ", "amount": "10000", "deadline": ""}
    assert forms.validate_requirements_against(FORM, answers) == {
        "contract_type": "买卖 Sale",
        "parties": "甲方；乙方",
        "amount": "10000",
    }


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"contract_type": "买卖 Sale"}, "requirements.parties"),
        ({"contract_type": "赠与", "parties": "x"}, "requirements.contract_type"),
        ({"contract_type": "买卖 Sale", "parties": "x", "amount": "ten"}, "requirements.amount"),
        ({"contract_type": "买卖 Sale", "parties": "x", "deadline": "next week"}, "requirements.deadline"),
        ({"contract_type": "买卖 Sale", "parties": "x", "colour": "red"}, "requirements.colour"),
    ],
)
def test_bad_requirements_name_the_field(answers: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        forms.validate_requirements_against(FORM, answers)
    assert field_of(error) == field


def test_an_acknowledgement_after_the_deadline_moved_the_order_on_says_so() -> None:
    """R-DOC-2: a breach lets the order continue; a late acknowledgement is refused with the reason."""
    domain.check_acknowledge("awaiting_acknowledgement", "", "lawyer-1")
    with pytest.raises(Conflict) as twice:
        domain.check_acknowledge("drafting", "agent-1", "lawyer-1")
    assert twice.value.reason == "already_acknowledged"
    with pytest.raises(Conflict) as late:
        domain.check_acknowledge("drafting", "", "lawyer-1")
    assert late.value.reason == "acknowledgement_deadline_passed"


def test_an_order_nobody_was_assigned_is_assigned_before_it_is_acknowledged() -> None:
    with pytest.raises(Conflict) as unassigned:
        domain.check_acknowledge("awaiting_acknowledgement", "", "")
    assert unassigned.value.reason == "no_lawyer_assigned"


def test_an_agent_assigns_a_lawyer_who_passed_the_field_or_overrides_with_a_reason() -> None:
    """R-DOC-3, §9.4: the field passed → a plain assignment; not passed → only with the agent's reason,
    recorded as an override; an unknown lawyer, an assigned order or one past drafting is refused."""
    passed = domain.agent_assignment("awaiting_acknowledgement", "", "tax", "l-1", ["tax"], "ignored")
    assert passed == domain.AgentAssignment("assigned by an agent: field tax", "")
    override = domain.agent_assignment("drafting", "", "tax", "l-2", ["contract"], " 客户指定 ")
    assert override == domain.AgentAssignment(
        "override by an agent: l-2 has not passed tax; 客户指定", "客户指定"
    )
    refusals = [
        (("awaiting_acknowledgement", "", "tax", "l-2", ["contract"], " "), "override_reason"),
        (("awaiting_acknowledgement", "", "tax", "l-9", None, "why"), "lawyer_id"),
        (("awaiting_acknowledgement", "", "tax", "l-2", ["contract"], "x" * 2001), "override_reason"),
    ]
    for args, field in refusals:
        with pytest.raises(InvalidArgument) as bad:
            domain.agent_assignment(*args)  # type: ignore[arg-type]
        assert [v.field for v in bad.value.violations] == [field]
    with pytest.raises(Conflict) as assigned:
        domain.agent_assignment("awaiting_acknowledgement", "l-1", "tax", "l-2", ["tax"], "")
    assert assigned.value.reason == "already_assigned"
    with pytest.raises(Conflict) as late:
        domain.agent_assignment("in_review", "", "tax", "l-2", ["tax"], "")
    assert late.value.reason == "invalid_transition"


# --- the legal field a lawyer is matched by (R-DOC-3) -------------------------------------------------------


def test_the_products_field_comes_first_then_the_requirements_then_the_classifier() -> None:
    asked: list[str] = []

    def classify(text: str) -> str:
        asked.append(text)
        return "labour"

    labour_text = {"key_terms": "试用期 解除劳动合同 经济补偿", "parties": "公司/员工"}
    assert domain.legal_field_for({"legal_field": "contract"}, labour_text, classify) == (
        "contract",
        "product",
    )
    assert domain.legal_field_for({}, labour_text | {"legal_field": "ip"}, classify) == ("ip", "requirements")
    assert asked == []
    assert domain.legal_field_for({"legal_field": "astrology"}, labour_text, classify) == (
        "labour",
        "classified",
    )
    assert asked == ["试用期 解除劳动合同 经济补偿\n公司/员工"]  # every answer, by field name


def test_requirements_with_no_text_or_an_unknown_answer_fall_back_to_other() -> None:
    assert domain.legal_field_for({}, {}, lambda text: "labour") == ("other", "classified")
    assert domain.legal_field_for({}, {"purpose": "x"}, lambda text: "astrology") == ("other", "classified")


def test_the_real_classifier_reads_a_labour_matter_from_the_requirements() -> None:
    text = {"purpose": "员工试用期被辞退，公司拒绝支付经济补偿，需要发律师函要求支付赔偿金"}
    field, source = domain.legal_field_for({}, text, lambda t: default_classifier().classify(t).field)
    assert (field, source) == ("labour", "classified")


# --- what a review, a revision request and a breach do to the order (the store acts on these) -----------

REVIEWED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=5)


def test_the_first_approval_delivers_and_opens_the_revision_window() -> None:
    outcome = domain.review_outcome("in_review", "approve", None, None, None, WINDOW, REVIEWED_AT)
    ends = REVIEWED_AT + WINDOW
    assert outcome == domain.ReviewOutcome("approved", "delivered", ends, REVIEWED_AT, ends)


def test_a_later_approval_keeps_the_window_of_the_first_delivery() -> None:
    first, ends = REVIEWED_AT - timedelta(days=2), REVIEWED_AT + timedelta(days=3)
    outcome = domain.review_outcome("in_review", "approve", first, ends, None, WINDOW, REVIEWED_AT)
    assert (outcome.stage, outcome.due_at, outcome.first_delivered_at, outcome.revision_window_ends_at) == (
        "delivered",
        ends,
        first,
        ends,
    )


def test_a_rejection_returns_the_draft_with_the_time_it_had_left_or_to_revising() -> None:
    draft_due = REVIEWED_AT + timedelta(hours=3)
    before_delivery = domain.review_outcome("in_review", "reject", None, None, draft_due, WINDOW, REVIEWED_AT)
    assert before_delivery == domain.ReviewOutcome("rejected", "drafting", draft_due, None, None)
    first, ends = REVIEWED_AT - timedelta(days=1), REVIEWED_AT + timedelta(days=4)
    revision = domain.review_outcome("in_review", "reject", first, ends, draft_due, WINDOW, REVIEWED_AT)
    assert revision == domain.ReviewOutcome("rejected", "revising", None, first, ends)


def test_a_revision_request_reopens_a_delivered_order_only() -> None:
    assert domain.stage_after_revision_request("delivered") == "revising"
    assert domain.stage_after_revision_request("revising") is None
    assert domain.stage_after_revision_request("in_review") is None


def test_a_missed_acknowledgement_moves_the_order_on_to_drafting_once() -> None:
    assert domain.breach_effect("acknowledgement", "awaiting_acknowledgement") == domain.BreachEffect(
        "drafting", True, False, "acknowledgement_breached"
    )
    # The agent acknowledged just before the timer fired: the breach is recorded, nothing else moves.
    assert domain.breach_effect("acknowledgement", "drafting") == domain.BreachEffect(None, False, False, "")


def test_a_late_draft_gets_a_new_due_time_and_another_lawyer() -> None:
    assert domain.breach_effect("delivery", "drafting") == domain.BreachEffect(
        None, True, True, "reassigned_after_breach"
    )
    assert domain.breach_effect("delivery", "in_review") == domain.BreachEffect(None, True, True, "")


def test_a_late_delivery_is_the_assigned_lawyers_miss_an_acknowledgement_nobodys() -> None:
    assert domain.lawyer_who_missed("delivery", "lawyer-1") == "lawyer-1"
    assert domain.lawyer_who_missed("acknowledgement", "lawyer-1") == ""


def test_a_breach_of_an_unknown_kind_names_the_field() -> None:
    assert domain.validate_breach_kind("delivery") == "delivery"
    with pytest.raises(InvalidArgument) as refused:
        domain.validate_breach_kind("revision")
    assert field_of(refused) == "kind"
