"""A lawyer's service windows in their time zone, free slots (R-BK-1) and the validation of a requested
meeting against them. Pure; every clock reading is passed in as `now`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.booking.domain.policy import POLICY, Policy
from services.runtime.errors import InvalidArgument
from services.runtime.vocabulary import BookingMode, words

MODES = words(BookingMode)
# Every catalog firm is in mainland China and the catalog publishes no time zone: hours are Beijing time.
DEFAULT_TIME_ZONE = "Asia/Shanghai"
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


@dataclass(frozen=True)
class WeeklyHours:
    weekday: int  # ISO, 1 = Monday
    start: str  # "HH:MM" local
    end: str


@dataclass(frozen=True)
class DayException:
    date: str  # "YYYY-MM-DD"
    available: bool
    start: str = ""
    end: str = ""


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Calendar:
    """A lawyer's weekly service hours and dated exceptions, in their time zone."""

    hours: tuple[WeeklyHours, ...]
    exceptions: tuple[DayException, ...] = ()
    time_zone: str = DEFAULT_TIME_ZONE
    _by_date: dict[str, DayException] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_date.update({e.date: e for e in self.exceptions})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The service windows of one local day as aware UTC datetimes, in time order."""
        exception = self._by_date.get(day.isoformat())
        if exception is not None:
            spans = [(exception.start, exception.end)] if exception.available else []
        else:
            spans = [(h.start, h.end) for h in self.hours if h.weekday == day.isoweekday()]
        zone = self.zone
        windows = []
        for start, end in spans:
            if not (_HHMM.match(start) and _HHMM.match(end)):
                continue  # the catalog validates hours; a bad one is not bookable rather than a crash
            begin = _local(day, start, zone)
            finish = _local(day, end, zone)
            if finish > begin:
                windows.append((begin, finish))
        return sorted(windows)

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Service windows overlapping [start, end) (not clipped), in time order."""
        zone = self.zone
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        found = []
        while day <= last:
            found += [w for w in self.windows_on(day) if w[1] > start and w[0] < end]
            day += timedelta(days=1)
        return found


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    if hhmm == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0, 0), zone).astimezone(UTC)
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def buffer_for(mode: str, policy: Policy = POLICY) -> timedelta:
    return policy.travel_buffer if mode == "on_site" else timedelta(0)


def blocked_range(
    start: datetime, minutes: int, mode: str, policy: Policy = POLICY
) -> tuple[datetime, datetime]:
    """What a meeting takes of the lawyer's time: the meeting, widened by the travel buffer on site."""
    buffer = buffer_for(mode, policy)
    return start - buffer, start + timedelta(minutes=minutes) + buffer


def free_slots(
    calendar: Calendar,
    busy: Iterable[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
    now: datetime,
    mode: str = "at_firm",
    policy: Policy = POLICY,
) -> list[Slot]:
    """Each bookable start in [start, end) on the policy's grid with the longest meeting allowed from it:
    inside one service window, not in the past, at least `min_length`, at most `max_length`, and with its
    blocked range (travel buffers on site) clear of every `busy` range (other live bookings' blocked
    ranges)."""
    buffer = buffer_for(mode, policy)
    busy_ranges = sorted(busy)
    slots: list[Slot] = []
    for window_start, window_end in calendar.windows(start, end):
        candidate = window_start
        while candidate < window_end and candidate < end:
            if candidate >= start and candidate >= now:
                longest = min(window_end - candidate, policy.max_length)
                for busy_start, busy_end in busy_ranges:
                    if busy_end <= candidate - buffer:
                        continue
                    # The new meeting's blocked range must end by the busy range's start.
                    longest = min(longest, busy_start - buffer - candidate)
                    break
                longest = (longest // policy.step) * policy.step
                if longest >= policy.min_length:
                    slots.append(Slot(candidate, candidate + longest))
            candidate += policy.step
    return slots


@dataclass(frozen=True)
class Requested:
    mode: str
    start: datetime
    minutes: int
    address: str
    needs: str


def check_request(requested: Requested, calendar: Calendar, now: datetime, policy: Policy = POLICY) -> None:
    """Refuse a meeting request with InvalidArgument naming the field: unknown mode, on_site without an
    address, a length that is not a positive multiple of the step within bounds, a start in the past or
    beyond the horizon, off the grid, or not inside one service window."""
    if requested.mode not in MODES:
        raise InvalidArgument.for_field("mode", f"must be one of {', '.join(MODES)}")
    if requested.mode == "on_site" and not requested.address.strip():
        raise InvalidArgument.for_field("address", "is required for an on_site visit")
    step_minutes = int(policy.step.total_seconds() // 60)
    if requested.minutes <= 0:
        raise InvalidArgument.for_field("minutes", "must be positive")
    length = timedelta(minutes=requested.minutes)
    if length < policy.min_length or length > policy.max_length or requested.minutes % step_minutes:
        raise InvalidArgument.for_field(
            "minutes",
            f"must be a multiple of {step_minutes} between {int(policy.min_length.total_seconds() // 60)}"
            f" and {int(policy.max_length.total_seconds() // 60)}",
        )
    check_start(requested.start, length, calendar, now, policy)


def check_start(
    start: datetime, length: timedelta, calendar: Calendar, now: datetime, policy: Policy = POLICY
) -> None:
    if start.tzinfo is None:
        raise InvalidArgument.for_field("start", "must carry a time zone offset")
    if start <= now:
        raise InvalidArgument.for_field("start", "is in the past")
    if start > now + policy.horizon:
        raise InvalidArgument.for_field("start", f"is more than {policy.horizon.days} days ahead")
    local = start.astimezone(calendar.zone)
    step_minutes = int(policy.step.total_seconds() // 60)
    if local.second or local.microsecond or local.minute % step_minutes:
        raise InvalidArgument.for_field("start", f"must be on a {step_minutes}-minute boundary")
    end = start + length
    if not any(w_start <= start and end <= w_end for w_start, w_end in calendar.windows(start, end)):
        raise InvalidArgument.for_field("start", "is outside the lawyer's service hours")


def check_query(start: datetime, end: datetime, policy: Policy = POLICY) -> None:
    if end <= start:
        raise InvalidArgument.for_field("to", "must be after from")
    if end - start > policy.max_query_span:
        raise InvalidArgument.for_field("to", f"must be at most {policy.max_query_span.days} days after from")


def hours_lines(hours: Iterable[WeeklyHours]) -> list[str]:
    return [f"{h.weekday} {h.start}-{h.end}" for h in sorted(hours, key=lambda h: (h.weekday, h.start))]


def venue_lines(opening_hours: Sequence[tuple[int, str, str]]) -> list[str]:
    return [f"{weekday} {opens}-{closes}" for weekday, opens, closes in opening_hours]
