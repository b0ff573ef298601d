"""Assigning a lawyer to a piece of work (R-CON-2, R-DOC-3), free of I/O: shared by consultation and
documents, each feeding it candidates from its own lawyer projection and its own open load."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

# Service hours are published in China Standard Time (no daylight saving).
CHINA = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True)
class LawyerCandidate:
    lawyer_id: str
    fields: Sequence[str]
    active: bool
    service_hours: Sequence[dict[str, Any]]
    open_load: int
    max_open: int
    last_assigned_at: datetime | None


def service_hours_from_catalog(windows: Iterable[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """The catalog's weekly windows (weekday 1 = Monday … 7, start, end) in the projections' form
    ({"days": [0..6, Mon=0], "start", "end"}); malformed windows are dropped (the catalog validated them)."""
    result: list[dict[str, Any]] = []
    for weekday, start, end in windows:
        try:
            _clock(start), _clock(end)
        except ValueError:
            continue
        if 1 <= weekday <= 7:
            result.append({"days": [weekday - 1], "start": start, "end": end})
    return result


def assignable_fields(fields: Iterable[str], passed_fields: Iterable[str]) -> list[str]:
    """The fields a lawyer may be assigned work in: those of their profile whose assessment they passed
    (§9.4; the catalog's `lawyer.changed` carries both). The rosters keep these as the lawyer's fields, so
    `choose_lawyer` never assigns a field the lawyer has not passed."""
    passed = set(passed_fields)
    return [field for field in fields if field in passed]


def _clock(hhmm: str) -> time:
    """A window's bound as a time of day; "24:00" (a window to the end of the day) is the day's last instant."""
    return time.max if hhmm == "24:00" else time.fromisoformat(hhmm)


def in_service_hours(service_hours: Iterable[dict[str, Any]], at: datetime) -> bool:
    """Whether `at` (aware) falls in one of the weekly windows {"days": [0..6, Mon=0], "start", "end"}."""
    local = at.astimezone(CHINA)
    now = local.time()
    for window in service_hours:
        if local.weekday() in window.get("days", ()) and (
            _clock(window["start"]) <= now < _clock(window["end"])
        ):
            return True
    return False


def choose_lawyer(
    candidates: Iterable[LawyerCandidate],
    legal_field: str,
    at: datetime,
    exclude: Iterable[str] = (),
) -> tuple[LawyerCandidate, str] | None:
    """The lawyer to assign and the reason, or None when nobody is eligible.

    Eligible: active, practises `legal_field`, not excluded, open load below capacity. Among those, a lawyer
    within service hours comes first (outside them the reply clock still runs, so someone must own it);
    ties go to the lightest open load, then to whoever has waited longest since the last assignment, then
    to the lowest id, so equal lawyers take turns and the choice is deterministic. Nobody eligible: the
    work waits for a person to assign it (consultation: a supervisor; documents: an agent)."""
    excluded = set(exclude)
    eligible = [
        c
        for c in candidates
        if c.active and legal_field in c.fields and c.lawyer_id not in excluded and c.open_load < c.max_open
    ]
    if not eligible:
        return None
    never = datetime.min.replace(tzinfo=UTC)

    def rank(c: LawyerCandidate) -> tuple[bool, int, datetime, str]:
        return (
            not in_service_hours(c.service_hours, at),
            c.open_load,
            c.last_assigned_at or never,
            c.lawyer_id,
        )

    best = min(eligible, key=rank)
    hours = (
        "within service hours"
        if in_service_hours(best.service_hours, at)
        else "outside service hours (nobody eligible is on duty; the clock still runs)"
    )
    reason = f"field {legal_field}; {hours}; open load {best.open_load} of {best.max_open}; {len(eligible)} eligible"
    return best, reason
