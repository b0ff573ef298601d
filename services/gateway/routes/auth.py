"""Login, the public keys, and the caller's profile."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from counsel.identity.v1 import identity_service_pb2 as pb
from services.gateway.deps import ClientsDep, CurrentPrincipal
from services.gateway.schemas.identity import LoginRequest, LoginResponse, User

router = APIRouter(tags=["identity"])


@router.post("/api/v1/auth/login", response_model=LoginResponse)
async def login(body: LoginRequest, clients: ClientsDep) -> LoginResponse:
    """Exchange one credential for a token pair. Wrong credentials are 401."""
    reply = await clients.identity.Login(
        pb.LoginRequest(method=body.method, identifier=body.identifier, secret=body.secret)
    )
    return LoginResponse.from_proto(reply)


@router.get("/.well-known/jwks.json", response_model=dict[str, Any])
async def jwks(clients: ClientsDep) -> JSONResponse:
    """The public keys (RFC 7517) that verify access tokens."""
    reply = await clients.identity.GetJwks(pb.GetJwksRequest())
    return JSONResponse(json.loads(reply.jwks_json), headers={"Cache-Control": "public, max-age=300"})


@router.get("/api/v1/me", response_model=User)
async def me(principal: CurrentPrincipal, clients: ClientsDep) -> User:
    reply = await clients.identity.GetUser(pb.GetUserRequest(user_id=principal.user_id))
    return User.from_proto(reply.user)
