"""Users and tokens as the public API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.common.v1 import access_log_pb2
from counsel.identity.v1 import identity_service_pb2 as pb
from services.gateway.schemas.common import Industry, RequestModel, or_none, rfc3339


class LoginRequest(RequestModel):
    method: Literal["password", "otp", "membership_card"]
    identifier: str = Field(min_length=1, max_length=320, description="A phone, an e-mail or a card number.")
    secret: str = Field(min_length=1, max_length=1024, description="Password, one-time code or card PIN.")
    privacy_policy_version: str | None = Field(
        default=None,
        max_length=64,
        description="Accepts the privacy policy in force: send its version when a login was refused with 409 "
        'reason "consent_required" (the policy changed since you last accepted it).',
    )


class User(BaseModel):
    id: str
    display_name: str
    email: str | None
    phone: str | None
    tenant_id: str | None = Field(description="The client enterprise; null for staff.")
    roles: list[str]
    firm_id: str | None = Field(
        default=None, description="The law firm a firm's lawyer, reviewer or admin works for; null otherwise."
    )

    @classmethod
    def from_proto(cls, user: pb.User) -> User:
        return cls(
            id=user.id,
            display_name=user.display_name,
            email=or_none(user.email),
            phone=or_none(user.phone),
            tenant_id=or_none(user.tenant_id),
            roles=list(user.roles),
            firm_id=or_none(user.firm_id),
        )


class LoginResponse(BaseModel):
    user: User
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds until the access token expires.")
    token_type: Literal["Bearer"] = "Bearer"

    @classmethod
    def from_proto(
        cls, reply: pb.LoginResponse | pb.RegisterResponse | pb.RefreshResponse | pb.FinishOidcLoginResponse
    ) -> LoginResponse:
        return cls(
            user=User.from_proto(reply.user),
            access_token=reply.tokens.access_token,
            refresh_token=reply.tokens.refresh_token,
            expires_in=reply.tokens.expires_in,
        )


class OtpRequest(RequestModel):
    channel: Literal["sms", "email"]
    destination: str = Field(
        min_length=1, max_length=320, description="A mainland mobile number or an e-mail."
    )


class OtpAccepted(BaseModel):
    status: Literal["sent"] = "sent"
    expires_in: int = Field(description="Seconds the code stays valid.")


class RegisterRequest(RequestModel):
    phone: str | None = Field(default=None, max_length=32, description="Exactly one of phone and email.")
    email: str | None = Field(default=None, max_length=320)
    code: str = Field(
        min_length=1, max_length=16, description="The 6-digit code sent to the phone or e-mail."
    )
    password: str | None = Field(default=None, max_length=1024, description="Optional; checked for strength.")
    display_name: str = Field(min_length=1, max_length=100)
    enterprise_name: str | None = Field(
        default=None, max_length=200, description="Creates the enterprise, with you as its client_admin."
    )
    privacy_policy_version: str = Field(
        default="",
        max_length=64,
        description="Required: the version of the privacy policy in force, which you accept by registering "
        "(without it, or with another, the answer is 422 naming `privacy_policy_version` with the version "
        "in force and its URL).",
    )
    marketing_consent: bool = Field(
        default=False, description="Optional: you agree to receive marketing messages (see your preferences)."
    )


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(RequestModel):
    refresh_token: str | None = Field(
        default=None, max_length=200, description="Revokes this login; without it, every login of yours."
    )


class MembershipCard(BaseModel):
    id: str
    last4: str
    status: Literal["active", "revoked"] | str
    user_id: str | None = Field(
        description="The account it is linked to, shown to that account only: null while unlinked and "
        "in the issuing firm's answers."
    )
    firm_id: str | None = Field(description="The law firm that issued it.")
    created_at: str | None
    linked_at: str | None = Field(description="When its holder linked it; null while unlinked.")
    revoked_at: str | None

    @classmethod
    def from_proto(cls, card: pb.MembershipCard) -> MembershipCard:
        return cls(
            id=card.id,
            last4=card.last4,
            status=card.status,
            user_id=or_none(card.user_id),
            firm_id=or_none(card.firm_id),
            created_at=rfc3339(card, "created_at"),
            linked_at=rfc3339(card, "linked_at"),
            revoked_at=rfc3339(card, "revoked_at"),
        )


class LinkedCard(MembershipCard):
    new_pin: str | None = Field(
        description="The card's new PIN when you named no `new_pin`: shown this once. The PIN the card was "
        "handed over with no longer works."
    )


class CardPage(BaseModel):
    items: list[MembershipCard]
    next_cursor: str | None


class Enterprise(BaseModel):
    id: str
    name: str
    industry: str | None = Field(description="Its industry; its columns come first (GET /api/v1/columns).")

    @classmethod
    def from_proto(cls, enterprise: pb.Enterprise) -> Enterprise:
        return cls(id=enterprise.id, name=enterprise.name, industry=or_none(enterprise.industry))


class EnterpriseChange(RequestModel):
    industry: Industry | None = Field(description="null clears it.")


class LoginMethods(BaseModel):
    password: bool
    phone: str | None
    email: str | None
    membership_cards: list[MembershipCard]


class Me(User):
    enterprise: Enterprise | None
    login_methods: LoginMethods
    lawyer_id: str | None = Field(
        default=None,
        description="A lawyer's own profile in the catalog (GET /api/v1/lawyers/{id}); null otherwise.",
    )

    @classmethod
    def from_me(cls, reply: pb.GetMeResponse, lawyer_id: str | None = None) -> Me:
        user = User.from_proto(reply.user)
        methods = reply.login_methods
        return cls(
            **user.model_dump(),
            lawyer_id=lawyer_id,
            enterprise=Enterprise.from_proto(reply.enterprise) if reply.HasField("enterprise") else None,
            login_methods=LoginMethods(
                password=methods.password,
                phone=or_none(methods.phone),
                email=or_none(methods.email),
                membership_cards=[MembershipCard.from_proto(c) for c in methods.membership_cards],
            ),
        )


class UpdateMe(RequestModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32, description="Link this phone; needs `code`.")
    email: str | None = Field(default=None, max_length=320, description="Link this e-mail; needs `code`.")
    code: str | None = Field(default=None, max_length=16, description="The code sent to the phone or e-mail.")
    password: str | None = Field(default=None, max_length=1024, description="A new password.")
    current_password: str | None = Field(
        default=None, max_length=1024, description="Required to change a password that is set."
    )


class LinkCard(RequestModel):
    card_number: str = Field(min_length=1, max_length=64)
    pin: str = Field(min_length=1, max_length=16, description="The PIN the card was handed over with.")
    new_pin: str | None = Field(
        default=None,
        max_length=16,
        description="The card's PIN from now on (4 to 8 digits, not the one handed over, which the issuing "
        "firm knows); without it one is generated and returned once as `new_pin`.",
    )


class IssueCard(RequestModel):
    """A card of your own firm, bound to nobody: its holder links it to their account (there is no field
    naming an account, and an unknown field is 422)."""

    card_number: str = Field(min_length=1, max_length=64)
    pin: str = Field(min_length=1, max_length=16, description="4 to 8 digits, handed over with the card.")


class InviteMember(RequestModel):
    phone: str | None = Field(default=None, max_length=32, description="Exactly one of phone and email.")
    email: str | None = Field(default=None, max_length=320)
    role: Literal["client", "client_admin"] = "client"


class Invited(BaseModel):
    status: Literal["invited"] = "invited"
    role: str


class Activity(BaseModel):
    id: str
    kind: str = Field(
        description='What happened: "login", or another service\'s event type, e.g. "order.paid".'
    )
    source: str = Field(description="The service it happened in.")
    subject_id: str | None
    occurred_at: str | None
    detail: dict[str, str]

    @classmethod
    def from_proto(cls, activity: pb.Activity) -> Activity:
        return cls(
            id=activity.id,
            kind=activity.kind,
            source=activity.source,
            subject_id=or_none(activity.subject_id),
            occurred_at=rfc3339(activity, "occurred_at"),
            detail=dict(activity.detail),
        )


class ActivityPage(BaseModel):
    items: list[Activity]
    next_cursor: str | None


class StaffAccess(BaseModel):
    at: str | None
    actor_id: str = Field(description="Who read it: a member of staff, or a law firm's system.")
    actor_roles: list[str]
    service: str = Field(description="The service that holds what was read, e.g. consultation.")
    resource: str = Field(description='What was read, e.g. "consultation".')
    resource_id: str
    case_id: str = Field(description="Why: the case it was read for.")

    @classmethod
    def from_proto(cls, entry: access_log_pb2.StaffAccess) -> StaffAccess:
        return cls(
            at=rfc3339(entry, "at"),
            actor_id=entry.actor_id,
            actor_roles=list(entry.actor_roles),
            service=entry.service,
            resource=entry.resource,
            resource_id=entry.resource_id,
            case_id=entry.case_id,
        )


class AccessLog(BaseModel):
    items: list[StaffAccess] = Field(description="Newest first.")


class Erased(BaseModel):
    status: Literal["erased"] = "erased"
    erased_at: str | None


class MemberPage(BaseModel):
    items: list[User]
    next_cursor: str | None


class MemberRole(RequestModel):
    role: Literal["client", "client_admin"]


class NewServiceClient(RequestModel):
    name: str = Field(min_length=1, max_length=100, description='e.g. "case management"')


class ServiceClient(BaseModel):
    client_id: str
    firm_id: str
    name: str
    created_at: str | None
    revoked_at: str | None
    client_secret: str | None = Field(default=None, description="Only in the creation response.")

    @classmethod
    def from_proto(cls, client: pb.ServiceClient, secret: str = "") -> ServiceClient:
        return cls(
            client_id=client.client_id,
            firm_id=client.firm_id,
            name=client.name,
            created_at=rfc3339(client, "created_at"),
            revoked_at=rfc3339(client, "revoked_at"),
            client_secret=secret or None,
        )


class ServiceClientPage(BaseModel):
    items: list[ServiceClient]
    next_cursor: str | None


class PendingExport(BaseModel):
    """A personal-data export being produced in the background: fetch `url` (yours alone) until it is ready,
    before `expires_at`."""

    id: str
    status: Literal["pending"]
    url: str
    expires_at: str
