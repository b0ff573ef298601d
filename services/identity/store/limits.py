"""Rate limits and the lockout of failed attempts (R-ACC-2, R-PRIV-2): hits counted per bucket and keyed
by blind indexes (never an identifier or address in clear)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity import domain
from services.identity.models import RateHitRow
from services.identity.store.base import IdentityBase, audit
from services.runtime.records import new_id, utcnow

# Rate-limit buckets (RateHitRow.bucket).
OTP_DESTINATION = "otp_destination"
OTP_IP = "otp_ip"
LOGIN_FAILURE = "login_failure"
LOGIN_FAILURE_IP = "login_failure_ip"
INVITATION_ENTERPRISE = "invitation_enterprise"


async def hits(session: AsyncSession, bucket: str, key: str, limit: domain.Limit) -> list[datetime]:
    """When `key` was hit in `bucket` within the limit's window."""
    since = utcnow() - limit.window
    query = select(RateHitRow.created_at).where(
        RateHitRow.bucket == bucket, RateHitRow.key_index == key, col(RateHitRow.created_at) > since
    )
    return list((await session.exec(query)).all())


def hit(session: AsyncSession, bucket: str, key: str, at: datetime) -> None:
    session.add(RateHitRow(id=new_id(), bucket=bucket, key_index=key, created_at=at))


class Lockout:
    """Failed attempts with a credential, per identifier (`IdentityBase.identifier_key`) and per client IP."""

    def __init__(self, base: IdentityBase, policy: domain.AuthPolicy) -> None:
        self.base = base
        self.policy = policy

    async def check(self, key: str, client_ip: str = "") -> None:
        """RateLimited while the identifier or the client's IP address is locked
        (`domain.check_not_locked`)."""
        ip_key = self.base.ip_key(client_ip)
        async with self.base.db.transaction() as session:
            identifier_hits = await hits(session, LOGIN_FAILURE, key, self.policy.failures_per_identifier)
            ip_hits = (
                await hits(session, LOGIN_FAILURE_IP, ip_key, self.policy.failures_per_ip) if ip_key else []
            )
        domain.check_not_locked(self.policy, identifier_hits, ip_hits, utcnow())

    async def record_failure(self, key: str, method: str, client_ip: str) -> None:
        ip_key = self.base.ip_key(client_ip)
        async with self.base.db.transaction() as session:
            now = utcnow()
            hit(session, LOGIN_FAILURE, key, now)
            if ip_key:
                hit(session, LOGIN_FAILURE_IP, ip_key, now)
            audit(session, "login.failed", method=method, ip=ip_key)

    @staticmethod
    async def forget_failures(session: AsyncSession, key: str) -> None:
        """A success clears the identifier's failures, in the caller's transaction."""
        await session.execute(
            delete(RateHitRow).where(
                col(RateHitRow.bucket) == LOGIN_FAILURE, col(RateHitRow.key_index) == key
            )
        )
