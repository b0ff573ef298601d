"""Signing in with an OpenID Connect provider (R-ACC-1, R-ACC-2): the sign-in states this service started
(spent once, CSRF and replay protection) and the links between social accounts and users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.identity import domain, tokens
from services.identity.models import EnterpriseRow, OidcLinkRow, OidcStateRow, UserRow
from services.identity.store.base import (
    IdentityBase,
    SignedIn,
    accepted_policy_version,
    audit,
    record_consent,
)
from services.identity.store.sessions import Sessions
from services.runtime.errors import Conflict, Unauthenticated
from services.runtime.records import new_id, utcnow


@dataclass(frozen=True)
class OidcState:
    """What a sign-in started here needs to finish: the nonce, the PKCE code verifier, the redirect URI, the
    signed-in user who started it to link the social account ("" for a sign-in) and the privacy policy
    version accepted when starting it ("" for none)."""

    nonce: str
    code_verifier: str
    redirect_uri: str
    link_user_id: str
    privacy_policy_version: str


class OidcSignIns:
    def __init__(self, base: IdentityBase, sessions: Sessions) -> None:
        self.base = base
        self.sessions = sessions

    async def save_state(
        self,
        provider: str,
        state: str,
        nonce: str,
        code_verifier: str,
        redirect_uri: str,
        link_user_id: str = "",
        privacy_policy_version: str = "",
    ) -> None:
        now = utcnow()
        async with self.base.db.transaction() as session:
            session.add(
                OidcStateRow(
                    state_hash=tokens.hash_refresh_token(state),
                    provider=provider,
                    nonce=nonce,
                    code_verifier_enc=self.base.cipher.encrypt(code_verifier),
                    redirect_uri=redirect_uri,
                    link_user_id=link_user_id,
                    privacy_policy_version=privacy_policy_version,
                    expires_at=now + domain.OIDC_STATE_TTL,
                    created_at=now,
                )
            )

    async def take_state(self, provider: str, state: str) -> OidcState:
        """The sign-in started here for `provider`, spending its state. Unauthenticated for an unknown,
        foreign, spent or expired state (CSRF, replay)."""
        async with self.base.db.transaction() as session:
            row = (
                await session.get(OidcStateRow, tokens.hash_refresh_token(state), with_for_update=True)
                if state
                else None
            )
            now = utcnow()
            if row is None or not domain.oidc_state_usable(
                row.provider, provider, row.consumed_at, row.expires_at, now
            ):
                raise Unauthenticated(
                    "the sign-in attempt is unknown or has expired; start again", reason="oidc_state"
                )
            row.consumed_at = now
            session.add(row)
            return OidcState(
                row.nonce,
                self.base.cipher.decrypt(row.code_verifier_enc),
                row.redirect_uri,
                row.link_user_id,
                row.privacy_policy_version,
            )

    async def login(
        self,
        provider: str,
        subject: str,
        email: str,
        name: str,
        client_ip: str = "",
        link_user_id: str = "",
        privacy_policy_version: str = "",
    ) -> SignedIn:
        """Sign in the user linked to (provider, subject); else link it to `link_user_id` (a signed-in user
        who started the sign-in to link it), else to the user with this verified e-mail, else create an
        account (a client of a personal tenant). Opens a session (R-ACC-1, R-ACC-2). Conflict when a
        signed-in user links a social account that belongs to another account, and, as a password login
        (`domain.consent_at_login`), Conflict `consent_required` — nothing created or linked — when the
        person has not accepted the privacy policy in force and `privacy_policy_version` does not accept it."""
        subject_index = self.base.cipher.blind_index(f"oidc:{provider}:{subject}")
        try:
            async with self.base.db.transaction() as session:
                link = (
                    await session.exec(
                        select(OidcLinkRow).where(
                            OidcLinkRow.provider == provider, OidcLinkRow.subject_index == subject_index
                        )
                    )
                ).first()
                user = await session.get(UserRow, link.user_id, with_for_update=True) if link else None
                created = False
                if link is not None and link_user_id and link.user_id != link_user_id:
                    raise Conflict(
                        "this social account is linked to another account", reason="social_account_linked"
                    )
                if link is None and link_user_id:
                    user = await session.get(UserRow, link_user_id, with_for_update=True)
                    if user is None or not domain.signs_in(user.status):
                        raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
                if link is None:
                    if email and user is None:
                        user = (
                            await session.exec(
                                select(UserRow)
                                .where(UserRow.email_index == self.base.cipher.blind_index(email))
                                .with_for_update()
                            )
                        ).first()
                    now = utcnow()
                    if user is None:
                        tenant_id = new_id()
                        display_name = domain.validate_display_name(name or email.split("@")[0] or provider)
                        session.add(EnterpriseRow(id=tenant_id, name=display_name, created_at=now))
                        user_id = new_id()
                        user = UserRow(
                            id=user_id,
                            tenant_id=tenant_id,
                            display_name=display_name,
                            roles=["client"],
                            status="active",
                            created_at=now,
                            **(
                                self.base.identifier_columns(
                                    await self.base.personal(user_id), "email", email
                                )
                                if email
                                else {}
                            ),
                        )
                        session.add(user)
                        created = True
                        await session.flush()
                        await self.base.registered(session, user)
                        audit(session, "user.registered", actor_id=user.id, user=user, via=provider)
                        audit(session, "role.granted", actor_id=user.id, user=user, roles=["client"])
                    elif user.status == "invited":
                        user.status = "active"
                        user.display_name = user.display_name or domain.validate_display_name(
                            name or provider
                        )
                        session.add(user)
                        await self.base.registered(session, user)
                    session.add(
                        OidcLinkRow(
                            id=new_id(),
                            provider=provider,
                            subject_index=subject_index,
                            user_id=user.id,
                            created_at=now,
                        )
                    )
                    audit(session, "oidc.linked", actor_id=user.id, user=user, provider=provider)
                if user is None or not domain.signs_in(user.status):
                    raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
                accepted = await accepted_policy_version(session, user.id)
                if domain.consent_at_login(accepted, privacy_policy_version, self.base.privacy_policy):
                    record_consent(
                        session, user, privacy_policy_version, via="register" if created else "login"
                    )
                issued = await self.sessions.open(session, user, "oidc", client_ip)
                audit(
                    session, "login.succeeded", actor_id=user.id, user=user, method="oidc", provider=provider
                )
        except IntegrityError as exc:  # the same social account signing in twice at once
            raise Conflict("this sign-in is already being completed; try again") from exc
        return SignedIn(await self.base.view(user), issued)
