"""One-time codes sent to a phone or an e-mail (R-ACC-1, R-ACC-2): stored only as keyed hashes, single use,
short-lived, limited per destination and per client IP."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from services.identity import domain
from services.identity.models import OtpCodeRow
from services.identity.store.base import IdentityBase, advisory_lock
from services.identity.store.limits import OTP_DESTINATION, OTP_IP, hit, hits
from services.runtime.records import new_id, utcnow


@dataclass(frozen=True)
class IssuedOtp:
    """A new code and where it goes: `kind` (phone or email) and the canonical destination."""

    kind: str
    destination: str
    code: str


class OneTimeCodes:
    def __init__(self, base: IdentityBase, policy: domain.AuthPolicy) -> None:
        self.base = base
        self.policy = policy

    def _code_hash(self, otp_id: str, code: str) -> str:
        # Keyed and salted by the row id: a leaked table does not give the codes away by a 10^6 lookup.
        return self.base.cipher.blind_index(f"otp:{otp_id}:{code}")

    async def issue(self, channel: str, destination: str, client_ip: str) -> IssuedOtp:
        """A new code for `destination`. RateLimited (with the wait) past the per-destination or per-IP
        limit. The code is stored only as a keyed hash; the caller sends it. Works the same whether or not
        the destination belongs to an account."""
        kind, canonical = domain.validate_otp_request(channel, destination)
        destination_key = self.base.cipher.blind_index(canonical)
        ip_key = self.base.ip_key(client_ip)
        code = domain.new_otp()
        async with self.base.db.transaction() as session:
            # Always destination before IP, so concurrent requests cannot deadlock.
            await advisory_lock(session, f"otp:{destination_key}")
            if ip_key:
                await advisory_lock(session, f"otp-ip:{ip_key}")
            now = utcnow()
            per_destination = self.policy.otp_per_destination
            domain.check_limit(
                per_destination,
                await hits(session, OTP_DESTINATION, destination_key, per_destination),
                now,
                "codes requested for this destination",
            )
            if ip_key:
                per_ip = self.policy.otp_per_ip
                domain.check_limit(
                    per_ip, await hits(session, OTP_IP, ip_key, per_ip), now, "codes requested"
                )
                hit(session, OTP_IP, ip_key, now)
            hit(session, OTP_DESTINATION, destination_key, now)
            otp_id = new_id()
            session.add(
                OtpCodeRow(
                    id=otp_id,
                    destination_index=destination_key,
                    channel=channel,
                    code_hash=self._code_hash(otp_id, code),
                    expires_at=now + domain.OTP_TTL,
                    created_at=now,
                )
            )
        return IssuedOtp(kind, canonical, code)

    async def consume(self, destination: str, code: str) -> bool:
        """Spend a live code of the canonical `destination` matching `code` (single use, OTP_TTL, at most
        OTP_MAX_ATTEMPTS wrong guesses per code). A wrong code counts against every live code."""
        async with self.base.db.transaction() as session:
            now = utcnow()
            live = (
                await session.exec(
                    select(OtpCodeRow)
                    .where(
                        OtpCodeRow.destination_index == self.base.cipher.blind_index(destination),
                        col(OtpCodeRow.consumed_at).is_(None),
                        col(OtpCodeRow.expires_at) > now,
                        col(OtpCodeRow.attempts) < domain.OTP_MAX_ATTEMPTS,
                    )
                    .with_for_update()
                )
            ).all()
            check = domain.check_otp(
                [domain.OtpCandidate(row.id, row.code_hash, self._code_hash(row.id, code)) for row in live]
            )
            for row in live:
                if row.id == check.spent:
                    row.consumed_at = now
                    session.add(row)
                elif row.id in check.missed:
                    row.attempts += 1
                    session.add(row)
            return check.spent is not None
