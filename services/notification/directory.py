"""Who is in a group and how to reach a person, from identity (the owner of accounts and their contact
addresses): the members of a role (an enterprise's admins, the agents, the supervisors) for messages to a
group, and a user's e-mail address and phone for e-mail and SMS when the user set none in their
notification preferences. Calls carry no user token: identity answers internal callers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import grpc

from counsel.identity.v1 import identity_service_pb2 as pb
from services.notification.policy import Channel

if TYPE_CHECKING:
    from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceAsyncStub

# Roles whose members belong to one enterprise: a group of them is looked up within the event's tenant.
ENTERPRISE_ROLES = ("client", "client_admin")


@dataclass(frozen=True)
class Contact:
    user_id: str
    email: str = ""
    phone: str = ""

    def address(self, channel: Channel) -> str:
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.SMS:
            return self.phone
        return ""


class Directory(Protocol):
    async def members(self, role: str, tenant_id: str) -> list[Contact]: ...

    async def contact(self, user_id: str) -> Contact | None: ...


class IdentityDirectory:
    def __init__(self, identity: IdentityInternalServiceAsyncStub) -> None:
        self.identity = identity

    async def members(self, role: str, tenant_id: str) -> list[Contact]:
        """The group's members; an enterprise role within `tenant_id`, a staff role among staff."""
        reply = await self.identity.ListUsersByRole(
            pb.ListUsersByRoleRequest(role=role, tenant_id=tenant_id if role in ENTERPRISE_ROLES else "")
        )
        return [Contact(u.id, u.email, u.phone) for u in reply.users]

    async def contact(self, user_id: str) -> Contact | None:
        """The user's addresses as identity knows them; None for an unknown (or erased) user."""
        try:
            reply = await self.identity.GetUser(pb.GetUserRequest(user_id=user_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return Contact(reply.user.id, reply.user.email, reply.user.phone)
