"""Major matters (§5.3.1, R-CON-4), pure: who may escalate, how the team is formed, and the conclusion's
states. A major matter goes team_formed → conclusion_drafted (a team lawyer wrote it; rewriting is allowed
until someone signs) → concluded (every member signed; only then does the client read it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.consultation.domain import STAFF_WHO_SEE_ALL
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied
from services.runtime.tenancy import signed_in

MIN_TEAM = 2
# Enough lawyers to weigh a major matter; a bigger team only slows the signing down.
MAX_TEAM = 3
MAX_REASON = 2_000
MAX_CONCLUSION = 20_000
MEETING_MODES = ("at_firm", "on_site")
STATUSES = ("team_formed", "conclusion_drafted", "concluded")


@dataclass(frozen=True)
class Candidate:
    """A lawyer of the roster who could join the team: the catalog profile and the identity account."""

    lawyer_id: str
    user_id: str
    online: bool


@dataclass(frozen=True)
class Team:
    """The team, the lead first: the lead's catalog profile is the one the client meets."""

    members: tuple[str, ...]
    lead_lawyer_id: str


@dataclass(frozen=True)
class Escalation:
    reason: str
    mode: str
    address: str


def require_escalator(principal: Principal | None, assigned_lawyer_id: str) -> Principal:
    """The assigned lawyer, an agent or a supervisor; anyone else is refused."""
    caller = signed_in(principal, "escalate a major matter")
    if caller.has_role(*STAFF_WHO_SEE_ALL):
        return caller
    if caller.has_role("lawyer") and assigned_lawyer_id and caller.user_id == assigned_lawyer_id:
        return caller
    raise PermissionDenied("only the assigned lawyer, an agent or a supervisor escalates a major matter")


def validate_escalation(reason: str, mode: str, address: str) -> Escalation:
    reason = reason.strip()
    if not reason:
        raise InvalidArgument.for_field("reason", "must not be empty")
    if len(reason) > MAX_REASON:
        raise InvalidArgument.for_field("reason", f"at most {MAX_REASON} characters")
    mode = mode or "at_firm"
    if mode not in MEETING_MODES:
        raise InvalidArgument.for_field("mode", f"must be one of {', '.join(MEETING_MODES)}")
    if mode == "on_site" and not address.strip():
        raise InvalidArgument.for_field("address", "is required for an on_site meeting")
    return Escalation(reason, mode, address.strip() if mode == "on_site" else "")


def check_escalable(status: str, legal_field: str, needs_manual_classification: bool) -> None:
    """Only an open consultation whose legal field is known: the team is formed from that field."""
    if status == "closed":
        raise Conflict("a closed consultation cannot become a major matter", reason="consultation_closed")
    if not legal_field or needs_manual_classification:
        raise Conflict(
            "classify the consultation first: the team is formed from its field", reason="unclassified"
        )


def form_team(assigned_lawyer_id: str, roster: Sequence[Candidate]) -> Team:
    """The assigned lawyer first, then the field's online lawyers, then the others, in roster order, up to
    MAX_TEAM; fewer than MIN_TEAM is a Conflict that says why. `roster` holds the field's active lawyers."""
    with_account = [c for c in roster if c.user_id]
    ordered = sorted(with_account, key=lambda c: (c.user_id != assigned_lawyer_id, not c.online))
    members: list[Candidate] = []
    for candidate in ordered:
        if candidate.user_id not in {m.user_id for m in members}:
            members.append(candidate)
    if assigned_lawyer_id and assigned_lawyer_id not in {m.user_id for m in members}:
        # Assigned before a change of field (or of the roster): still on the team, though not the lead.
        members.insert(min(1, len(members)), Candidate("", assigned_lawyer_id, online=False))
    members = members[:MAX_TEAM]
    if len(members) < MIN_TEAM:
        raise Conflict(
            f"a major matter needs at least {MIN_TEAM} lawyers of the field; {len(members)} available",
            reason="team_unavailable",
        )
    lead = next((m for m in members if m.lawyer_id), None)
    return Team(tuple(m.user_id for m in members), lead.lawyer_id if lead is not None else "")


def on_team(principal: Principal | None, team: Sequence[str]) -> bool:
    """A lawyer of the major matter's team: they read the consultation as its assigned lawyer does."""
    return principal is not None and principal.has_role("lawyer") and principal.user_id in team


def require_team_member(principal: Principal | None, team: Sequence[str], action: str) -> Principal:
    caller = signed_in(principal, action)
    if not on_team(caller, team):
        raise PermissionDenied(f"only the major matter's team may {action}")
    return caller


def validate_conclusion(status: str, signed_by: Sequence[str], body: str) -> str:
    """The conclusion's text, while nobody has signed it."""
    if status == "concluded" or signed_by:
        raise Conflict("the conclusion is being signed: it can no longer change", reason="conclusion_signed")
    body = body.strip()
    if not body:
        raise InvalidArgument.for_field("body", "must not be empty")
    if len(body) > MAX_CONCLUSION:
        raise InvalidArgument.for_field("body", f"at most {MAX_CONCLUSION} characters")
    return body


@dataclass(frozen=True)
class Signing:
    """After a member's signature: who signed, in order, and whether that completes the conclusion."""

    signed_by: tuple[str, ...]
    concluded: bool
    changed: bool


def sign(status: str, team: Sequence[str], signed_by: Sequence[str], member: str) -> Signing:
    if status == "team_formed":
        raise Conflict("there is no conclusion to sign yet", reason="no_conclusion")
    if member in signed_by:
        return Signing(tuple(signed_by), status == "concluded", changed=False)
    after = (*signed_by, member)
    return Signing(after, set(after) >= set(team), changed=True)


def shows_conclusion(principal: Principal | None, status: str, team: Sequence[str]) -> bool:
    """The client reads the conclusion once every member signed; the team and agents/supervisors at once."""
    if status == "concluded" or principal is None:
        return True
    return principal.user_id in team or principal.has_role(*STAFF_WHO_SEE_ALL)


def shows_reason(principal: Principal | None) -> bool:
    """Why staff escalated is staff's working note."""
    return principal is None or not principal.is_client
