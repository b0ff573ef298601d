"""Firms' systems calling the API with service credentials (R-OPS-3): credentials a firm_admin creates
and revokes for their own firm, and the access tokens issued for them."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from sqlmodel import col, select

from services.identity import domain, tokens
from services.identity.models import ServiceClientRow
from services.identity.store.base import IdentityBase, audit
from services.identity.store.keys import SigningKeys
from services.identity.store.limits import Lockout
from services.identity.store.sessions import revoke_access
from services.runtime.context import FIRM_SERVICE_ROLE, Principal
from services.runtime.errors import NotFound, Unauthenticated
from services.runtime.records import newest_first, page_of, utcnow


@dataclass(frozen=True)
class NewServiceClient:
    """New credentials: the stored client, and its secret, shown this once (stored only as a hash)."""

    client: ServiceClientRow
    secret: str


@dataclass(frozen=True)
class _ServiceSubject:
    """What a service token is issued for: a firm's system, in no tenant, with the firm_service role."""

    id: str
    firm_id: str
    tenant_id: str = ""
    roles: tuple[str, ...] = (FIRM_SERVICE_ROLE,)


class ServiceClients:
    def __init__(self, base: IdentityBase, lockout: Lockout, keys: SigningKeys) -> None:
        self.base = base
        self.lockout = lockout
        self.keys = keys

    async def create(self, principal: Principal | None, name: str) -> NewServiceClient:
        """New credentials for the caller's own firm (firm_admin). Audited."""
        firm_id = domain.firm_of_admin(principal)
        assert principal is not None
        clean_name = domain.validate_service_client_name(name)
        secret = secrets.token_urlsafe(32)
        secret_hash = await asyncio.to_thread(self.base.passwords.hash, secret)
        async with self.base.db.transaction() as session:
            row = ServiceClientRow(
                client_id=f"svc_{secrets.token_hex(12)}",
                secret_hash=secret_hash,
                firm_id=firm_id,
                name=clean_name,
                created_by=principal.user_id,
                created_at=utcnow(),
            )
            session.add(row)
            audit(
                session,
                "service_client.created",
                actor_id=principal.user_id,
                client_id=row.client_id,
                firm_id=firm_id,
            )
        return NewServiceClient(row, secret)

    async def firm_clients(
        self, principal: Principal | None, limit: int, cursor: str
    ) -> tuple[list[ServiceClientRow], str]:
        """The credentials of the caller's own firm (firm_admin), newest first; never another firm's."""
        firm_id = domain.firm_of_admin(principal)
        statement = newest_first(
            select(ServiceClientRow).where(ServiceClientRow.firm_id == firm_id),
            col(ServiceClientRow.created_at),
            col(ServiceClientRow.client_id),
            cursor,
            limit,
        )
        async with self.base.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        return page_of(rows, limit)

    async def revoke(self, principal: Principal | None, client_id: str) -> ServiceClientRow:
        """Revoke credentials of the caller's own firm, and the tokens they were exchanged for (refused by
        every verifier within its revocation poll); another firm's client is NotFound."""
        firm_id = domain.firm_of_admin(principal)
        assert principal is not None
        async with self.base.db.transaction() as session:
            row = await session.get(ServiceClientRow, client_id, with_for_update=True) if client_id else None
            if row is None or row.firm_id != firm_id:
                raise NotFound("no such service client")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                session.add(row)
                revoke_access(session, row.client_id)  # a service token's subject is its client id
                audit(
                    session,
                    "service_client.revoked",
                    actor_id=principal.user_id,
                    client_id=row.client_id,
                    firm_id=firm_id,
                )
            return row

    async def issue_token(
        self, client_id: str, client_secret: str, client_ip: str = ""
    ) -> tokens.ServiceToken:
        """An access token (no refresh token) for a firm's system: role firm_service, scoped to its firm
        (`fid`). Unauthenticated alike for an unknown client, a wrong secret and revoked credentials;
        repeated failures lock the client id like a login identifier."""
        if not client_id or not client_secret or len(client_secret) > domain.MAX_SECRET:
            raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
        key = self.base.identifier_key(f"service:{client_id}")
        await self.lockout.check(key, client_ip)
        async with self.base.db.transaction() as session:
            row = await session.get(ServiceClientRow, client_id)
        try:
            await asyncio.to_thread(
                self.base.passwords.verify, row.secret_hash if row else None, client_secret
            )
        except Unauthenticated:
            row = None
        if row is None or row.revoked_at is not None:
            await self.lockout.record_failure(key, "service", client_ip)
            raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
        subject = _ServiceSubject(row.client_id, row.firm_id)
        settings = self.base.settings
        async with self.base.db.transaction() as session:
            access_token = tokens.issue_access_token(subject, await self.keys.signing_key(session), settings)
            audit(session, "service_client.token_issued", actor_id=row.client_id, firm_id=row.firm_id)
        return tokens.ServiceToken(access_token, tokens.access_token_ttl(settings), row.firm_id)
