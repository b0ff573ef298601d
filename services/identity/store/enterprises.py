"""An enterprise's members (R-ACC-4, R-PRIV-2): invitations (limited per enterprise and day), the member
list, their roles, and the groups other services address by role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.identity import domain
from services.identity.models import EnterpriseRow, UserRow
from services.identity.store.base import IdentityBase, UserView, advisory_lock, audit
from services.identity.store.limits import INVITATION_ENTERPRISE, hit, hits
from services.identity.store.sessions import revoke_access
from services.runtime.context import Principal
from services.runtime.errors import NotFound
from services.runtime.records import new_id, newest_first, page_of, utcnow


@dataclass(frozen=True)
class InvitationToSend:
    """Whom to send an invitation to (`kind`: phone or email) and the inviting enterprise's name."""

    kind: str
    destination: str
    enterprise_name: str


class Enterprises:
    def __init__(self, base: IdentityBase) -> None:
        self.base = base

    async def get(self, principal: Principal | None, enterprise_id: str) -> EnterpriseRow:
        """The client enterprise, for staff who record work at it (a lawyer's visit); NotFound when there is
        none."""
        domain.require_staff_reading_enterprises(principal)
        async with self.base.db.transaction() as session:
            row = await session.get(EnterpriseRow, enterprise_id) if enterprise_id else None
        if row is None:
            raise NotFound("no such enterprise")
        return row

    async def set_industry(self, principal: Principal | None, industry: str) -> EnterpriseRow:
        """The client_admin sets their enterprise's industry (validated by the caller)."""
        caller = domain.client_admin_of(principal, "set your enterprise's industry", "sets its industry")
        async with self.base.db.transaction() as session:
            enterprise = await session.get(EnterpriseRow, caller.tenant_id, with_for_update=True)
            if enterprise is None:
                raise NotFound("no such enterprise")
            enterprise.industry = industry
            session.add(enterprise)
            await session.flush()
            return enterprise

    async def invite_member(
        self, principal: Principal | None, invitation: domain.Invitation
    ) -> InvitationToSend | None:
        """Invite a person into the caller's enterprise (client_admin only). Creates an invited account
        when the phone or e-mail has none; says nothing about accounts that exist (the answer is the same):
        None when there is nobody to notify. RateLimited (with the wait) past
        `COUNSEL_INVITATIONS_PER_ENTERPRISE_PER_DAY` invitations of the enterprise in the last 24 hours,
        whether or not they reached anyone (R-PRIV-2)."""
        caller = domain.client_admin_of(principal, "invite members", "invites members")
        cipher = self.base.cipher
        index = cipher.blind_index(invitation.identifier)
        column = UserRow.email_index if invitation.kind == "email" else UserRow.phone_index
        limit = domain.invitation_limit(self.base.settings.invitations_per_enterprise_per_day)
        limit_key = cipher.blind_index(f"invite:{caller.tenant_id}")
        try:
            async with self.base.db.transaction() as session:
                # Serialises one enterprise's invitations, so concurrent ones cannot overshoot the limit.
                await advisory_lock(session, f"invite:{limit_key}")
                now = utcnow()
                domain.check_limit(
                    limit,
                    await hits(session, INVITATION_ENTERPRISE, limit_key, limit),
                    now,
                    "invitations from your enterprise today",
                )
                hit(session, INVITATION_ENTERPRISE, limit_key, now)
                enterprise = await session.get(EnterpriseRow, caller.tenant_id)
                if enterprise is None:
                    raise NotFound("no such enterprise")
                if (await session.exec(select(UserRow).where(column == index))).first() is not None:
                    return None
                user_id = new_id()
                user = UserRow(
                    id=user_id,
                    tenant_id=caller.tenant_id,
                    display_name="",
                    roles=[invitation.role],
                    status="invited",
                    created_at=utcnow(),
                    **self.base.identifier_columns(
                        await self.base.personal(user_id), invitation.kind, invitation.identifier
                    ),
                )
                session.add(user)
                await session.flush()
                audit(session, "member.invited", actor_id=caller.user_id, user=user, role=invitation.role)
                audit(session, "role.granted", actor_id=caller.user_id, user=user, roles=[invitation.role])
        except IntegrityError:  # invited concurrently
            return None
        return InvitationToSend(invitation.kind, invitation.identifier, enterprise.name)

    async def members(
        self, principal: Principal | None, limit: int, cursor: str
    ) -> tuple[list[UserView], str]:
        """The caller's enterprise's members (client_admin), newest first; never another tenant's."""
        caller = domain.client_admin_of(principal)
        statement = newest_first(
            select(UserRow).where(UserRow.tenant_id == caller.tenant_id, UserRow.status != "erased"),
            col(UserRow.created_at),
            col(UserRow.id),
            cursor,
            limit,
        )
        async with self.base.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        page, next_cursor = page_of(rows, limit)
        return [await self.base.view(row) for row in page], next_cursor

    async def users_by_role(self, principal: Principal | None, role: str, tenant_id: str) -> list[UserView]:
        """The active users holding `role` (in `tenant_id` for an enterprise role, among staff otherwise),
        by id, with their contact addresses decrypted (domain.validate_group_lookup says who may ask)."""
        role, tenant_id = domain.validate_group_lookup(principal, role, tenant_id)
        statement = (
            select(UserRow)
            .where(col(UserRow.roles).contains([role]))
            .where(UserRow.tenant_id == tenant_id, UserRow.status == "active")
            .order_by(col(UserRow.id))
            .limit(domain.MAX_GROUP)
        )
        async with self.base.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        return [await self.base.view(row) for row in rows]

    async def remove_member(self, principal: Principal | None, user_id: str) -> None:
        """Take a member out of the caller's enterprise (audited as member.removed). The person keeps their
        account as an individual client of a tenant of their own, as if they had registered alone; the access
        tokens they hold as a member stop working (a refresh gives them their new tenant); what they did for
        the enterprise stays the enterprise's. An invitation not yet
        taken up is withdrawn. NotFound for a user of another enterprise (R-ACC-4); an administrator cannot
        remove themself, so an enterprise always keeps one."""
        caller = domain.client_admin_of(principal)
        async with self.base.db.transaction() as session:
            user = await session.get(UserRow, user_id, with_for_update=True) if user_id else None
            if user is None or user.tenant_id != caller.tenant_id or user.status == "erased":
                raise NotFound("no such member")
            domain.check_member_removal(caller.user_id, user.id)
            audit(session, "member.removed", actor_id=caller.user_id, user=user, roles=list(user.roles))
            if user.status == "invited":
                await session.delete(user)
                return
            own = EnterpriseRow(id=new_id(), name=user.display_name, created_at=utcnow())
            session.add(own)
            user.tenant_id = own.id
            user.roles = list(domain.registration_roles(""))
            session.add(user)
            revoke_access(session, user.id)

    async def set_member_role(self, principal: Principal | None, user_id: str, role: str) -> UserView:
        """Give a member of the caller's enterprise another client role (audited as role.changed).
        NotFound for a user of another enterprise (R-ACC-4); an administrator cannot demote themself, so
        an enterprise always keeps one."""
        caller = domain.client_admin_of(principal)
        role = domain.validate_member_role(role)
        async with self.base.db.transaction() as session:
            user = await session.get(UserRow, user_id, with_for_update=True) if user_id else None
            if user is None or user.tenant_id != caller.tenant_id or user.status == "erased":
                raise NotFound("no such member")
            domain.check_role_change(caller.user_id, user.id, role)
            if list(user.roles) != [role]:
                previous = list(user.roles)
                user.roles = [role]
                session.add(user)
                # Tokens carry roles: the old ones must stop working now, not when they expire.
                revoke_access(session, user.id)
                audit(
                    session,
                    "role.changed",
                    actor_id=caller.user_id,
                    user=user,
                    previous=previous,
                    roles=[role],
                )
        return await self.base.view(user)
