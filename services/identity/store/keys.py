"""Identity's signing keys (R-ACC-2): the key that signs access tokens, its rotation, and the JWKS every
verifier reads. Private keys are sealed at rest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity import tokens
from services.identity.models import SigningKeyRow
from services.identity.store.base import IdentityBase, advisory_lock, audit
from services.runtime.records import utcnow

# Replicas starting together, and rotations, serialise on it: only the first creates a key.
SIGNING_KEY_LOCK = "identity:signing-key"


@dataclass(frozen=True)
class SigningKeyRotation:
    """The newest key after a rotation and when it signs from."""

    kid: str
    signs_from: datetime


class SigningKeys:
    def __init__(self, base: IdentityBase) -> None:
        self.base = base

    async def ensure(self) -> str:
        """The kid of the active signing key, creating one when there is none."""
        async with self.base.db.transaction() as session:
            await advisory_lock(session, SIGNING_KEY_LOCK)
            row = await self._signing_row(session)
            if row is not None:
                return row.kid
            return self._add(session).kid

    async def rotate(self, min_age: timedelta = timedelta(0)) -> SigningKeyRotation:
        """Publish a new signing key now and sign with it from `tokens.SIGNING_KEY_PUBLISH_AHEAD` on, when
        the newest key is at least `min_age` old (so a retried or repeated rotation makes one key); the keys
        signing now retire then, and stay in the JWKS until the tokens they signed expire."""
        async with self.base.db.transaction() as session:
            await advisory_lock(session, SIGNING_KEY_LOCK)
            now = utcnow()
            current = (
                await session.exec(
                    select(SigningKeyRow)
                    .where(col(SigningKeyRow.retired_at).is_(None))
                    .order_by(col(SigningKeyRow.created_at).desc())
                )
            ).all()
            if not tokens.rotation_due(current[0].created_at if current else None, min_age, now):
                return SigningKeyRotation(
                    current[0].kid, current[0].created_at + tokens.SIGNING_KEY_PUBLISH_AHEAD
                )
            switch = now + tokens.SIGNING_KEY_PUBLISH_AHEAD
            for row in current:
                row.retired_at = switch
                session.add(row)
            added = self._add(session, now)
            audit(session, "signing_key.rotated", actor_id="system", kid=added.kid)
            return SigningKeyRotation(added.kid, switch)

    async def jwks(self) -> dict[str, Any]:
        """The public keys that verify every unexpired access token (RFC 7517)."""
        now = utcnow()
        ttl = tokens.access_token_ttl(self.base.settings)
        query = select(SigningKeyRow).where(
            or_(
                col(SigningKeyRow.retired_at).is_(None),
                col(SigningKeyRow.retired_at) > tokens.retention_cutoff(now, ttl),
            )
        )
        async with self.base.db.transaction() as session:
            rows = (await session.exec(query.order_by(col(SigningKeyRow.created_at)))).all()
        published = [tokens.PublishedKey(json.loads(row.public_jwk), row.retired_at) for row in rows]
        return tokens.jwks_document(published, now, ttl)

    async def signing_key(self, session: AsyncSession) -> tokens.SigningKey:
        """The key that signs now (`tokens.key_that_signs`), unsealed."""
        row = await self._signing_row(session)
        if row is None:
            raise RuntimeError("identity has no active signing key (SigningKeys.ensure runs at start)")
        return tokens.load_signing_key(row.kid, self.base.cipher.decrypt(row.private_key_enc))

    async def _signing_row(self, session: AsyncSession) -> SigningKeyRow | None:
        now = utcnow()
        unretired = (
            await session.exec(
                select(SigningKeyRow)
                .where(or_(col(SigningKeyRow.retired_at).is_(None), col(SigningKeyRow.retired_at) > now))
                .order_by(col(SigningKeyRow.created_at).desc())
            )
        ).all()
        return tokens.key_that_signs(unretired, now)

    def _add(self, session: AsyncSession, now: datetime | None = None) -> SigningKeyRow:
        key = tokens.generate_signing_key()
        row = SigningKeyRow(
            kid=key.kid,
            private_key_enc=self.base.cipher.encrypt(tokens.private_key_pem(key)),
            public_jwk=json.dumps(tokens.public_jwk(key)),
            created_at=now or utcnow(),
        )
        session.add(row)
        return row
