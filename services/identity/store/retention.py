"""What identity keeps only while a rule may need it: rate-limit hits, one-time codes, OpenID Connect
sign-in states and token revocations, purged once no window or lifetime can reach them."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col

from services.identity.models import OidcStateRow, OtpCodeRow, RateHitRow, TokenRevocationRow
from services.runtime.db import Database
from services.runtime.records import utcnow

log = logging.getLogger(__name__)


class Retention:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def purge_expired(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete what no rule can need any more (no window or lifetime is longer than `older_than`; the
        longest, invitations per enterprise, is one day). Returns how many rows went."""
        cutoff = utcnow() - older_than
        async with self.db.transaction() as session:
            deleted = 0
            for statement in (
                delete(RateHitRow).where(col(RateHitRow.created_at) < cutoff),
                delete(OtpCodeRow).where(col(OtpCodeRow.expires_at) < cutoff),
                delete(OidcStateRow).where(col(OidcStateRow.expires_at) < cutoff),
                delete(TokenRevocationRow).where(col(TokenRevocationRow.expires_at) < cutoff),
            ):
                result = await session.execute(statement)
                deleted += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return deleted

    async def purge_forever(self, every_seconds: float = 900.0) -> None:
        """Background task: `purge_expired` every `every_seconds`."""
        while True:
            try:
                await self.purge_expired()
            except Exception:  # a database hiccup must not end the loop
                log.warning("purging expired codes and limits failed", exc_info=True)
            await asyncio.sleep(every_seconds)
