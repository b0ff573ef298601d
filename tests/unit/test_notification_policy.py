"""The no-spam rules as pure functions with an injected clock (R-PRIV-2, §6.1.6.2): opt-out, consent,
quiet hours, digest windows, rate limits and retry backoff. No sleeps: every time is an argument."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from services.notification.policy import (
    DIGEST_WINDOW,
    MAX_ATTEMPTS,
    RATE_LIMITS,
    Category,
    Channel,
    Preferences,
    QuietHours,
    after_failure,
    backoff,
    consent_since,
    normalise_email,
    normalise_phone,
    release,
    release_time,
    route,
    still_wanted,
)
from services.runtime.errors import InvalidArgument

# 2026-11-29 12:00 in Shanghai is 04:00 UTC.
NOON_SHANGHAI = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
NIGHT = QuietHours(time(22, 0), time(8, 0), "Asia/Shanghai")
WITH_ADDRESSES = Preferences(email_address="a@example.com", phone="13800000000", quiet_hours=None)


def actions(routes) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.channel.value: (r.action if not r.reason else f"{r.action}:{r.reason}") for r in routes}


# --- routing: opt-out, consent, transactional --------------------------------------------------------


def test_status_messages_wait_on_outbound_channels_and_transactional_ones_go_at_once() -> None:
    assert actions(route(Category.STATUS, WITH_ADDRESSES)) == {"email": "queue", "sms": "queue"}
    assert actions(route(Category.TRANSACTIONAL, WITH_ADDRESSES)) == {"email": "send", "sms": "send"}


def test_an_opted_out_channel_gets_nothing() -> None:
    prefs = Preferences(email=False, sms=True, email_address="a@example.com", phone="13800000000")
    assert actions(route(Category.STATUS, prefs)) == {"email": "skip:channel_off", "sms": "queue"}


def test_transactional_messages_bypass_marketing_rules_but_respect_channel_availability() -> None:
    # No consent is needed for a transactional message, but a channel turned off or without an address
    # is not used: the message still reaches the inbox (which route() never lists: it always gets it).
    prefs = Preferences(email=False, sms=True, phone="", email_address="a@example.com")
    assert actions(route(Category.TRANSACTIONAL, prefs)) == {
        "email": "skip:channel_off",
        "sms": "skip:no_address",
    }


def test_marketing_needs_recorded_consent() -> None:
    assert actions(route(Category.MARKETING, WITH_ADDRESSES)) == {
        "email": "skip:no_marketing_consent",
        "sms": "skip:no_marketing_consent",
    }
    consenting = Preferences(
        email_address="a@example.com", phone="13800000000", marketing_consent_at=NOON_SHANGHAI, sms=False
    )
    assert actions(route(Category.MARKETING, consenting)) == {"email": "queue", "sms": "skip:channel_off"}


def test_the_inbox_cannot_be_turned_off() -> None:
    assert Preferences(email=False, sms=False).enabled(Channel.IN_APP)


# --- quiet hours --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        (datetime(2026, 11, 29, 13, 59, tzinfo=UTC), False),  # 21:59 Shanghai
        (datetime(2026, 11, 29, 14, 0, tzinfo=UTC), True),  # 22:00
        (datetime(2026, 11, 29, 18, 0, tzinfo=UTC), True),  # 02:00 next day
        (datetime(2026, 11, 29, 23, 59, tzinfo=UTC), True),  # 07:59
        (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), False),  # 08:00
    ],
)
def test_quiet_hours_wrap_midnight_in_the_users_time_zone(utc: datetime, inside: bool) -> None:
    assert NIGHT.contains(utc) is inside


def test_quiet_hours_end_is_the_next_local_morning() -> None:
    evening = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 23:00 Shanghai
    small_hours = datetime(2026, 11, 29, 19, 0, tzinfo=UTC)  # 03:00 Shanghai on the 30th
    morning = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 Shanghai on the 30th
    assert NIGHT.ends_after(evening) == morning
    assert NIGHT.ends_after(small_hours) == morning
    assert NIGHT.ends_after(NOON_SHANGHAI) == NOON_SHANGHAI


def test_a_daytime_window_and_another_time_zone() -> None:
    lunch = QuietHours(time(12, 0), time(13, 0), "Europe/Berlin")
    inside = datetime(2026, 11, 29, 11, 30, tzinfo=UTC)  # 12:30 in Berlin (UTC+1 in November)
    assert lunch.contains(inside)
    assert lunch.ends_after(inside) == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_bad_quiet_hours_name_the_field() -> None:
    for start, end, zone, field in [
        ("25:00", "08:00", "Asia/Shanghai", "quiet_hours.start"),
        ("22:00", "8", "Asia/Shanghai", "quiet_hours.end"),
        ("22:00", "22:00", "Asia/Shanghai", "quiet_hours.end"),
        ("22:00", "08:00", "Mars/Olympus", "quiet_hours.time_zone"),
    ]:
        with pytest.raises(InvalidArgument) as refused:
            QuietHours.parse(start, end, zone)
        assert refused.value.violations[0].field == field


def test_quiet_hours_defer_a_status_message_until_morning() -> None:
    # R-PRIV-2: queued at 23:00 local; the digest window would end at 23:01, but quiet hours hold it.
    queued = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
    assert release_time(Channel.EMAIL, [queued], [], NIGHT) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert release_time(Channel.EMAIL, [queued], [], None) == queued + DIGEST_WINDOW


# --- digest and rate limit ----------------------------------------------------------------------------


def test_ten_status_messages_in_a_minute_are_released_together_once() -> None:
    first = NOON_SHANGHAI
    burst = [first + timedelta(seconds=6 * i) for i in range(10)]
    due = release_time(Channel.SMS, burst, [], None)
    assert due == first + DIGEST_WINDOW  # one release for all ten: the dispatcher sends one digest


def test_the_rate_limit_holds_the_next_send_until_the_oldest_leaves_the_window() -> None:
    limit = RATE_LIMITS[Channel.SMS]
    sends = [NOON_SHANGHAI + timedelta(minutes=m) for m in range(limit.count)]  # the limit used up
    queued = NOON_SHANGHAI + timedelta(minutes=10)
    assert release_time(Channel.SMS, [queued], sends, None) == sends[0] + limit.per
    # One send fewer: the digest window alone decides.
    assert release_time(Channel.SMS, [queued], sends[1:], None) == queued + DIGEST_WINDOW


def test_rate_limit_and_quiet_hours_together() -> None:
    limit = RATE_LIMITS[Channel.SMS]
    # The limit frees a slot at 22:30 local, inside quiet hours: the release waits for 08:00.
    sends = [datetime(2026, 11, 29, 13, 30, tzinfo=UTC)] * limit.count  # 21:30 local
    queued = datetime(2026, 11, 29, 13, 45, tzinfo=UTC)
    assert release_time(Channel.SMS, [queued], sends, NIGHT) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_release_time_needs_something_queued() -> None:
    with pytest.raises(ValueError):
        release_time(Channel.EMAIL, [], [], None)


# --- retries ------------------------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20) == timedelta(hours=1)


def test_a_transient_failure_is_retried_until_the_last_attempt_then_falls_back() -> None:
    now = NOON_SHANGHAI
    assert after_failure(1, False, now) == now + timedelta(seconds=30)
    assert after_failure(MAX_ATTEMPTS - 1, False, now) is not None
    assert after_failure(MAX_ATTEMPTS, False, now) is None
    assert after_failure(1, True, now) is None  # a permanent refusal falls back at once


# --- contact addresses --------------------------------------------------------------------------------


def test_contact_addresses_are_normalised_or_refused_by_field() -> None:
    assert normalise_email(" Client@Example.COM ") == "client@example.com"
    assert normalise_phone("+86 138-0000-0000") == "13800000000"
    assert normalise_email("") == normalise_phone("") == ""
    with pytest.raises(InvalidArgument) as bad_email:
        normalise_email("not-an-address")
    assert bad_email.value.violations[0].field == "email_address"
    with pytest.raises(InvalidArgument) as bad_phone:
        normalise_phone("12345")
    assert bad_phone.value.violations[0].field == "phone"


# --- what the dispatcher does with what waits, and with what is due -------------------------------------


def test_waiting_messages_go_when_released_one_alone_and_several_as_one_digest() -> None:
    first = NOON_SHANGHAI
    waiting = release(Channel.EMAIL, [first], [], None, DIGEST_WINDOW, first + timedelta(seconds=30))
    assert waiting.wait_until == first + DIGEST_WINDOW
    alone = release(Channel.EMAIL, [first], [], None, DIGEST_WINDOW, first + DIGEST_WINDOW)
    assert (alone.wait_until, alone.digest) == (None, False)
    several = release(
        Channel.EMAIL, [first, first + timedelta(seconds=5)], [], None, DIGEST_WINDOW, first + DIGEST_WINDOW
    )
    assert (several.wait_until, several.digest) == (None, True)
    night = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: held until 08:00
    held = release(Channel.SMS, [night], [], NIGHT, DIGEST_WINDOW, night + DIGEST_WINDOW)
    assert held.wait_until == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_a_channel_turned_off_cancels_what_waits_on_it_except_transactional_messages() -> None:
    off = Preferences(email=False, sms=True)
    assert not still_wanted(Category.STATUS, off, Channel.EMAIL)
    assert not still_wanted(Category.MARKETING, off, Channel.EMAIL)
    assert still_wanted(Category.TRANSACTIONAL, off, Channel.EMAIL)
    assert still_wanted(Category.STATUS, off, Channel.SMS)


def test_marketing_consent_keeps_the_time_it_was_first_given_until_withdrawn() -> None:
    given = NOON_SHANGHAI
    assert consent_since(None, True, given) == given
    assert consent_since(given, True, given + timedelta(days=1)) == given
    assert consent_since(given, False, given + timedelta(days=2)) is None
    assert consent_since(None, False, given) is None
