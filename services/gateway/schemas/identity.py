"""Users and tokens as the public API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.identity.v1 import identity_service_pb2 as pb
from services.gateway.schemas.common import RequestModel, or_none


class LoginRequest(RequestModel):
    method: Literal["password", "otp", "membership_card"]
    identifier: str = Field(min_length=1, max_length=320, description="A phone, an e-mail or a card number.")
    secret: str = Field(min_length=1, max_length=1024, description="Password, one-time code or card PIN.")


class User(BaseModel):
    id: str
    display_name: str
    email: str | None
    phone: str | None
    tenant_id: str | None = Field(description="The client enterprise; null for staff.")
    roles: list[str]

    @classmethod
    def from_proto(cls, user: pb.User) -> User:
        return cls(
            id=user.id,
            display_name=user.display_name,
            email=or_none(user.email),
            phone=or_none(user.phone),
            tenant_id=or_none(user.tenant_id),
            roles=list(user.roles),
        )


class LoginResponse(BaseModel):
    user: User
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds until the access token expires.")
    token_type: Literal["Bearer"] = "Bearer"

    @classmethod
    def from_proto(cls, reply: pb.LoginResponse) -> LoginResponse:
        return cls(
            user=User.from_proto(reply.user),
            access_token=reply.tokens.access_token,
            refresh_token=reply.tokens.refresh_token,
            expires_in=reply.tokens.expires_in,
        )
