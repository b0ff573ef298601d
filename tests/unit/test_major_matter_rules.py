"""Major matters' rules without a database (§5.3.1, R-CON-4): who escalates, how the team is formed from the
field's roster (the assigned lawyer first, online lawyers next, at least two), the conclusion's states
(wrong ones are a 409 Conflict) and what the client reads before and after every member signed; and the
check-in linked to the client's activity (R-ACC-3, issue 23 item 9), and whom the notifications reach."""

from __future__ import annotations

import pytest

from counsel.consultation.v1.events_pb2 import MajorMatterChanged
from services.consultation import major
from services.identity import domain as identity_domain
from services.notification import domain as notification_domain
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, Unauthenticated
from tests.support.factories import envelope

CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
SUPERVISOR = Principal("supervisor-1", "", frozenset({"supervisor"}))
ASSIGNED = Principal("u-2", "", frozenset({"lawyer"}))
OTHER_LAWYER = Principal("u-4", "", frozenset({"lawyer"}))

ROSTER = [
    major.Candidate("lawyer-1", "u-1", online=False),
    major.Candidate("lawyer-2", "u-2", online=True),
    major.Candidate("lawyer-3", "u-3", online=True),
    major.Candidate("lawyer-5", "", online=True),  # a profile without an account cannot sign
    major.Candidate("lawyer-9", "u-9", online=False),
]


@pytest.mark.parametrize("caller", [ASSIGNED, AGENT, SUPERVISOR])
def test_the_assigned_lawyer_agents_and_supervisors_escalate(caller: Principal) -> None:
    assert major.require_escalator(caller, "u-2") is caller


@pytest.mark.parametrize("caller", [CLIENT, OTHER_LAWYER])
def test_anyone_else_may_not(caller: Principal) -> None:
    with pytest.raises(PermissionDenied):
        major.require_escalator(caller, "u-2")
    with pytest.raises(Unauthenticated):
        major.require_escalator(None, "u-2")


def test_the_team_is_the_assigned_lawyer_then_online_lawyers_of_the_field() -> None:
    team = major.form_team("u-2", ROSTER)
    assert team.members == ("u-2", "u-3", "u-1")  # at most three; accounts only
    assert team.lead_lawyer_id == "lawyer-2"  # the client meets the assigned lawyer


def test_an_assigned_lawyer_outside_the_field_stays_on_the_team_but_does_not_lead() -> None:
    team = major.form_team("u-7", ROSTER[:2])
    assert team.members == ("u-2", "u-7", "u-1")
    assert team.lead_lawyer_id == "lawyer-2"


def test_fewer_than_two_lawyers_is_a_conflict_that_says_why() -> None:
    with pytest.raises(Conflict) as refused:
        major.form_team("u-1", ROSTER[:1])
    assert refused.value.reason == "team_unavailable" and "at least 2" in str(refused.value)


def test_a_closed_or_unclassified_consultation_cannot_be_escalated() -> None:
    major.check_escalable("assigned", "labour", needs_manual_classification=False)
    for status, field, manual in [
        ("closed", "labour", False),
        ("assigned", "", False),
        ("assigned", "other", True),
    ]:
        with pytest.raises(Conflict):
            major.check_escalable(status, field, manual)


def test_an_escalation_needs_a_reason_and_an_address_on_site() -> None:
    assert major.validate_escalation(" 集体裁员 ", "", "").mode == "at_firm"
    with pytest.raises(InvalidArgument):
        major.validate_escalation(" ", "at_firm", "")
    with pytest.raises(InvalidArgument):
        major.validate_escalation("r", "on_site", " ")
    with pytest.raises(InvalidArgument):
        major.validate_escalation("r", "online", "")
    assert major.validate_escalation("r", "on_site", " 上海 ").address == "上海"


def test_only_the_team_writes_and_signs() -> None:
    assert major.require_team_member(ASSIGNED, ["u-2", "u-3"], "sign") is ASSIGNED
    for caller in (OTHER_LAWYER, AGENT, CLIENT):
        with pytest.raises(PermissionDenied):
            major.require_team_member(caller, ["u-2", "u-3"], "sign")


def test_the_conclusion_is_fixed_once_anyone_signed() -> None:
    assert major.validate_conclusion("team_formed", [], " 结论 ") == "结论"
    assert major.validate_conclusion("conclusion_drafted", [], "改写") == "改写"
    with pytest.raises(Conflict):
        major.validate_conclusion("conclusion_drafted", ["u-2"], "改写")
    with pytest.raises(Conflict):
        major.validate_conclusion("concluded", ["u-2", "u-3"], "改写")


def test_signing_concludes_when_every_member_signed_and_repeats_change_nothing() -> None:
    with pytest.raises(Conflict):
        major.sign("team_formed", ["u-2", "u-3"], [], "u-2")
    first = major.sign("conclusion_drafted", ["u-2", "u-3"], [], "u-2")
    assert (first.signed_by, first.concluded, first.changed) == (("u-2",), False, True)
    again = major.sign("conclusion_drafted", ["u-2", "u-3"], ["u-2"], "u-2")
    assert (again.concluded, again.changed) == (False, False)
    last = major.sign("conclusion_drafted", ["u-2", "u-3"], ["u-2"], "u-3")
    assert (last.signed_by, last.concluded) == (("u-2", "u-3"), True)


def test_the_client_reads_the_conclusion_only_once_concluded_and_never_the_reason() -> None:
    team = ["u-2", "u-3"]
    assert not major.shows_conclusion(CLIENT, "conclusion_drafted", team)
    assert major.shows_conclusion(CLIENT, "concluded", team)
    assert major.shows_conclusion(ASSIGNED, "conclusion_drafted", team)
    assert major.shows_conclusion(AGENT, "conclusion_drafted", team)
    assert not major.shows_conclusion(OTHER_LAWYER, "conclusion_drafted", team)
    assert not major.shows_reason(CLIENT) and major.shows_reason(ASSIGNED)


def test_a_check_in_by_the_lawyer_joins_the_clients_activity() -> None:
    fact = identity_domain.client_activity_of_event("booking.checked_in", "client-1", "lawyer-u", "b-1")
    assert fact == identity_domain.ActivityFact("client-1", "booking.checked_in", "booking", "b-1")
    # No client named, or the client acted themself (their own activity has it already): nothing more.
    assert identity_domain.client_activity_of_event("booking.checked_in", "", "lawyer-u", "b-1") is None
    assert identity_domain.client_activity_of_event("booking.held", "client-1", "client-1", "b-1") is None


@pytest.mark.parametrize("step", ["major_escalated", "major_concluded"])
def test_the_team_and_the_client_hear_of_each_step_in_both_languages(step: str) -> None:
    changed = MajorMatterChanged(consultation_id="c1", client_id="client-1", team=["u-2", "u-9"], status="x")
    plan = notification_domain.plan_for(envelope(f"consultation.{step}", changed))
    assert {(n.kind, n.user_id) for n in plan.notices} == {
        (f"consultation.{step}.client", "client-1"),
        (f"consultation.{step}.lawyer", "u-2"),
        (f"consultation.{step}.lawyer", "u-9"),
    }
    for notice in plan.notices:
        for language in ("zh", "en"):
            rendered = notification_domain.render(notice.kind, notice.params, language)
            assert rendered.title and "{" not in rendered.body
