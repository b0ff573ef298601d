"""IdentityService over gRPC: proto in → domain/store → proto out. No SQL here."""

from __future__ import annotations

import json
from datetime import timedelta

import grpc

from counsel.common.v1 import paging_pb2
from counsel.identity.v1 import identity_service_pb2 as pb
from counsel.identity.v1.identity_service_pb2_grpc import (
    IdentityInternalServiceServicer,
    IdentityServiceServicer,
)
from services.identity import domain, tokens
from services.identity.delivery import MessageSender
from services.identity.models import ActivityRow, EnterpriseRow, MembershipCardRow, ServiceClientRow
from services.identity.oidc import SIGN_IN_FAILED, OidcClients
from services.identity.social import LoginProviders
from services.identity.store import IdentityStores
from services.identity.store.base import UserView
from services.runtime.context import current_principal
from services.runtime.errors import InvalidArgument, Unauthenticated
from services.runtime.records import page_size, to_timestamp


def enterprise_proto(row: EnterpriseRow) -> pb.Enterprise:
    return pb.Enterprise(id=row.id, name=row.name, industry=row.industry)


def user_proto(view: UserView) -> pb.User:
    row = view.row
    return pb.User(
        id=row.id,
        display_name=row.display_name,
        email=view.email,
        phone=view.phone,
        tenant_id=row.tenant_id,
        roles=list(row.roles),
        created_at=to_timestamp(row.created_at),
        firm_id=row.firm_id,
    )


def card_proto(row: MembershipCardRow, *, holder: bool) -> pb.MembershipCard:
    """A card as its holder (`holder=True`: whose account it is) or its issuing firm (only when it was
    linked, never to whom) sees it."""
    return pb.MembershipCard(
        id=row.id,
        last4=row.last4,
        status=row.status,
        user_id=(row.user_id or "") if holder else "",
        created_at=to_timestamp(row.created_at),
        revoked_at=to_timestamp(row.revoked_at),
        firm_id=row.firm_id,
        linked_at=to_timestamp(row.linked_at),
    )


def activity_proto(row: ActivityRow) -> pb.Activity:
    return pb.Activity(
        id=row.id,
        kind=row.kind,
        source=row.source,
        subject_id=row.subject_id,
        occurred_at=to_timestamp(row.created_at),
        detail={str(k): str(v) for k, v in row.detail.items()},
    )


def service_client_proto(row: ServiceClientRow) -> pb.ServiceClient:
    return pb.ServiceClient(
        client_id=row.client_id,
        firm_id=row.firm_id,
        name=row.name,
        created_at=to_timestamp(row.created_at),
        revoked_at=to_timestamp(row.revoked_at),
    )


def token_pair(issued: tokens.IssuedTokens) -> pb.TokenPair:
    return pb.TokenPair(
        access_token=issued.access_token, refresh_token=issued.refresh_token, expires_in=issued.expires_in
    )


class IdentityServicer(IdentityServiceServicer, IdentityInternalServiceServicer):
    def __init__(
        self, stores: IdentityStores, sender: MessageSender, logins: LoginProviders | None = None
    ) -> None:
        self.stores = stores
        self.sender = sender
        self.logins = logins or LoginProviders(OidcClients({}))

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.LoginResponse:
        attempt = domain.validate_login(request.method, request.identifier, request.secret)
        signed = await self.stores.logins.login(attempt, request.client_ip, request.privacy_policy_version)
        return pb.LoginResponse(user=user_proto(signed.user), tokens=token_pair(signed.tokens))

    async def GetJwks(
        self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(jwks_json=json.dumps(await self.stores.keys.jwks()))

    async def ListTokenRevocations(
        self, request: pb.ListTokenRevocationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTokenRevocationsResponse:
        rows = await self.stores.sessions.token_revocations(max(request.after_id, 0))
        return pb.ListTokenRevocationsResponse(
            revocations=[
                pb.TokenRevocation(
                    id=row.id or 0,
                    user_id=row.user_id,
                    session_id=row.session_id,
                    revoked_before=to_timestamp(row.revoked_before),
                    erased=row.erased,
                )
                for row in rows
            ]
        )

    async def RotateSigningKey(
        self, request: pb.RotateSigningKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateSigningKeyResponse:
        min_age = timedelta(seconds=max(0, min(request.min_age_seconds, 10 * 365 * 86400)))
        rotation = await self.stores.keys.rotate(min_age)
        return pb.RotateSigningKeyResponse(kid=rotation.kid, signs_from=to_timestamp(rotation.signs_from))

    async def GetUser(
        self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetUserResponse:
        view = await self.stores.accounts.get_user(current_principal(), request.user_id)
        return pb.GetUserResponse(user=user_proto(view))

    async def RequestOtp(
        self, request: pb.RequestOtpRequest, context: grpc.aio.ServicerContext
    ) -> pb.RequestOtpResponse:
        issued = await self.stores.codes.issue(request.channel, request.destination, request.client_ip)
        message = domain.otp_message(issued.code)
        await self.sender.send(
            issued.kind,
            issued.destination,
            message.subject,
            message.body,
            template="otp",
            params=message.params,
        )
        return pb.RequestOtpResponse(expires_in=int(domain.OTP_TTL.total_seconds()))

    async def Register(
        self, request: pb.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterResponse:
        registration = domain.validate_registration(
            request.phone,
            request.email,
            request.code,
            request.password,
            request.display_name,
            request.enterprise_name,
            request.privacy_policy_version,
            request.marketing_consent,
        )
        signed = await self.stores.logins.register(registration, request.client_ip)
        return pb.RegisterResponse(user=user_proto(signed.user), tokens=token_pair(signed.tokens))

    async def Refresh(
        self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefreshResponse:
        signed = await self.stores.sessions.refresh(request.refresh_token)
        return pb.RefreshResponse(user=user_proto(signed.user), tokens=token_pair(signed.tokens))

    async def Logout(self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext) -> pb.LogoutResponse:
        await self.stores.sessions.logout(current_principal(), request.refresh_token)
        return pb.LogoutResponse()

    async def GetMe(self, request: pb.GetMeRequest, context: grpc.aio.ServicerContext) -> pb.GetMeResponse:
        profile = await self.stores.accounts.profile(current_principal())
        reply = pb.GetMeResponse(
            user=user_proto(profile.user),
            login_methods=pb.LoginMethods(
                password=bool(profile.user.row.password_hash),
                phone=profile.user.phone,
                email=profile.user.email,
                membership_cards=[card_proto(card, holder=True) for card in profile.cards],
            ),
        )
        if profile.enterprise is not None:
            reply.enterprise.CopyFrom(enterprise_proto(profile.enterprise))
        return reply

    async def UpdateEnterprise(
        self, request: pb.UpdateEnterpriseRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateEnterpriseResponse:
        industry = domain.validate_industry(request.industry)
        row = await self.stores.enterprises.set_industry(current_principal(), industry)
        return pb.UpdateEnterpriseResponse(enterprise=enterprise_proto(row))

    async def UpdateMe(
        self, request: pb.UpdateMeRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateMeResponse:
        change = domain.validate_profile_change(
            request.display_name,
            request.phone,
            request.email,
            request.code,
            request.password,
            request.current_password,
        )
        view = await self.stores.accounts.update_me(current_principal(), change)
        return pb.UpdateMeResponse(user=user_proto(view))

    async def IssueMembershipCard(
        self, request: pb.IssueMembershipCardRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueMembershipCardResponse:
        issued = await self.stores.cards.issue(current_principal(), request.card_number, request.pin)
        return pb.IssueMembershipCardResponse(
            card=card_proto(issued.card, holder=False), created=issued.created
        )

    async def ListMembershipCards(
        self, request: pb.ListMembershipCardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMembershipCardsResponse:
        cards, next_cursor = await self.stores.cards.firm_cards(
            current_principal(), page_size(request.page.limit), request.page.cursor
        )
        return pb.ListMembershipCardsResponse(
            cards=[card_proto(card, holder=False) for card in cards],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def RevokeMembershipCard(
        self, request: pb.RevokeMembershipCardRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeMembershipCardResponse:
        card = await self.stores.cards.revoke(current_principal(), request.card_id)
        return pb.RevokeMembershipCardResponse(card=card_proto(card, holder=False))

    async def LinkMembershipCard(
        self, request: pb.LinkMembershipCardRequest, context: grpc.aio.ServicerContext
    ) -> pb.LinkMembershipCardResponse:
        linked = await self.stores.cards.link(
            current_principal(), request.card_number, request.pin, request.new_pin, request.client_ip
        )
        return pb.LinkMembershipCardResponse(
            card=card_proto(linked.card, holder=True), new_pin=linked.generated_pin
        )

    async def InviteMember(
        self, request: pb.InviteMemberRequest, context: grpc.aio.ServicerContext
    ) -> pb.InviteMemberResponse:
        invitation = domain.validate_invitation(request.phone, request.email, request.role)
        to_send = await self.stores.enterprises.invite_member(current_principal(), invitation)
        if to_send is not None:
            await self._send_invitation(
                to_send.kind, to_send.destination, to_send.enterprise_name, invitation.role
            )
        return pb.InviteMemberResponse(role=invitation.role)

    async def _send_invitation(self, kind: str, destination: str, inviter_name: str, role: str) -> None:
        message = domain.invitation_message(inviter_name, role)
        await self.sender.send(
            kind, destination, message.subject, message.body, template="invitation", params=message.params
        )

    async def InviteFirmAdmin(
        self, request: pb.InviteFirmAdminRequest, context: grpc.aio.ServicerContext
    ) -> pb.InviteFirmAdminResponse:
        principal = current_principal()
        invitation = domain.validate_firm_admin_invitation(principal, request.phone, request.email)
        if not request.firm_id or len(request.firm_id) > 64:
            raise InvalidArgument.for_field("firm_id", "is required, at most 64 characters")
        assert principal is not None
        user_id = await self.stores.firm_admins.invite(principal, request.firm_id, invitation)
        await self._send_invitation(
            invitation.kind, invitation.identifier, request.firm_name, invitation.role
        )
        return pb.InviteFirmAdminResponse(user_id=user_id)

    async def ExportMyData(
        self, request: pb.ExportMyDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportMyDataResponse:
        export = await self.stores.privacy.export(current_principal())
        return pb.ExportMyDataResponse(export_json=json.dumps(export, ensure_ascii=False))

    async def StartOidcLogin(
        self, request: pb.StartOidcLoginRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartOidcLoginResponse:
        start = await self.logins.start(request.provider, request.redirect_uri)
        principal = current_principal()  # signed in: the social account is linked to this account
        await self.stores.oidc.save_state(
            request.provider,
            start.state,
            start.nonce,
            start.code_verifier,
            request.redirect_uri,
            principal.user_id if principal else "",
            request.privacy_policy_version,
        )
        return pb.StartOidcLoginResponse(authorization_url=start.url)

    async def FinishOidcLogin(
        self, request: pb.FinishOidcLoginRequest, context: grpc.aio.ServicerContext
    ) -> pb.FinishOidcLoginResponse:
        self.logins.provider(request.provider)  # NotFound for an unknown provider
        # The state is spent first, whatever follows: a callback can be tried once.
        state = await self.stores.oidc.take_state(request.provider, request.state)
        if request.error or not request.code:
            raise Unauthenticated(SIGN_IN_FAILED, reason="oidc_denied")
        identity = await self.logins.finish(
            request.provider, state.redirect_uri, request.code, state.code_verifier, state.nonce
        )
        signed = await self.stores.oidc.login(
            request.provider,
            identity.subject,
            identity.email,
            identity.name,
            request.client_ip,
            state.link_user_id,
            state.privacy_policy_version,
        )
        return pb.FinishOidcLoginResponse(user=user_proto(signed.user), tokens=token_pair(signed.tokens))

    async def ListMyActivity(
        self, request: pb.ListMyActivityRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMyActivityResponse:
        rows, next_cursor = await self.stores.privacy.activity(
            current_principal(), page_size(request.page.limit), request.page.cursor
        )
        return pb.ListMyActivityResponse(
            activities=[activity_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def ListUserActivity(
        self, request: pb.ListUserActivityRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListUserActivityResponse:
        rows, next_cursor = await self.stores.privacy.user_activity(
            current_principal(), request.user_id, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListUserActivityResponse(
            activities=[activity_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def EraseMe(
        self, request: pb.EraseMeRequest, context: grpc.aio.ServicerContext
    ) -> pb.EraseMeResponse:
        return pb.EraseMeResponse(
            erased_at=to_timestamp(await self.stores.privacy.erase(current_principal()))
        )

    async def ListMembers(
        self, request: pb.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMembersResponse:
        views, next_cursor = await self.stores.enterprises.members(
            current_principal(), page_size(request.page.limit), request.page.cursor
        )
        return pb.ListMembersResponse(
            members=[user_proto(view) for view in views],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def ListUsersByRole(
        self, request: pb.ListUsersByRoleRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListUsersByRoleResponse:
        views = await self.stores.enterprises.users_by_role(
            current_principal(), request.role, request.tenant_id
        )
        return pb.ListUsersByRoleResponse(users=[user_proto(view) for view in views])

    async def GetEnterprise(
        self, request: pb.GetEnterpriseRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEnterpriseResponse:
        row = await self.stores.enterprises.get(current_principal(), request.enterprise_id)
        return pb.GetEnterpriseResponse(enterprise=pb.Enterprise(id=row.id, name=row.name))

    async def SetMemberRole(
        self, request: pb.SetMemberRoleRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetMemberRoleResponse:
        view = await self.stores.enterprises.set_member_role(
            current_principal(), request.user_id, request.role
        )
        return pb.SetMemberRoleResponse(user=user_proto(view))

    async def CreateServiceClient(
        self, request: pb.CreateServiceClientRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateServiceClientResponse:
        created = await self.stores.service_clients.create(current_principal(), request.name)
        return pb.CreateServiceClientResponse(
            client=service_client_proto(created.client), client_secret=created.secret
        )

    async def RevokeServiceClient(
        self, request: pb.RevokeServiceClientRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeServiceClientResponse:
        row = await self.stores.service_clients.revoke(current_principal(), request.client_id)
        return pb.RevokeServiceClientResponse(client=service_client_proto(row))

    async def ListServiceClients(
        self, request: pb.ListServiceClientsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListServiceClientsResponse:
        rows, next_cursor = await self.stores.service_clients.firm_clients(
            current_principal(), page_size(request.page.limit), request.page.cursor
        )
        return pb.ListServiceClientsResponse(
            clients=[service_client_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def RemoveMember(
        self, request: pb.RemoveMemberRequest, context: grpc.aio.ServicerContext
    ) -> pb.RemoveMemberResponse:
        await self.stores.enterprises.remove_member(current_principal(), request.user_id)
        return pb.RemoveMemberResponse()

    async def IssueServiceToken(
        self, request: pb.IssueServiceTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueServiceTokenResponse:
        issued = await self.stores.service_clients.issue_token(request.client_id, request.client_secret)
        return pb.IssueServiceTokenResponse(
            access_token=issued.access_token, expires_in=issued.expires_in, firm_id=issued.firm_id
        )
