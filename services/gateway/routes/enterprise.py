"""Enterprise administration (client_admin); membership cards and service credentials (firm_admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Response, status

from counsel.common.v1 import paging_pb2
from counsel.identity.v1 import identity_service_pb2 as pb
from services.gateway.deps import ClientsDep, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.common import next_cursor
from services.gateway.schemas.identity import (
    CardPage,
    Enterprise,
    EnterpriseChange,
    Invited,
    InviteMember,
    IssueCard,
    MemberPage,
    MemberRole,
    MembershipCard,
    NewServiceClient,
    ServiceClient,
    ServiceClientPage,
    User,
)
from services.runtime.context import Principal

router = api_router("identity")

ClientAdmin = Annotated[Principal, Depends(require_roles("client_admin"))]
FirmAdmin = Annotated[Principal, Depends(require_roles("firm_admin"))]


@router.patch("/api/v1/enterprise", response_model=Enterprise)
async def update_enterprise(
    body: EnterpriseChange, principal: ClientAdmin, clients: ClientsDep
) -> Enterprise:
    """The client_admin sets the enterprise's industry: its editorial columns come first (§4.2.2)."""
    reply = await clients.identity.UpdateEnterprise(pb.UpdateEnterpriseRequest(industry=body.industry or ""))
    return Enterprise.from_proto(reply.enterprise)


@router.post("/api/v1/enterprise/members", response_model=Invited, status_code=status.HTTP_202_ACCEPTED)
async def invite_member(body: InviteMember, principal: ClientAdmin, clients: ClientsDep) -> Invited:
    """Invite a person into your enterprise by phone or e-mail; they join when they register or log in
    with a code. The answer does not say whether the person already has an account."""
    reply = await clients.identity.InviteMember(
        pb.InviteMemberRequest(phone=body.phone or "", email=body.email or "", role=body.role)
    )
    return Invited(role=reply.role)


@router.get("/api/v1/enterprise/members", response_model=MemberPage)
async def list_members(
    principal: ClientAdmin,
    clients: ClientsDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> MemberPage:
    """The members of your enterprise, newest first (invited ones included)."""
    reply = await clients.identity.ListMembers(
        pb.ListMembersRequest(page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return MemberPage(items=[User.from_proto(u) for u in reply.members], next_cursor=next_cursor(reply.page))


@router.put("/api/v1/enterprise/members/{user_id}/role", response_model=User)
async def set_member_role(
    user_id: Annotated[str, Path(max_length=64)],
    body: MemberRole,
    principal: ClientAdmin,
    clients: ClientsDep,
) -> User:
    """Make a member of your enterprise a client or a client_admin (audited). Another enterprise's user
    is 404."""
    reply = await clients.identity.SetMemberRole(pb.SetMemberRoleRequest(user_id=user_id, role=body.role))
    return User.from_proto(reply.user)


@router.delete("/api/v1/enterprise/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    user_id: Annotated[str, Path(max_length=64)], principal: ClientAdmin, clients: ClientsDep
) -> Response:
    """Remove a member from your enterprise (audited): they keep their account as an individual client, and
    their tokens as a member stop working; what they did for the enterprise stays the enterprise's. A pending invitation is
    withdrawn. Another enterprise's user is 404; removing yourself is 409."""
    await clients.identity.RemoveMember(pb.RemoveMemberRequest(user_id=user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/v1/membership-cards", response_model=MembershipCard, status_code=status.HTTP_201_CREATED)
async def issue_membership_card(
    body: IssueCard, principal: FirmAdmin, clients: ClientsDep, response: Response
) -> MembershipCard:
    """Issue an offline membership card of your firm with its PIN, to hand over offline. It is bound to
    nobody: its holder links it (`POST /api/v1/me/membership-card`, choosing their own PIN), and it logs
    nobody in before. Repeating the same number and PIN returns the card (200); a number issued otherwise
    is 409."""
    reply = await clients.identity.IssueMembershipCard(
        pb.IssueMembershipCardRequest(card_number=body.card_number, pin=body.pin)
    )
    if not reply.created:
        response.status_code = status.HTTP_200_OK
    return MembershipCard.from_proto(reply.card)


@router.get("/api/v1/membership-cards", response_model=CardPage)
async def list_membership_cards(
    principal: FirmAdmin,
    clients: ClientsDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> CardPage:
    """Your firm's cards, newest first: whether and when each was linked, never to whom."""
    reply = await clients.identity.ListMembershipCards(
        pb.ListMembershipCardsRequest(page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return CardPage(
        items=[MembershipCard.from_proto(c) for c in reply.cards], next_cursor=next_cursor(reply.page)
    )


@router.post("/api/v1/membership-cards/{card_id}/revoke", response_model=MembershipCard)
async def revoke_membership_card(
    card_id: Annotated[str, Path(max_length=64)], principal: FirmAdmin, clients: ClientsDep
) -> MembershipCard:
    """Revoke a card of your firm: it no longer logs in or links. Another firm's card is 404."""
    reply = await clients.identity.RevokeMembershipCard(pb.RevokeMembershipCardRequest(card_id=card_id))
    return MembershipCard.from_proto(reply.card)


@router.post(
    "/api/v1/firm/service-clients", response_model=ServiceClient, status_code=status.HTTP_201_CREATED
)
async def create_service_client(
    body: NewServiceClient, principal: FirmAdmin, clients: ClientsDep
) -> ServiceClient:
    """Credentials for a system of your own firm to call the gRPC API (IdentityService.IssueServiceToken);
    the secret is in this response only."""
    reply = await clients.identity.CreateServiceClient(pb.CreateServiceClientRequest(name=body.name))
    return ServiceClient.from_proto(reply.client, reply.client_secret)


@router.get("/api/v1/firm/service-clients", response_model=ServiceClientPage)
async def list_service_clients(
    principal: FirmAdmin,
    clients: ClientsDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ServiceClientPage:
    """Your firm's service credentials, newest first, revoked ones included; never a secret."""
    reply = await clients.identity.ListServiceClients(
        pb.ListServiceClientsRequest(page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return ServiceClientPage(
        items=[ServiceClient.from_proto(c) for c in reply.clients], next_cursor=next_cursor(reply.page)
    )


@router.post("/api/v1/firm/service-clients/{client_id}/revoke", response_model=ServiceClient)
async def revoke_service_client(
    client_id: Annotated[str, Path(max_length=64)], principal: FirmAdmin, clients: ClientsDep
) -> ServiceClient:
    reply = await clients.identity.RevokeServiceClient(pb.RevokeServiceClientRequest(client_id=client_id))
    return ServiceClient.from_proto(reply.client)
