"""Membership cards (R-ACC-2): issued by a law firm bound to no account, linked by their holder with the
PIN they were handed (which linking replaces), listed and revoked by the issuing firm."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.identity import domain
from services.identity.models import MembershipCardRow
from services.identity.store.base import IdentityBase, audit
from services.identity.store.limits import Lockout
from services.runtime.context import Principal
from services.runtime.errors import AlreadyExists, FieldViolation, NotFound, Unauthenticated
from services.runtime.records import new_id, newest_first, page_of, utcnow
from services.runtime.tenancy import signed_in


@dataclass(frozen=True)
class IssuedCard:
    card: MembershipCardRow
    created: bool  # False: the same card issued before, returned again


@dataclass(frozen=True)
class LinkedCard:
    """A card linked to its holder, and the PIN generated for them ("" when they chose one)."""

    card: MembershipCardRow
    generated_pin: str


def _card_taken() -> AlreadyExists:
    message = "this card number was issued already"
    return AlreadyExists(f"card_number: {message}", violations=[FieldViolation("card_number", message)])


class Cards:
    def __init__(self, base: IdentityBase, lockout: Lockout) -> None:
        self.base = base
        self.lockout = lockout

    async def _by_number(self, number: str) -> MembershipCardRow | None:
        async with self.base.db.transaction() as session:
            return (
                await session.exec(
                    select(MembershipCardRow).where(
                        MembershipCardRow.card_index == self.base.card_index(number)
                    )
                )
            ).first()

    async def _pin_matches(self, pin_hash: str | None, pin: str) -> bool:
        try:
            await asyncio.to_thread(self.base.passwords.verify, pin_hash, pin)
        except Unauthenticated:
            return False
        return True

    async def issue(self, principal: Principal | None, card_number: str, pin: str) -> IssuedCard:
        """Issue a membership card for the caller's own firm (firm_admin), bound to no account: only its
        holder links it (`link`), and until then it logs nobody in (R-ACC-2). Idempotent: the same number
        with the same PIN, issued by the same firm, returns that card with created=False; a number issued
        otherwise is AlreadyExists naming `card_number`."""
        firm_id = domain.card_firm_of(principal)
        assert principal is not None
        number = domain.normalize_card_number(card_number)
        domain.validate_pin(pin)
        existing = await self._by_number(number)
        if existing is not None:
            if (
                existing.firm_id == firm_id
                and existing.user_id is None
                and await self._pin_matches(existing.pin_hash, pin)
            ):
                return IssuedCard(existing, False)
            raise _card_taken()
        pin_hash = await asyncio.to_thread(self.base.passwords.hash, pin)
        try:
            async with self.base.db.transaction() as session:
                card = MembershipCardRow(
                    id=new_id(),
                    card_index=self.base.card_index(number),
                    last4=number[-4:],
                    pin_hash=pin_hash,
                    firm_id=firm_id,
                    user_id=None,
                    status="active",
                    issued_by=principal.user_id,
                    created_at=utcnow(),
                )
                session.add(card)
                await session.flush()
                audit(
                    session,
                    "card.issued",
                    actor_id=principal.user_id,
                    card_id=card.id,
                    last4=card.last4,
                    firm_id=firm_id,
                )
        except IntegrityError as exc:  # issued concurrently
            raise _card_taken() from exc
        return IssuedCard(card, True)

    async def firm_cards(
        self, principal: Principal | None, limit: int, cursor: str
    ) -> tuple[list[MembershipCardRow], str]:
        """The cards of the caller's own firm (firm_admin), newest first; never another firm's."""
        firm_id = domain.card_firm_of(principal)
        statement = newest_first(
            select(MembershipCardRow).where(MembershipCardRow.firm_id == firm_id),
            col(MembershipCardRow.created_at),
            col(MembershipCardRow.id),
            cursor,
            limit,
        )
        async with self.base.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        return page_of(rows, limit)

    async def revoke(self, principal: Principal | None, card_id: str) -> MembershipCardRow:
        """Revoke a card of the caller's own firm (firm_admin): it no longer logs in or links. Another
        firm's card, like an unknown one, is NotFound. Idempotent."""
        firm_id = domain.card_firm_of(principal)
        assert principal is not None
        async with self.base.db.transaction() as session:
            card = await session.get(MembershipCardRow, card_id, with_for_update=True) if card_id else None
            if card is None or card.firm_id != firm_id:
                raise NotFound("no such membership card")
            if card.status != "revoked":
                card.status = "revoked"
                card.revoked_at = utcnow()
                session.add(card)
                audit(
                    session,
                    "card.revoked",
                    actor_id=principal.user_id,
                    user_id=card.user_id or "",
                    card_id=card.id,
                    firm_id=firm_id,
                )
            return card

    async def link(
        self, principal: Principal | None, card_number: str, pin: str, new_pin: str = "", client_ip: str = ""
    ) -> LinkedCard:
        """Link an issued card to the caller's own account, proven by the PIN it was handed with (R-ACC-2):
        the only way a card gets an account. The issuing firm knows that PIN, so linking replaces it with
        the holder's `new_pin`, or with a generated one returned here once. An unknown card or a wrong PIN
        is InvalidArgument naming the field; failures count against the card number and the client's IP
        like failed logins, and lock them alike (RateLimited)."""
        caller = signed_in(principal, "link a membership card")
        number = domain.normalize_card_number(card_number)
        domain.validate_pin(pin)
        if new_pin:
            domain.validate_pin(new_pin, "new_pin")
        key = self.base.identifier_key(number)
        await self.lockout.check(key, client_ip)
        card = await self._by_number(number)
        if not await self._pin_matches(card.pin_hash if card else None, pin):
            await self.lockout.record_failure(key, "card_link", client_ip)
            raise domain.wrong_card_pin(card is not None)
        assert card is not None
        if domain.card_link(card.status, card.user_id, caller.user_id) is domain.CardLink.LINKED_ALREADY:
            return LinkedCard(card, "")  # linked already, with the holder's own PIN: nothing to change
        chosen = domain.holder_pin(pin, new_pin)
        pin_hash = await asyncio.to_thread(self.base.passwords.hash, chosen.pin)
        async with self.base.db.transaction() as session:
            row = await session.get(MembershipCardRow, card.id, with_for_update=True)
            assert row is not None
            # Revoked, or linked (its PIN replaced) since it was read: the same refusals as before.
            if domain.card_link(row.status, row.user_id, caller.user_id) is not domain.CardLink.LINK:
                raise domain.card_linked_elsewhere()
            if row.pin_hash != card.pin_hash:
                raise domain.card_linked_elsewhere()
            row.user_id = caller.user_id
            row.linked_at = utcnow()
            row.pin_hash = pin_hash
            session.add(row)
            audit(
                session,
                "card.linked",
                actor_id=caller.user_id,
                user_id=caller.user_id,
                tenant_id=caller.tenant_id,
                card_id=row.id,
                pin="generated" if chosen.generated else "chosen",
            )
        return LinkedCard(row, chosen.pin if chosen.generated else "")
