"""Tables of the identity service, on its own registry so its metadata never mixes with another's.

A person's fields are stored sealed with their data key (`*_enc`, `store/sealed.py`, kept wrapped in
`data_keys`) with a blind index (`*_index`, keyed by COUNSEL_SECRET_KEY) for exact-match lookups; nothing here
holds an e-mail address or a phone number in clear (R-PRIV-1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.keys import define_data_keys_table
from services.runtime.tables import define_runtime_tables

identity_registry = registry()
metadata = identity_registry.metadata
TABLES = define_runtime_tables(metadata)
DATA_KEYS = define_data_keys_table(metadata)


class IdentityModel(SQLModel, registry=identity_registry):
    """Base of this service's tables. SQLModel makes a class that names `registry=` abstract, so the
    registry goes on this base and the tables subclass it with `table=True`."""


class EnterpriseRow(IdentityModel, table=True):
    """A client enterprise: the tenant its members' data belongs to."""

    __tablename__ = "enterprises"

    id: str = Field(primary_key=True)
    name: str
    # common.v1.Industry, "" when not given: the catalog's columns for it come first.
    industry: str = Field(default="", sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class UserRow(IdentityModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True)
    # The enterprise of a client or client_admin; "" for staff.
    tenant_id: str = Field(default="", index=True)
    display_name: str
    email_index: str | None = Field(default=None, unique=True)
    email_enc: str = ""
    phone_index: str | None = Field(default=None, unique=True)
    phone_enc: str = ""
    # argon2id PHC string; "" for accounts that cannot log in with a password.
    password_hash: str = ""
    roles: list[str] = Field(default_factory=list, sa_type=JSONB)
    # active | disabled | erased | invited: created by a client_admin's invitation, active once the person
    # proves the phone or e-mail with a one-time code (registration or OTP login).
    status: str = "active"
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    # The law firm a staff member works for ("" for clients and platform staff); carried in tokens as `fid`.
    firm_id: str = Field(default="", sa_column_kwargs={"server_default": ""})


class SigningKeyRow(IdentityModel, table=True):
    """An Ed25519 key that signs access tokens. The newest unretired key signs; a retired key stays in
    the JWKS for one access-token lifetime so the tokens it signed remain valid until they expire."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True)
    private_key_enc: str  # PKCS#8 PEM, encrypted with FieldCipher (the service's own, not a person's)
    public_jwk: str  # JSON text of the public JWK
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class RefreshTokenRow(IdentityModel, table=True):
    """A refresh token, stored only as its SHA-256. Tokens of one login share a family, so reuse of a
    spent token can revoke the whole family."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    family_id: str = Field(index=True)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class TokenRevocationRow(IdentityModel, table=True):
    """Access tokens refused before they expire: the user's tokens issued before `revoked_before`, or only
    those of one login session (`session_id`, the refresh-token family and the token's `sid`); `erased` when
    the account was erased (its tokens are then NotFound, not merely refused). Kept until every token it
    names has expired (`expires_at`); every verifier polls them by `id`."""

    __tablename__ = "token_revocations"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True)
    session_id: str = ""
    revoked_before: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    erased: bool = False


class OtpCodeRow(IdentityModel, table=True):
    """A one-time code sent to a phone or an e-mail address. Only a keyed hash of the code is kept
    (HMAC over the row id and the code), and the destination only as its blind index."""

    __tablename__ = "otp_codes"

    id: str = Field(primary_key=True)
    destination_index: str = Field(index=True)
    channel: str
    code_hash: str
    attempts: int = 0
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    consumed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class RateHitRow(IdentityModel, table=True):
    """One counted event of a rate limit or lockout (`bucket`: otp_destination, otp_ip, login_failure,
    login_failure_ip, invitation_enterprise), keyed by the blind index of what is limited (a destination,
    an IP, an identifier, an enterprise)."""

    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_bucket_key_at", "bucket", "key_index", "created_at"),)

    id: str = Field(primary_key=True)
    bucket: str
    key_index: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class MembershipCardRow(IdentityModel, table=True):
    """An offline law-firm membership card: the number only as a blind index (+ its last four), the PIN as
    an argon2id hash. Issued by a firm (`firm_id`) bound to no account; linked to at most one account, and
    only by its holder, who replaces the issued PIN with their own when linking (`pin_hash` then holds
    the holder's PIN, which the issuing firm never saw)."""

    __tablename__ = "membership_cards"

    id: str = Field(primary_key=True)
    card_index: str = Field(unique=True)
    last4: str
    pin_hash: str
    # The law firm that issued the card: only its firm_admin lists and revokes it.
    firm_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})
    user_id: str | None = Field(default=None, index=True)
    status: str = "active"  # active | revoked
    issued_by: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    linked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ConsentRow(IdentityModel, table=True):
    """A person's acceptance of a version of the privacy policy (PIPL art. 14, R-PRIV-2), kept as the record
    that they gave it: one row per acceptance, never changed; the newest is the one in force. Marketing
    consent is not here: notification's preferences hold it (`marketing_consent_at`)."""

    __tablename__ = "consents"

    id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    privacy_policy_version: str
    accepted_at: datetime = Field(sa_type=DateTime(timezone=True))
    via: str  # register | login


class AuditEventRow(IdentityModel, table=True):
    """Append-only audit trail (R-PRIV-1): logins, failed logins, role changes, card issuance, exports.
    A trigger (migration 0002) refuses UPDATE and DELETE. `detail` never holds a phone, an e-mail, a code
    or a card number."""

    __tablename__ = "audit_events"

    id: str = Field(primary_key=True)
    action: str = Field(index=True)
    actor_id: str = ""
    user_id: str = Field(default="", index=True)
    tenant_id: str = ""
    detail: dict[str, object] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


class OidcStateRow(IdentityModel, table=True):
    """One OpenID Connect sign-in in flight: its state (as a hash), nonce and PKCE verifier (encrypted),
    valid for a few minutes and usable once."""

    __tablename__ = "oidc_states"

    state_hash: str = Field(primary_key=True)
    provider: str
    nonce: str
    code_verifier_enc: str
    redirect_uri: str
    # Set when a signed-in user started it to link the social account to their own account.
    link_user_id: str = ""
    # The privacy policy version the person accepted when starting it ("" for none), recorded at the finish.
    privacy_policy_version: str = ""
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    consumed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class OidcLinkRow(IdentityModel, table=True):
    """A social account (provider + subject, the subject as a blind index) linked to one user."""

    __tablename__ = "oidc_links"
    __table_args__ = (UniqueConstraint("provider", "subject_index"),)

    id: str = Field(primary_key=True)
    provider: str
    subject_index: str
    user_id: str = Field(index=True)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class ActivityRow(IdentityModel, table=True):
    """A user's linked activity (§6.1.1.2, R-ACC-3): their logins here, and the events of other services
    they caused (browsing, purchases, bookings and visits), one row per event."""

    __tablename__ = "activities"

    id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    tenant_id: str = ""
    kind: str
    source: str
    subject_id: str = ""
    # The event it came from; unique, so a redelivered event is recorded once.
    event_id: str | None = Field(default=None, unique=True)
    detail: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


class ServiceClientRow(IdentityModel, table=True):
    """Credentials of a law firm's own system for the gRPC API: a client id and a secret (argon2id hash),
    scoped to one firm. Created by that firm's firm_admin; revocable."""

    __tablename__ = "service_clients"

    client_id: str = Field(primary_key=True)
    secret_hash: str
    firm_id: str = Field(index=True)
    name: str
    created_by: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
