"""IdentityService over gRPC: proto in → domain/store → proto out. No SQL here."""

from __future__ import annotations

import json

import grpc

from counsel.identity.v1 import identity_service_pb2 as pb
from counsel.identity.v1.identity_service_pb2_grpc import IdentityServiceServicer
from services.identity import domain
from services.identity.store import IdentityStore, UserView
from services.runtime.context import current_principal
from services.runtime.records import to_timestamp


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
    )


class IdentityServicer(IdentityServiceServicer):
    def __init__(self, store: IdentityStore) -> None:
        self.store = store

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.LoginResponse:
        attempt = domain.validate_login(request.method, request.identifier, request.secret)
        view, issued = await self.store.login_password(attempt.identifier, attempt.secret)
        return pb.LoginResponse(
            user=user_proto(view),
            tokens=pb.TokenPair(
                access_token=issued.access_token,
                refresh_token=issued.refresh_token,
                expires_in=issued.expires_in,
            ),
        )

    async def GetJwks(
        self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(jwks_json=json.dumps(await self.store.jwks()))

    async def GetUser(
        self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetUserResponse:
        view = await self.store.get_user(current_principal(), request.user_id)
        return pb.GetUserResponse(user=user_proto(view))
