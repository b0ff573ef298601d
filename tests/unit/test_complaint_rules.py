"""Complaints' rules without a database (R-CS-3, §6.1.4.4): who raises, reads and answers one, which moves
are allowed (invalid ones are a 409 Conflict), and when the response clock was kept or a breach stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.consultation import domain
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
ADMIN = Principal("admin-1", "tenant-1", frozenset({"client_admin"}))
OTHER = Principal("client-2", "tenant-2", frozenset({"client"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
SUPERVISOR = Principal("supervisor-1", "", frozenset({"supervisor"}))
LAWYER = Principal("lawyer-1", "", frozenset({"lawyer"}))

ALLOWED = {
    ("open", "in_progress"),
    ("open", "resolved"),
    ("in_progress", "resolved"),
    ("resolved", "reopened"),
    ("resolved", "closed"),
    ("reopened", "in_progress"),
    ("reopened", "resolved"),
}


@pytest.mark.parametrize("current", domain.COMPLAINT_STATUSES)
@pytest.mark.parametrize("target", domain.COMPLAINT_STATUSES)
def test_only_the_documented_moves_are_allowed_and_closed_is_final(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        assert domain.next_complaint_status(current, target) == target
    else:
        with pytest.raises(Conflict) as refused:
            domain.next_complaint_status(current, target)
        assert refused.value.reason == "invalid_transition"


def test_agents_take_on_and_resolve_with_a_resolution_but_never_reopen_or_close() -> None:
    assert domain.agent_complaint_move("open", "in_progress", "") == domain.ComplaintMove("in_progress", "")
    assert domain.agent_complaint_move("reopened", "resolved", " 已退款 ") == domain.ComplaintMove(
        "resolved", "已退款"
    )
    with pytest.raises(InvalidArgument) as no_resolution:
        domain.agent_complaint_move("open", "resolved", "  ")
    assert [v.field for v in no_resolution.value.violations] == ["resolution"]
    for target in ("reopened", "closed", "open"):
        with pytest.raises(InvalidArgument):
            domain.agent_complaint_move("resolved", target, "")
    with pytest.raises(Conflict):
        domain.agent_complaint_move("closed", "in_progress", "")


def test_a_client_raises_one_about_any_of_the_four_subjects() -> None:
    for subject in ("consultation", "document_order", "booking", "order"):
        client, new = domain.validate_complaint(CLIENT, subject, " s-1 ", " 太慢了 ")
        assert (client, new) == (CLIENT, domain.NewComplaint(subject, "s-1", "太慢了"))
    with pytest.raises(InvalidArgument):
        domain.validate_complaint(CLIENT, "invoice", "s-1", "太慢了")
    with pytest.raises(InvalidArgument):
        domain.validate_complaint(CLIENT, "order", " ", "太慢了")
    with pytest.raises(InvalidArgument):
        domain.validate_complaint(CLIENT, "order", "o-1", "x" * (domain.MAX_COMPLAINT + 1))
    with pytest.raises(PermissionDenied):
        domain.validate_complaint(AGENT, "order", "o-1", "太慢了")
    with pytest.raises(Unauthenticated):
        domain.validate_complaint(None, "order", "o-1", "太慢了")


def test_the_enterprise_and_staff_read_it_and_only_the_enterprise_answers_the_resolution() -> None:
    for reader in (CLIENT, ADMIN, AGENT, SUPERVISOR):
        assert domain.require_complaint_reader(reader, "tenant-1") is reader
    for outsider in (OTHER, LAWYER):
        with pytest.raises(NotFound):
            domain.require_complaint_reader(outsider, "tenant-1")
    assert domain.require_complaint_client(ADMIN, "tenant-1") is ADMIN
    with pytest.raises(NotFound):
        domain.require_complaint_client(OTHER, "tenant-1")
    with pytest.raises(PermissionDenied):
        domain.require_complaint_client(SUPERVISOR, "tenant-1")
    with pytest.raises(InvalidArgument):
        domain.validate_reopen_reason("")


def test_the_clock_is_kept_by_a_resolution_in_time_and_a_breach_stands_only_for_the_running_clock() -> None:
    due = NOW + domain.COMPLAINT_RESPONSE_WITHIN
    assert timedelta(hours=24) == domain.COMPLAINT_RESPONSE_WITHIN
    assert domain.complaint_clock_kept(due, due)
    assert not domain.complaint_clock_kept(due + timedelta(seconds=1), due)
    for status in ("open", "in_progress", "reopened"):
        assert domain.complaint_breach_applies(status, due, due)
    assert not domain.complaint_breach_applies("open", due + timedelta(hours=3), due)  # reopened since
    assert not domain.complaint_breach_applies("resolved", None, due)
    assert not domain.complaint_breach_applies("closed", None, due)
