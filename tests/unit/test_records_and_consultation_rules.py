"""Pure rules every service relies on: paging cursors, page sizes, and what a consultation may be (R-CON-2,
R-ACC-4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.consultation import domain
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, Unauthenticated
from services.runtime.records import decode_cursor, encode_cursor, newest_first, page_of, page_size
from services.runtime.tenancy import visible


def test_a_cursor_round_trips_and_a_forged_one_is_a_field_error() -> None:
    stamp = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert decode_cursor(encode_cursor(stamp, "abc")) == [stamp.isoformat(), "abc"]
    with pytest.raises(InvalidArgument) as error:
        decode_cursor("not-a-cursor!")
    assert error.value.violations[0].field == "cursor"


def test_a_cursor_of_the_wrong_shape_is_refused_not_a_crash() -> None:
    from sqlmodel import select

    from services.consultation.models import ConsultationRow

    with pytest.raises(InvalidArgument):
        newest_first(
            select(ConsultationRow), ConsultationRow.created_at, ConsultationRow.id, encode_cursor("x"), 10
        )


def test_page_of_returns_a_next_cursor_only_when_more_rows_follow() -> None:
    class Row:
        def __init__(self, i: int) -> None:
            self.id = str(i)
            self.created_at = datetime(2026, 1, 1, tzinfo=UTC)

    rows = [Row(i) for i in range(3)]
    assert page_of(rows, 3) == (rows, "")
    page, cursor = page_of(rows, 2)
    assert page == rows[:2] and decode_cursor(cursor)[1] == "1"


@pytest.mark.parametrize("requested, expected", [(0, 20), (1, 1), (100, 100)])
def test_page_size_defaults_and_bounds(requested: int, expected: int) -> None:
    assert page_size(requested) == expected


@pytest.mark.parametrize("requested", [-1, 101])
def test_page_size_outside_1_to_100_names_limit(requested: int) -> None:
    with pytest.raises(InvalidArgument) as error:
        page_size(requested)
    assert error.value.violations[0].field == "limit"


def test_a_valid_general_question_is_normalised() -> None:
    new = domain.validate_new("general", "  试用期  ", " 可以约定多久？ ", "")
    assert (new.subject, new.question) == ("试用期", "可以约定多久？")


@pytest.mark.parametrize(
    "kind, subject, question, order_id, field",
    [
        ("gossip", "s", "q", "", "kind"),
        ("general", "  ", "q", "", "subject"),
        ("general", "s" * 201, "q", "", "subject"),
        ("general", "s", "", "", "question"),
        ("professional", "s", "q", "", "order_id"),  # R-CON-2: a paid service
        ("phone", "s", "q", "", "order_id"),
    ],
)
def test_invalid_consultations_name_the_field(
    kind: str, subject: str, question: str, order_id: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as error:
        domain.validate_new(kind, subject, question, order_id)
    assert error.value.violations[0].field == field


def test_only_signed_in_client_members_submit() -> None:
    with pytest.raises(Unauthenticated):
        domain.require_client(None)
    with pytest.raises(PermissionDenied):
        domain.require_client(Principal("lawyer-1", roles=frozenset({"lawyer"})))
    client = Principal("u1", "t1", frozenset({"client"}))
    assert domain.require_client(client) is client


def test_a_consultation_order_pays_for_one_consultation_of_its_kind_and_a_retainer_for_any() -> None:
    """The order as the payment service reports it (status, category, the product's consultation kind)."""
    assert domain.spends_order("professional", "paid", "consultation", "professional") is True
    assert domain.spends_order("phone", "in_service", "consultation", "phone") is True
    assert domain.spends_order("professional", "paid", "consultation", "") is True  # ordered before kinds
    assert domain.spends_order("professional", "in_service", "retainer", "") is False
    refusals = {
        ("phone", "paid", "consultation", "professional"): "order_kind_mismatch",
        ("general", "paid", "consultation", "professional"): "order_kind_mismatch",
        ("professional", "paid", "document", ""): "order_not_for_consultation",
        ("professional", "pending_payment", "booking", ""): "order_not_for_consultation",
        ("professional", "pending_payment", "consultation", "professional"): "order_not_paid",
        ("professional", "refunded", "consultation", "professional"): "order_not_paid",
        ("professional", "completed", "retainer", ""): "order_not_paid",
    }
    for (kind, status, category, bought), reason in refusals.items():
        with pytest.raises(Conflict) as refused:
            domain.spends_order(kind, status, category, bought)
        assert refused.value.reason == reason, (kind, status, category, bought)


def test_a_consultation_is_served_by_an_answer_or_a_call() -> None:
    assert domain.served(answered=True, calls=0) and domain.served(answered=False, calls=1)
    assert not domain.served(answered=False, calls=0)


def test_a_closed_consultation_cannot_change() -> None:
    assert domain.next_status("submitted", "closed") == "closed"
    with pytest.raises(Conflict):
        domain.next_status("closed", "answered")


def test_visibility_follows_tenant_and_role() -> None:
    client = Principal("u1", "t1", frozenset({"client"}))
    assert domain.can_see(client, "t1", "")
    assert not domain.can_see(client, "t2", "")
    assert domain.can_see(Principal("a1", roles=frozenset({"agent"})), "t2", "")
    assert domain.can_see(Principal("l1", roles=frozenset({"lawyer"})), "t2", "l1")
    assert not domain.can_see(Principal("l2", roles=frozenset({"lawyer"})), "t2", "l1")
    assert not visible(
        Principal("u9", "", frozenset({"client"})), "", ("agent",)
    )  # a client without a tenant
