"""What identity holds about a person, for them (R-ACC-3, R-PRIV-1, PIPL): their linked activity, its view by
staff serving them (audited), the export of everything, and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.identity.v1 import events_pb2
from services.identity import domain
from services.identity.models import (
    ActivityRow,
    AuditEventRow,
    ConsentRow,
    EnterpriseRow,
    MembershipCardRow,
    OidcLinkRow,
    RefreshTokenRow,
    UserRow,
)
from services.identity.store.accounts import Accounts
from services.identity.store.base import IdentityBase, audit
from services.identity.store.sealed import without_login_place
from services.identity.store.sessions import revoke_access
from services.runtime.context import Principal
from services.runtime.crypto import address_index
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.events import occurred_at
from services.runtime.records import new_id, newest_first, page_of, utcnow
from services.runtime.tenancy import signed_in


class Privacy:
    def __init__(self, base: IdentityBase, accounts: Accounts) -> None:
        self.base = base
        self.accounts = accounts

    async def record_activity(
        self, session: AsyncSession, fact: domain.ActivityFact, envelope: EventEnvelope, event_id: str = ""
    ) -> int:
        """Link `envelope`, another service's event, to the person `fact` names, in the consumer's
        transaction, once per `event_id` (the envelope's id by default). Events of unknown or erased users
        are skipped. Returns rows written."""
        user = await session.get(UserRow, fact.user_id)
        if user is None or user.status == "erased":
            return 0
        table = ActivityRow.__table__  # type: ignore[attr-defined]
        result = await session.execute(
            pg_insert(table)
            .values(
                id=new_id(),
                user_id=user.id,
                tenant_id=envelope.tenant_id or user.tenant_id,
                kind=fact.kind,
                source=fact.source,
                subject_id=fact.subject_id,
                event_id=event_id or envelope.id,
                detail={},
                created_at=occurred_at(envelope),
            )
            .on_conflict_do_nothing()
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def activity(
        self, principal: Principal | None, limit: int, cursor: str
    ) -> tuple[list[ActivityRow], str]:
        """The caller's own linked activity, newest first (only ever the caller's: no tenant can see it)."""
        caller = signed_in(principal, "see your activity")
        statement = newest_first(
            select(ActivityRow).where(ActivityRow.user_id == caller.user_id),
            col(ActivityRow.created_at),
            col(ActivityRow.id),
            cursor,
            limit,
        )
        async with self.base.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        page, next_cursor = page_of(rows, limit)
        person = await self.base.personal(caller.user_id)
        for row in page:  # detached rows: shown opened, never written back
            row.detail = person.shown_detail(row.detail)
        return page, next_cursor

    async def user_activity(
        self, principal: Principal | None, user_id: str, limit: int, cursor: str
    ) -> tuple[list[ActivityRow], str]:
        """A client's linked activity for an agent or supervisor serving them (R-CS-2), newest first; the
        access is audited (R-PRIV-1). Where they logged in from (the IP address and its place) stays with the
        user: not shown here."""
        caller = domain.staff_serving_clients(principal)
        if not user_id:
            raise InvalidArgument.for_field("user_id", "must not be empty")
        statement = newest_first(
            select(ActivityRow).where(ActivityRow.user_id == user_id),
            col(ActivityRow.created_at),
            col(ActivityRow.id),
            cursor,
            limit,
        )
        async with self.base.db.transaction() as session:
            user = await session.get(UserRow, user_id)
            if user is None:
                raise NotFound("no such user")
            rows = list((await session.exec(statement)).all())
            audit(session, "activity.viewed_by_staff", actor_id=caller.user_id, user=user)
        page, next_cursor = page_of(rows, limit)
        for row in page:  # detached rows: shown without what stays with the user, never written back
            row.detail = without_login_place(row.detail)
        return page, next_cursor

    async def export(self, principal: Principal | None) -> dict[str, Any]:
        """Everything identity holds about the caller (PIPL): profile, enterprise, login methods, cards,
        sessions, privacy policy acceptances and the audit trail about them (marketing consent is in
        notification's preferences). The export itself is audited."""
        caller = signed_in(principal, "export your data")
        profile = await self.accounts.profile(caller)
        person = await self.base.personal(caller.user_id)
        async with self.base.db.transaction() as session:
            sessions = (
                await session.exec(
                    select(RefreshTokenRow)
                    .where(RefreshTokenRow.user_id == caller.user_id)
                    .order_by(col(RefreshTokenRow.created_at))
                )
            ).all()
            audit_trail = (
                await session.exec(
                    select(AuditEventRow)
                    .where(AuditEventRow.user_id == caller.user_id)
                    .order_by(col(AuditEventRow.created_at))
                )
            ).all()
            activities = (
                await session.exec(
                    select(ActivityRow)
                    .where(ActivityRow.user_id == caller.user_id)
                    .order_by(col(ActivityRow.created_at))
                )
            ).all()
            consents = (
                await session.exec(
                    select(ConsentRow)
                    .where(ConsentRow.user_id == caller.user_id)
                    .order_by(col(ConsentRow.accepted_at))
                )
            ).all()
            audit(session, "data.exported", actor_id=caller.user_id, user=profile.user.row)
        row = profile.user.row
        return {
            "exported_at": utcnow().isoformat(),
            "user": {
                "id": row.id,
                "display_name": row.display_name,
                "email": profile.user.email or None,
                "phone": profile.user.phone or None,
                "roles": list(row.roles),
                "status": row.status,
                "created_at": row.created_at.isoformat(),
            },
            "enterprise": {"id": profile.enterprise.id, "name": profile.enterprise.name}
            if profile.enterprise
            else None,
            "login_methods": {
                "password": bool(row.password_hash),
                "phone": bool(profile.user.phone),
                "email": bool(profile.user.email),
                "membership_cards": len(profile.cards),
            },
            "membership_cards": [
                {
                    "id": card.id,
                    "last4": card.last4,
                    "status": card.status,
                    "linked_at": card.linked_at.isoformat() if card.linked_at else None,
                }
                for card in profile.cards
            ],
            "sessions": [
                {
                    "started_at": token.created_at.isoformat(),
                    "expires_at": token.expires_at.isoformat(),
                    "used_at": token.used_at.isoformat() if token.used_at else None,
                    "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
                }
                for token in sessions
            ],
            "consents": [
                {
                    "privacy_policy_version": consent.privacy_policy_version,
                    "accepted_at": consent.accepted_at.isoformat(),
                    "via": consent.via,
                }
                for consent in consents
            ],
            "audit": [
                {"action": event.action, "at": event.created_at.isoformat(), "detail": event.detail}
                for event in audit_trail
            ],
            "activity": [
                {
                    "kind": activity.kind,
                    "source": activity.source,
                    "subject_id": activity.subject_id or None,
                    "at": activity.created_at.isoformat(),
                    "detail": person.shown_detail(activity.detail),
                }
                for activity in activities
            ],
        }

    async def erase(self, principal: Principal | None) -> datetime:
        """Erase the caller's personal data held here (PIPL): contact details, name, password, social links,
        cards, sessions and activity, and their data key with them (crypto-shredding: what it sealed is
        unreadable in every copy); the audit trail (which holds no personal data) stays. Publishes
        `user.erased` so every other service erases or anonymises its copy. An account already erased is
        NotFound (issue 20): there is nobody left to erase."""
        caller = signed_in(principal, "erase your data")
        now = utcnow()
        person = await self.base.personal(caller.user_id)
        async with self.base.db.transaction() as session:
            user = await session.get(UserRow, caller.user_id, with_for_update=True)
            if user is None:
                raise NotFound("no such user")
            if user.status == "erased":
                raise NotFound("this account has been erased", reason="account_erased")
            # The enterprise row is locked first, so two last members erased at once do not both see the
            # other one still there (and leave the tenant's data key standing).
            await session.get(EnterpriseRow, user.tenant_id, with_for_update=True)
            others = await session.scalar(
                select(func.count())
                .select_from(UserRow)
                .where(UserRow.tenant_id == user.tenant_id, UserRow.id != user.id, UserRow.status != "erased")
            )
            opened = person.view(user)
            addresses = [address for address in (opened.email, opened.phone) if address]
            user.email_index = user.phone_index = None
            user.email_enc = user.phone_enc = user.password_hash = ""
            user.display_name = domain.ERASED_DISPLAY_NAME
            user.status = "erased"
            session.add(user)
            await session.execute(
                update(RefreshTokenRow)
                .where(col(RefreshTokenRow.user_id) == user.id, col(RefreshTokenRow.revoked_at).is_(None))
                .values(revoked_at=now)
            )
            revoke_access(session, user.id, erased=True)
            await session.execute(
                update(MembershipCardRow)
                .where(col(MembershipCardRow.user_id) == user.id)
                .values(user_id=None, status="revoked", revoked_at=now)
            )
            await session.execute(delete(OidcLinkRow).where(col(OidcLinkRow.user_id) == user.id))
            await session.execute(delete(ActivityRow).where(col(ActivityRow.user_id) == user.id))
            # Nothing here is kept for a retention rule (the audit trail holds no personal data): the key
            # goes at once, so what the rows above held stays unreadable in the WAL and in backups too.
            await self.base.shred(session, user.id)
            await self.base.outbox.add(
                session,
                "user.erased",
                events_pb2.UserErased(
                    user_id=user.id,
                    tenant_id=user.tenant_id,
                    tenant_erased=not others,
                    address_indexes=[address_index(self.base.cipher, a) for a in addresses],
                ),
                aggregate_id=user.id,
                tenant_id=user.tenant_id,
                actor_id=user.id,
            )
            audit(session, "data.erased", actor_id=user.id, user=user)
        return now
