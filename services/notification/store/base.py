"""The base every notification store shares: delivery statuses, the users' preferences as the rules read
them (contact addresses sealed at rest, R-PRIV-1) and the `notification.sent` event."""

from __future__ import annotations

from prometheus_client import Counter
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.notification.v1 import events_pb2 as notification_events
from services.notification.models import PreferencesRow
from services.notification.policy import Channel, Preferences, QuietHours, parse_clock
from services.notification.store.sealed import ContactAddresses, UserAddresses
from services.runtime.events import Outbox

DELIVERIES = Counter(
    "counsel_notification_deliveries",
    "Outbound send attempts by channel and outcome (sent, retry, fell_back, cancelled, sent_direct, failed_direct)",
    ["channel", "outcome"],
)
# The outcomes the alerts watch, exported at 0 per outbound channel when the service starts: a direct send
# (a login code) the provider refused, a notification that gave up on its channel, and their successes.
WATCHED_OUTCOMES = ("sent", "fell_back", "sent_direct", "failed_direct")

# A delivery's status (DeliveryRow.status).
QUEUED, READY, SENT, DIGESTED, FELL_BACK, CANCELLED = (
    "queued",
    "ready",
    "sent",
    "digested",
    "fell_back",
    "cancelled",
)


def preferences_of(row: PreferencesRow | None, addresses: UserAddresses) -> Preferences:
    """The stored preferences with their addresses opened (`addresses`: the user's); the defaults without a
    row."""
    if row is None:
        return Preferences()
    email_address, phone = addresses.opened(row)
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = QuietHours(
            parse_clock(row.quiet_start, "quiet_hours.start"),
            parse_clock(row.quiet_end, "quiet_hours.end"),
            row.time_zone,
        )
    return Preferences(
        email=row.email,
        sms=row.sms,
        quiet_hours=quiet,
        marketing_consent_at=row.marketing_consent_at,
        language=row.language,
        email_address=email_address,
        phone=phone,
    )


async def load_preferences(session: AsyncSession, addresses: ContactAddresses, user_id: str) -> Preferences:
    row = await session.get(PreferencesRow, user_id)
    return preferences_of(row, await addresses.of(user_id)) if row else Preferences()


async def record_sent(
    session: AsyncSession, outbox: Outbox, notification_id: str, user_id: str, channel: Channel
) -> None:
    """`notification.sent` for a message that reached the user on `channel`, in the caller's transaction."""
    await outbox.add(
        session,
        "notification.sent",
        notification_events.NotificationSent(
            notification_id=notification_id, user_id=user_id, channel=channel.value
        ),
        aggregate_id=notification_id,
    )
