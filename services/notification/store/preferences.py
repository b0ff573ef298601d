"""A user's notification preferences (R-PRIV-2): channels, quiet hours, language, contact addresses and
recorded marketing consent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.models import DeliveryRow, PreferencesRow
from services.notification.policy import LANGUAGES, Preferences, QuietHours, consent_since
from services.notification.store.base import QUEUED, load_preferences, preferences_of
from services.notification.store.sealed import ContactAddresses
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument
from services.runtime.records import utcnow


@dataclass(frozen=True)
class PreferencesUpdate:
    """A full replacement of a user's preferences (PUT). `quiet_hours` None = none; addresses "" = none."""

    email: bool
    sms: bool
    quiet_hours: QuietHours | None
    marketing_consent: bool
    language: str
    email_address: str
    phone: str


async def consent_to_marketing(session: AsyncSession, user_id: str, given_at: datetime) -> None:
    """Record marketing consent given at registration (`user.registered`), in the consumer's transaction;
    the preferences stay the one record of it (R-PRIV-2), withdrawn there like any other."""
    row = await session.get(PreferencesRow, user_id, with_for_update=True)
    if row is None:
        row = PreferencesRow(user_id=user_id, updated_at=given_at)
    row.marketing_consent_at = consent_since(row.marketing_consent_at, True, given_at)
    row.updated_at = given_at
    session.add(row)


class PreferencesStore:
    def __init__(self, db: Database, addresses: ContactAddresses) -> None:
        self.db = db
        self.addresses = addresses

    async def get(self, user_id: str) -> Preferences:
        async with self.db.transaction() as session:
            return await load_preferences(session, self.addresses, user_id)

    async def put(self, user_id: str, change: PreferencesUpdate, now: datetime | None = None) -> Preferences:
        """Replace the user's preferences. Consent keeps the time it was first given (R-PRIV-2: recorded
        consent); withdrawing it clears it."""
        now = now or utcnow()
        if change.language not in LANGUAGES:
            raise InvalidArgument.for_field("language", "must be zh or en")
        addresses = await self.addresses.of(user_id)
        async with self.db.transaction() as session:
            row = await session.get(PreferencesRow, user_id, with_for_update=True)
            if row is None:
                row = PreferencesRow(user_id=user_id, updated_at=now)
            quiet = change.quiet_hours
            row.email, row.sms = change.email, change.sms
            row.quiet_start = quiet.start.strftime("%H:%M") if quiet else None
            row.quiet_end = quiet.end.strftime("%H:%M") if quiet else None
            row.time_zone = quiet.time_zone if quiet else row.time_zone
            row.language = change.language
            row.marketing_consent_at = consent_since(row.marketing_consent_at, change.marketing_consent, now)
            addresses.seal(row, change.email_address, change.phone)
            row.updated_at = now
            session.add(row)
            # Release times of waiting messages depended on the old quiet hours: look at them again.
            deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]
            await session.execute(
                update(deliveries)
                .where(deliveries.c.user_id == user_id, deliveries.c.status == QUEUED)
                .values(next_attempt_at=None)
            )
            return preferences_of(row, addresses)
