"""A law firm's first admin, invited by the platform operator (issue 24 item 1, §4.1.1): an invited account
with role firm_admin of the firm, active once the person signs in with a code sent to the phone or e-mail."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.identity import domain
from services.identity.models import UserRow
from services.identity.store.base import IdentityBase, audit
from services.runtime.context import Principal
from services.runtime.errors import Conflict
from services.runtime.records import new_id, utcnow

FIRM_ADMIN_ROLE = "firm_admin"


class FirmAdmins:
    def __init__(self, base: IdentityBase) -> None:
        self.base = base

    async def invite(self, operator: Principal, firm_id: str, invitation: domain.Invitation) -> str:
        """The invited account's id: a new one, or the one invited earlier for this firm (a repeat).
        Conflict when the phone or e-mail belongs to any other account."""
        index = self.base.cipher.blind_index(invitation.identifier)
        column = UserRow.email_index if invitation.kind == "email" else UserRow.phone_index
        try:
            async with self.base.db.transaction() as session:
                existing = (await session.exec(select(UserRow).where(column == index))).first()
                if existing is not None:
                    if existing.firm_id == firm_id and FIRM_ADMIN_ROLE in existing.roles:
                        return existing.id
                    raise Conflict("this phone or e-mail already has an account", reason="account_exists")
                user_id = new_id()
                user = UserRow(
                    id=user_id,
                    tenant_id="",
                    firm_id=firm_id,
                    display_name="",
                    roles=[FIRM_ADMIN_ROLE],
                    status="invited",
                    created_at=utcnow(),
                    **self.base.identifier_columns(
                        await self.base.personal(user_id), invitation.kind, invitation.identifier
                    ),
                )
                session.add(user)
                await session.flush()
                audit(session, "member.invited", actor_id=operator.user_id, user=user, role=FIRM_ADMIN_ROLE)
                audit(session, "role.granted", actor_id=operator.user_id, user=user, roles=[FIRM_ADMIN_ROLE])
                return user.id
        except IntegrityError:  # invited concurrently: the other invitation's account answers
            raise Conflict(
                "this phone or e-mail was invited just now; retry", reason="account_exists"
            ) from None
