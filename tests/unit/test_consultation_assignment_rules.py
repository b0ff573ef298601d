"""Who gets a consultation (R-CON-2): field, active, service hours (China Standard Time), load, fairness."""

from __future__ import annotations

from datetime import UTC, datetime

from services.rules.assignment import (
    LawyerCandidate,
    choose_lawyer,
    in_service_hours,
    service_hours_from_catalog,
)

WEEKDAYS_9_TO_6 = [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}]
# Monday 2026-11-30 10:00 in Beijing is 02:00 UTC.
MONDAY_10_BEIJING = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
MONDAY_20_BEIJING = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def candidate(lawyer_id: str, **overrides: object) -> LawyerCandidate:
    values: dict[str, object] = {
        "lawyer_id": lawyer_id,
        "fields": ("labour",),
        "active": True,
        "service_hours": WEEKDAYS_9_TO_6,
        "open_load": 0,
        "max_open": 5,
        "last_assigned_at": None,
    }
    values.update(overrides)
    return LawyerCandidate(**values)  # type: ignore[arg-type]


def test_service_hours_are_china_standard_time() -> None:
    assert in_service_hours(WEEKDAYS_9_TO_6, MONDAY_10_BEIJING)
    assert not in_service_hours(WEEKDAYS_9_TO_6, MONDAY_20_BEIJING)
    assert not in_service_hours(WEEKDAYS_9_TO_6, datetime(2026, 11, 29, 2, 0, tzinfo=UTC))  # Sunday
    assert not in_service_hours([], MONDAY_10_BEIJING)


def test_a_window_to_24_00_covers_the_last_minutes_of_the_day() -> None:
    """The catalog writes a window to the end of the day as 24:00; 23:59:30 in Beijing is inside it, and the
    copies keep such a window rather than dropping it as malformed."""
    whole_day = service_hours_from_catalog([(1, "00:00", "24:00")])
    assert whole_day == [{"days": [0], "start": "00:00", "end": "24:00"}]
    assert in_service_hours(whole_day, datetime(2026, 11, 30, 15, 59, 30, tzinfo=UTC))  # Monday 23:59:30
    assert not in_service_hours(whole_day, datetime(2026, 11, 30, 16, 0, tzinfo=UTC))  # Tuesday 00:00


def test_only_active_lawyers_of_the_field_with_room_are_eligible() -> None:
    lawyers = [
        candidate("tax", fields=("tax",)),
        candidate("inactive", active=False),
        candidate("full", open_load=5),
        candidate("excluded"),
    ]
    assert choose_lawyer(lawyers, "labour", MONDAY_10_BEIJING, exclude=["excluded"]) is None
    chosen = choose_lawyer(
        [*lawyers, candidate("ok", open_load=4)], "labour", MONDAY_10_BEIJING, ["excluded"]
    )
    assert chosen is not None and chosen[0].lawyer_id == "ok"
    assert "field labour" in chosen[1] and "open load 4 of 5" in chosen[1]


def test_on_duty_first_then_lightest_load_then_longest_waiting() -> None:
    off_duty = candidate("off", service_hours=[], open_load=0)
    busy = candidate("busy", open_load=3)
    recent = candidate("recent", open_load=1, last_assigned_at=datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    waiting = candidate("waiting", open_load=1, last_assigned_at=datetime(2026, 11, 29, 1, 0, tzinfo=UTC))
    chosen = choose_lawyer([off_duty, busy, recent, waiting], "labour", MONDAY_10_BEIJING)
    assert chosen is not None and chosen[0].lawyer_id == "waiting"
    assert "within service hours" in chosen[1]


def test_outside_everyones_hours_the_clock_still_runs_and_someone_owns_it() -> None:
    chosen = choose_lawyer(
        [candidate("b", open_load=2), candidate("a", open_load=2)], "labour", MONDAY_20_BEIJING
    )
    assert chosen is not None and chosen[0].lawyer_id == "a"  # deterministic tie-break
    assert "outside service hours" in chosen[1] and "clock still runs" in chosen[1]
