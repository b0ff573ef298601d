"""When an outbound message may go, and whether it goes at all (R-PRIV-2, §6.1.6.2). Pure: no I/O, and no
clock of its own — every function takes `now`, so quiet hours, digest windows, rate limits and retry backoff
are tested without sleeping.

The rules:
* The in-app inbox receives every message at once (but unwanted marketing, below); it is the record and
  cannot be turned off.
* `transactional` messages (codes, deadline breaches, delivery, payment and refunds, meeting reminders) are
  never held or dropped: they skip quiet hours, digests and rate limits, and go on every channel the user has
  turned on and has an address for; whatever cannot be sent lands in the inbox anyway.
* `status` messages on e-mail and SMS wait: until the digest window after the first one waiting has passed
  (a burst becomes one message), until quiet hours end, and until the per-channel rate limit allows another.
* `marketing` messages (next-purchase suggestions) are opt-in: without recorded consent they are not sent
  nor put in the inbox, and never go to a channel the user turned off.
* A send that fails for a transient reason is retried with exponential backoff; after `MAX_ATTEMPTS`, or at
  once on a permanent refusal, the delivery falls back to the inbox (its entry is marked unread again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.runtime.errors import InvalidArgument


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    SMS = "sms"


OUTBOUND: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS)


class Category(StrEnum):
    TRANSACTIONAL = "transactional"
    STATUS = "status"
    MARKETING = "marketing"


# How long a status message waits for others to join it on an outbound channel (ten in a minute → one).
DIGEST_WINDOW = timedelta(minutes=1)
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
DEFAULT_TIME_ZONE = "Asia/Shanghai"
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class RateLimit:
    """At most `count` sends per `per` on one channel for one user."""

    count: int
    per: timedelta


RATE_LIMITS: dict[Channel, RateLimit] = {
    Channel.EMAIL: RateLimit(10, timedelta(hours=1)),
    Channel.SMS: RateLimit(5, timedelta(hours=1)),
}


def parse_clock(value: str, field_name: str) -> time:
    """`HH:MM` (24 h) as a time; InvalidArgument naming `field_name` otherwise."""
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise InvalidArgument.for_field(field_name, "must be a time of day as HH:MM, e.g. 22:00") from exc


def parse_time_zone(value: str, field_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgument.for_field(field_name, "must be an IANA time zone, e.g. Asia/Shanghai") from exc


def normalise_email(value: str) -> str:
    """ "" stays ""; otherwise a plausible address, lower-cased; InvalidArgument("email_address") if not."""
    value = value.strip().lower()
    if not value:
        return ""
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or len(value) > 320 or any(c.isspace() for c in value):
        raise InvalidArgument.for_field("email_address", "is not an e-mail address")
    return value


def normalise_phone(value: str) -> str:
    """ "" stays ""; a mainland mobile number with or without +86 becomes its 11 digits (API.md)."""
    value = value.strip().replace(" ", "").replace("-", "")
    if not value:
        return ""
    digits = value.removeprefix("+86")
    if not (digits.isdigit() and len(digits) == 11 and digits.startswith("1")):
        raise InvalidArgument.for_field("phone", "must be a mainland mobile number (11 digits, +86 optional)")
    return digits


@dataclass(frozen=True)
class QuietHours:
    """A daily window in the user's time zone, e.g. 22:00–08:00 (may wrap midnight); `start == end` is
    refused by the validator, as it is ambiguous."""

    start: time
    end: time
    time_zone: str = DEFAULT_TIME_ZONE

    @classmethod
    def parse(cls, start: str, end: str, time_zone: str) -> QuietHours:
        begins = parse_clock(start, "quiet_hours.start")
        ends = parse_clock(end, "quiet_hours.end")
        if begins == ends:
            raise InvalidArgument.for_field("quiet_hours.end", "must differ from quiet_hours.start")
        parse_time_zone(time_zone, "quiet_hours.time_zone")
        return cls(begins, ends, time_zone)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.time_zone))

    def contains(self, moment: datetime) -> bool:
        clock = self._local(moment).time()
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def ends_after(self, moment: datetime) -> datetime:
        """The first end of quiet hours after `moment` (UTC); `moment` itself when not inside them."""
        if not self.contains(moment):
            return moment
        local = self._local(moment)
        day: date = local.date()
        if self.start > self.end and local.time() >= self.start:
            day = day + timedelta(days=1)
        end = datetime.combine(day, self.end, tzinfo=ZoneInfo(self.time_zone))
        return end.astimezone(UTC)


@dataclass(frozen=True)
class Preferences:
    """A user's choices. Without a stored row the defaults apply: e-mail and SMS on (only used once an
    address is known), quiet hours 22:00–08:00 China time, no marketing."""

    email: bool = True
    sms: bool = True
    quiet_hours: QuietHours | None = field(default_factory=lambda: QuietHours(time(22, 0), time(8, 0)))
    marketing_consent_at: datetime | None = None
    language: str = "zh"
    email_address: str = ""
    phone: str = ""

    def enabled(self, channel: Channel) -> bool:
        if channel is Channel.IN_APP:
            return True
        return self.email if channel is Channel.EMAIL else self.sms

    def address(self, channel: Channel) -> str:
        if channel is Channel.EMAIL:
            return self.email_address
        if channel is Channel.SMS:
            return self.phone
        return ""


@dataclass(frozen=True)
class Route:
    """What happens to one message on one outbound channel: `queue` (a status or marketing message waiting
    for its release time), `send` (now), or `skip` with the reason (kept for the record)."""

    channel: Channel
    action: str
    reason: str = ""


def wanted(category: Category, prefs: Preferences) -> bool:
    """Whether the user gets the message at all: a marketing message (a suggestion of what to buy next) is
    opt-in, so without recorded consent it is not even put in the inbox."""
    return category is not Category.MARKETING or prefs.marketing_consent_at is not None


def route(category: Category, prefs: Preferences) -> list[Route]:
    """The outbound channels a message goes to. The inbox always gets it (not listed here)."""
    routes = []
    for channel in OUTBOUND:
        if category is Category.MARKETING and prefs.marketing_consent_at is None:
            routes.append(Route(channel, "skip", "no_marketing_consent"))
        elif not prefs.enabled(channel):
            routes.append(Route(channel, "skip", "channel_off"))
        elif not prefs.address(channel):
            routes.append(Route(channel, "skip", "no_address"))
        elif category is Category.TRANSACTIONAL:
            routes.append(Route(channel, "send"))
        else:
            routes.append(Route(channel, "queue"))
    return routes


def release_time(
    channel: Channel,
    queued_at: Sequence[datetime],
    sent_at: Sequence[datetime],
    quiet_hours: QuietHours | None,
    digest_window: timedelta = DIGEST_WINDOW,
) -> datetime:
    """When the messages waiting on `channel` for one user may go out together as one (a digest when
    more than one): after the digest window from the first of them, outside quiet hours, and when the
    rate limit (counting `sent_at`, the user's earlier sends on the channel) allows one more send."""
    if not queued_at:
        raise ValueError("nothing is queued")
    limit = RATE_LIMITS[channel]
    moment = min(queued_at) + digest_window
    sends = sorted(sent_at)
    for _ in range(len(sends) + 3):  # each round moves forward; it settles within a few rounds
        start = moment
        in_window = [s for s in sends if moment - limit.per < s <= moment]
        if len(in_window) >= limit.count:
            moment = in_window[len(in_window) - limit.count] + limit.per
        if quiet_hours is not None:
            moment = quiet_hours.ends_after(moment)
        if moment == start:
            break
    return moment


def backoff(attempts: int) -> timedelta:
    """Wait before retry number `attempts` (1-based): 30 s, 1 min, 2 min, … capped at one hour."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


def after_failure(attempts: int, permanent: bool, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed sends, or None when the delivery falls back to the inbox."""
    if permanent or attempts >= MAX_ATTEMPTS:
        return None
    return now + backoff(attempts)


@dataclass(frozen=True)
class Release:
    """What becomes of the messages waiting on one channel for one user: they wait until `wait_until`, or
    (None) go now — as one digest when several wait."""

    wait_until: datetime | None
    digest: bool = False


def release(
    channel: Channel,
    queued_at: Sequence[datetime],
    sent_at: Sequence[datetime],
    quiet_hours: QuietHours | None,
    digest_window: timedelta,
    now: datetime,
) -> Release:
    """Whether the messages queued at `queued_at` go out at `now` (see `release_time`)."""
    due = release_time(channel, queued_at, sent_at, quiet_hours, digest_window)
    if due > now:
        return Release(due)
    return Release(None, digest=len(queued_at) > 1)


def still_wanted(category: Category, prefs: Preferences, channel: Channel) -> bool:
    """Whether a delivery is still sent when its time comes: a transactional message always (it is never
    dropped), any other only while the user keeps the channel on."""
    return category is Category.TRANSACTIONAL or prefs.enabled(channel)


def consent_since(given_at: datetime | None, consents: bool, now: datetime) -> datetime | None:
    """When the user's marketing consent was given: the first time it was (R-PRIV-2, recorded consent) while
    it stands, None once it is withdrawn."""
    if not consents:
        return None
    return given_at or now
