"""Booking rules (R-BK-1, R-Q-4): service windows in the lawyer's time zone with exceptions, free slots
minus live bookings and on-site travel buffers, validation of a requested meeting (every refusal names its
field), transitions, the cancellation policy and the quality record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.booking import domain
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2030-01-07 .. Friday; 2030-01-09 (Wednesday) is a holiday, 2030-01-12 (Saturday) an extra day.
CALENDAR = domain.Calendar(
    hours=tuple(domain.WeeklyHours(day, "09:00", "12:00") for day in range(1, 6))
    + tuple(domain.WeeklyHours(day, "13:00", "18:00") for day in range(1, 6)),
    exceptions=(
        domain.DayException("2030-01-09", available=False),
        domain.DayException("2030-01-12", available=True, start="10:00", end="12:00"),
    ),
)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=SHANGHAI)


def slots_on(day: int, busy: list[tuple[datetime, datetime]] | None = None, mode: str = "at_firm") -> list:
    return domain.free_slots(CALENDAR, busy or [], local(day, 0), local(day + 1, 0), NOW, mode)


# --- windows and slots ---------------------------------------------------------------------------------


def test_windows_follow_the_weekly_hours_in_the_lawyers_time_zone() -> None:
    windows = CALENDAR.windows_on(local(7, 0).date())
    assert windows == [
        (datetime(2030, 1, 7, 1, 0, tzinfo=UTC), datetime(2030, 1, 7, 4, 0, tzinfo=UTC)),  # 09:00 +08:00
        (datetime(2030, 1, 7, 5, 0, tzinfo=UTC), datetime(2030, 1, 7, 10, 0, tzinfo=UTC)),
    ]


def test_exceptions_close_a_day_or_open_another() -> None:
    assert slots_on(9) == []  # holiday
    saturday = slots_on(12)
    assert [(s.start, s.minutes) for s in saturday] == [
        (local(12, 10), 120),
        (local(12, 10, 30), 90),
        (local(12, 11), 60),
        (local(12, 11, 30), 30),
    ]
    assert slots_on(13) == []  # Sunday, no weekly hours


def test_each_slot_is_a_start_with_the_longest_meeting_allowed() -> None:
    monday = slots_on(7)
    first = monday[0]
    assert (first.start, first.end, first.minutes) == (local(7, 9), local(7, 12), 180)
    afternoon = next(s for s in monday if s.start == local(7, 13))
    assert afternoon.minutes == 240  # the policy's maximum, though the window runs to 18:00
    assert monday[-1].start == local(7, 17, 30) and monday[-1].minutes == 30


def test_a_live_booking_shortens_the_slots_before_it_and_removes_those_it_covers() -> None:
    busy = [(local(7, 10), local(7, 11))]
    monday = {s.start: s.minutes for s in slots_on(7, busy)}
    assert monday[local(7, 9)] == 60
    assert local(7, 10) not in monday and local(7, 10, 30) not in monday
    assert monday[local(7, 11)] == 60


def test_an_on_site_visit_needs_its_travel_buffers_free() -> None:
    busy = [(local(7, 14), local(7, 15))]
    at_firm = {s.start: s.minutes for s in slots_on(7, busy, "at_firm")}
    on_site = {s.start: s.minutes for s in slots_on(7, busy, "on_site")}
    assert at_firm[local(7, 13)] == 60
    # An hour's travel each way: a visit must end by 13:00 to reach the 14:00 meeting, and start at 16:00.
    assert local(7, 13) not in on_site
    assert local(7, 15) not in on_site and local(7, 15, 30) not in on_site
    assert on_site[local(7, 16)] == 120


def test_past_starts_are_not_offered() -> None:
    now = local(7, 15, 10)
    slots = domain.free_slots(CALENDAR, [], local(7, 0), local(8, 0), now)
    assert slots[0].start == local(7, 15, 30)


@settings(max_examples=150, deadline=None)
@given(
    busy_starts=st.lists(st.integers(min_value=0, max_value=9 * 2), max_size=4),
    lengths=st.lists(st.integers(min_value=1, max_value=4), min_size=4, max_size=4),
    mode=st.sampled_from(domain.MODES),
)
def test_no_offered_slot_overlaps_a_live_booking_or_leaves_service_hours(
    busy_starts: list[int], lengths: list[int], mode: str
) -> None:
    """R-BK-1 as a property: whatever is booked, every offered meeting (with its buffers) is free."""
    busy = []
    for index, half_hours in enumerate(busy_starts):
        begin = local(7, 9) + timedelta(minutes=30 * half_hours)
        busy.append((begin, begin + timedelta(minutes=30 * lengths[index])))
    buffer = domain.buffer_for(mode)
    for slot in slots_on(7, busy, mode):
        assert slot.minutes >= 30 and slot.minutes % 30 == 0
        assert any(w0 <= slot.start and slot.end <= w1 for w0, w1 in CALENDAR.windows_on(local(7, 0).date()))
        for b0, b1 in busy:
            assert slot.end + buffer <= b0 or b1 <= slot.start - buffer
        # Every offered length is bookable, so the validation agrees with the offer.
        domain.check_request(
            domain.Requested(mode, slot.start, slot.minutes, "上海市浦东新区", ""), CALENDAR, NOW
        )


# --- validation: every refusal names its field ------------------------------------------------------------


def refusal(**changes: object) -> str:
    values: dict[str, object] = {
        "mode": "at_firm",
        "start": local(7, 10),
        "minutes": 60,
        "address": "",
        "needs": "劳动合同纠纷",
    }
    values.update(changes)
    with pytest.raises(InvalidArgument) as error:
        domain.check_request(domain.Requested(**values), CALENDAR, NOW)  # type: ignore[arg-type]
    return error.value.violations[0].field


def test_a_well_formed_request_passes() -> None:
    domain.check_request(domain.Requested("at_firm", local(7, 10), 60, "", ""), CALENDAR, NOW)
    domain.check_request(domain.Requested("on_site", local(7, 14), 120, "深圳市南山区", ""), CALENDAR, NOW)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mode": "by_pigeon"}, "mode"),
        ({"mode": "on_site", "address": "  "}, "address"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": -30}, "minutes"),
        ({"minutes": 45}, "minutes"),
        ({"minutes": 300}, "minutes"),
        ({"start": datetime(2029, 12, 31, 10, tzinfo=UTC)}, "start"),  # in the past
        ({"start": local(7, 10, 15)}, "start"),  # off the grid
        ({"start": local(7, 7)}, "start"),  # before hours
        ({"start": local(7, 11, 30)}, "start"),  # runs over the lunch break
        ({"start": local(9, 10)}, "start"),  # holiday
        ({"start": local(13, 10)}, "start"),  # Sunday
        ({"start": datetime(2030, 6, 3, 2, tzinfo=UTC)}, "start"),  # beyond the 90-day horizon
    ],
)
def test_bad_requests_are_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    assert refusal(**changes) == field


def test_an_availability_query_is_bounded() -> None:
    with pytest.raises(InvalidArgument):
        domain.check_query(local(8, 0), local(7, 0))
    with pytest.raises(InvalidArgument):
        domain.check_query(local(1, 0), local(1, 0) + timedelta(days=40))


# --- transitions, roles and the cancellation policy --------------------------------------------------------


def test_transitions() -> None:
    assert domain.next_status("held", "confirmed") == "confirmed"
    assert domain.next_status("confirmed", "no_show") == "no_show"
    for current, target in [("expired", "confirmed"), ("held", "completed"), ("cancelled", "confirmed")]:
        with pytest.raises(Conflict):
            domain.next_status(current, target)


def test_a_client_books_only_for_their_own_enterprise() -> None:
    client = Principal("c1", tenant_id="t1", roles=frozenset({"client"}))
    assert domain.booking_tenant(client, "") == "t1"
    assert domain.booking_tenant(client, "t1") == "t1"
    with pytest.raises(PermissionDenied):
        domain.booking_tenant(client, "t2")
    with pytest.raises(PermissionDenied):
        domain.require_client(Principal("a1", roles=frozenset({"agent"})))


def test_cancellation_is_free_until_24_hours_before_then_half_then_nothing() -> None:
    start = local(10, 10)
    paid = 59900
    assert domain.cancellation_refund("confirmed", paid, start, start - timedelta(hours=25)) == paid
    assert domain.cancellation_refund("confirmed", paid, start, start - timedelta(hours=24)) == paid
    assert domain.cancellation_refund("confirmed", paid, start, start - timedelta(hours=2)) == 29950
    assert domain.cancellation_refund("confirmed", paid, start, start + timedelta(minutes=1)) == 0
    assert domain.cancellation_refund("held", 0, start, start - timedelta(days=3)) == 0  # nothing was paid


def test_rescheduling_closes_24_hours_before_the_start() -> None:
    start = local(10, 10)
    domain.check_reschedule("confirmed", start, start - timedelta(hours=25))
    with pytest.raises(Conflict) as error:
        domain.check_reschedule("confirmed", start, start - timedelta(hours=23))
    assert error.value.reason == "reschedule_window_closed"
    with pytest.raises(Conflict):
        domain.check_reschedule("completed", start, start - timedelta(days=3))


def test_check_in_and_completion_rules() -> None:
    start = local(10, 10)
    domain.check_check_in("confirmed", start, start - timedelta(minutes=10))
    with pytest.raises(Conflict):
        domain.check_check_in("confirmed", start, start - timedelta(hours=2))
    with pytest.raises(Conflict):
        domain.check_check_in("held", start, start)
    assert domain.check_complete("confirmed", True, "  谈了劳动合同  ") == "谈了劳动合同"
    with pytest.raises(InvalidArgument):
        domain.check_complete("confirmed", True, " ")
    with pytest.raises(Conflict):
        domain.check_complete("confirmed", False, "summary")


def test_quality_checklist_by_the_lawyer_and_rating_by_the_client() -> None:
    """R-Q-4: both after a completed meeting; every checklist item answered; one rating."""
    lawyer = Principal("lawyer-u", roles=frozenset({"lawyer"}))
    client = Principal("c1", tenant_id="t1", roles=frozenset({"client"}))
    answers = {item: True for item in domain.QUALITY_CHECKLIST}
    record = domain.quality_update({}, lawyer, "completed", "lawyer-u", answers, "ok", 0, "")
    record = domain.quality_update(record, client, "completed", "lawyer-u", {}, "", 5, "很好")
    assert record["checklist"] == answers and record["rating"] == 5
    with pytest.raises(Conflict):
        domain.quality_update(record, client, "completed", "lawyer-u", {}, "", 4, "")
    with pytest.raises(InvalidArgument):
        domain.quality_update({}, lawyer, "completed", "lawyer-u", {"advice_given": True}, "", 0, "")
    with pytest.raises(InvalidArgument):
        domain.quality_update({}, client, "completed", "lawyer-u", {}, "", 6, "")
    with pytest.raises(Conflict):
        domain.quality_update({}, client, "confirmed", "lawyer-u", {}, "", 5, "")
    with pytest.raises(PermissionDenied):
        domain.quality_update(
            {}, Principal("other", roles=frozenset({"lawyer"})), "completed", "lawyer-u", answers, "", 0, ""
        )


def test_the_client_confirms_the_lawyers_checklist_once_after_the_lawyer_filled_it_in() -> None:
    """R-Q-4: the checklist is not only self-reported; the client's view of each item sits beside it."""
    lawyer = Principal("lawyer-u", roles=frozenset({"lawyer"}))
    client = Principal("c1", tenant_id="t1", roles=frozenset({"client"}))
    answers = {item: True for item in domain.QUALITY_CHECKLIST}
    view = {**answers, "follow_up_agreed": False}

    def confirm(record: dict[str, object], checklist: dict[str, bool]) -> dict[str, object]:
        return domain.quality_update(record, client, "completed", "lawyer-u", {}, "", 0, "", checklist)

    with pytest.raises(Conflict) as early:
        confirm({}, view)
    assert early.value.reason == "checklist_missing"
    record = domain.quality_update({}, lawyer, "completed", "lawyer-u", answers, "ok", 0, "")
    with pytest.raises(InvalidArgument) as partial:
        confirm(record, {"advice_given": True})
    assert partial.value.violations[0].field == "client_checklist"
    confirmed = confirm(record, view)
    assert (confirmed["checklist"], confirmed["client_checklist"]) == (answers, view)
    with pytest.raises(Conflict):
        confirm(confirmed, answers)
    rated = domain.quality_update(confirmed, client, "completed", "lawyer-u", {}, "", 4, "")
    assert rated["rating"] == 4 and rated["client_checklist"] == view


def test_visits_are_checked() -> None:
    today = local(7, 12)
    visit = domain.check_visit(
        domain.NewVisit("t1", "2030-01-06", (" 张经理 ", ""), " 合同管理混乱 ", ("建立台账",)), today
    )
    assert visit.attendees == ("张经理",) and visit.findings == "合同管理混乱"
    for bad, field in [
        (domain.NewVisit("t1", "2030-13-01", (), "x", ()), "date"),
        (domain.NewVisit("t1", "2030-02-01", (), "x", ()), "date"),  # in the future
        (domain.NewVisit("t1", "2030-01-06", (), " ", ()), "findings"),
        (domain.NewVisit(" ", "2030-01-06", (), "x", ()), "enterprise_id"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            domain.check_visit(bad, today)
        assert error.value.violations[0].field == field


def test_a_visit_dated_today_in_beijing_is_accepted_while_it_is_still_yesterday_in_utc() -> None:
    just_after_midnight_in_beijing = datetime(2030, 1, 6, 16, 30, tzinfo=UTC)  # 2030-01-07 00:30 +08:00
    visit = domain.check_visit(
        domain.NewVisit("t1", "2030-01-07", (), "x", ()), just_after_midnight_in_beijing
    )
    assert visit.date == "2030-01-07"
    with pytest.raises(InvalidArgument):
        domain.check_visit(domain.NewVisit("t1", "2030-01-08", (), "x", ()), just_after_midnight_in_beijing)


def test_the_last_stage_of_a_live_booking_is_current_and_a_final_booking_is_all_done() -> None:
    """§9.2, R-Q-3: the booking's part of the order timeline."""
    assert domain.stage_statuses(2, "confirmed") == ["done", "current"]
    assert domain.stage_statuses(3, "no_show") == ["done", "done", "done"]
    assert domain.stage_statuses(0, "held") == []
    assert set(domain.FINAL) | set(domain.LIVE) == set(domain.STATUSES)


def test_a_products_terms_replace_the_default_policy_and_malformed_ones_keep_the_default() -> None:
    """R-BK-1 "then per product terms": catalog parameters of the booking product."""
    terms = domain.product_terms(
        {
            "mode": "on_site",  # not a term
            "free_cancel_hours": "48",
            "late_refund_percent": "30",
            "reminder_hours": "2, 48",
            "no_show_grace_minutes": "soon",  # malformed: the default stays
            "auto_complete_hours": "-1",  # out of range: the default stays
        }
    )
    assert terms == {"free_cancel_hours": "48", "late_refund_percent": "30", "reminder_hours": "2, 48"}
    policy = domain.policy_for(terms)
    assert policy.free_until_before == timedelta(hours=48) and policy.late_refund_percent == 30
    assert policy.reminders == (timedelta(hours=48), timedelta(hours=2))
    assert policy.no_show_grace == domain.POLICY.no_show_grace
    assert policy.auto_complete_after == domain.POLICY.auto_complete_after
    assert domain.policy_for({}) is domain.POLICY
    assert domain.product_terms({"late_refund_percent": "101", "reminder_hours": "1,x"}) == {}
    start = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
    # 30 h ahead: free by default, late under the product's 48 h window.
    assert domain.cancellation_refund("confirmed", 10000, start, start - timedelta(hours=30)) == 10000
    assert domain.cancellation_refund("confirmed", 10000, start, start - timedelta(hours=30), policy) == 3000
    with pytest.raises(Conflict):
        domain.check_reschedule("confirmed", start, start - timedelta(hours=30), policy)


# --- decisions the stores act on ---------------------------------------------------------------------------


def test_a_cancellation_keeps_its_reason_and_refunds_by_the_policy() -> None:
    start = datetime(2030, 1, 7, 2, 0, tzinfo=UTC)
    early = domain.cancellation("confirmed", 10000, start, start - timedelta(hours=30), "")
    assert early == domain.Cancellation("cancelled", "client_request", 10000)
    late = domain.cancellation("confirmed", 10000, start, start - timedelta(hours=3), "sick " * 100)
    assert (late.refund_fen, len(late.reason)) == (5000, 200)
    assert domain.cancellation("held", 0, start, start - timedelta(hours=3), "x").refund_fen == 0
    with pytest.raises(Conflict):
        domain.cancellation("completed", 10000, start, start, "")


def test_a_booking_is_confirmed_once_by_the_order_that_paid_it() -> None:
    assert domain.confirms("held", "", "order-1")
    assert not domain.confirms("confirmed", "order-1", "order-1")  # a repeat
    with pytest.raises(Conflict, match="another order"):
        domain.confirms("confirmed", "order-1", "order-2")
    with pytest.raises(Conflict):
        domain.confirms("expired", "", "order-1")  # the order is refunded


def test_the_workflows_timers_change_only_what_is_still_due() -> None:
    assert domain.expires("held") and not domain.expires("confirmed")
    assert domain.is_no_show("confirmed", checked_in=False)
    assert not domain.is_no_show("confirmed", checked_in=True) and not domain.is_no_show("cancelled", False)
    assert domain.completion_repeats("completed", None)
    assert not domain.completion_repeats("completed", Principal("lawyer-u", roles=frozenset({"lawyer"})))


def test_agents_read_quality_but_do_not_write_it() -> None:
    domain.require_quality_writer(None, "lawyer-u")
    domain.require_quality_writer(Principal("c", "t", frozenset({"client"})), "lawyer-u")
    domain.require_quality_writer(Principal("lawyer-u", roles=frozenset({"lawyer"})), "lawyer-u")
    with pytest.raises(NotFound):
        domain.require_quality_writer(Principal("a", roles=frozenset({"agent"})), "lawyer-u")


def test_a_connect_request_awaits_the_payment_its_mode_needs() -> None:
    meeting = domain.connect_outcome("meeting", "booking-1", "booking-at-firm", "lawyer-1")
    assert meeting.status == "booking_held" and "booking-1" in meeting.next_step["detail"]
    call = domain.connect_outcome("call", "", "consultation-phone", "lawyer-1")
    assert call.status == "awaiting_payment" and call.next_step["product_id"] == "consultation-phone"
    assert domain.check_mode_filter("") == "" and domain.check_status_filter("held") == "held"
    with pytest.raises(InvalidArgument):
        domain.check_mode_filter("video")
    with pytest.raises(InvalidArgument):
        domain.check_status_filter("lost")
