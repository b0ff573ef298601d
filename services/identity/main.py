"""Entry point of the identity service; importable so tests run the real server in-process."""

from __future__ import annotations

from typing import Any

from counsel.identity.v1 import identity_service_pb2
from counsel.identity.v1.identity_service_pb2_grpc import add_IdentityServiceServicer_to_server
from services.identity.models import TABLES
from services.identity.server import IdentityServicer
from services.identity.store import IdentityStore
from services.runtime.config import Settings
from services.runtime.crypto import FieldCipher
from services.runtime.service import service_runtime

SERVICE = "identity"
FULL_NAME = identity_service_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name


class LocalJwks:
    """Identity verifies callers' tokens with its own keys, read from its own database: no gRPC to itself.
    The store is attached once the runtime (and so the database) exists."""

    def __init__(self) -> None:
        self.store: IdentityStore | None = None

    async def __call__(self) -> dict[str, Any]:
        if self.store is None:
            raise RuntimeError("the identity store is not ready yet")
        return await self.store.jwks()


async def serve(settings: Settings) -> None:
    # Fails fast, before anything starts, when COUNSEL_SECRET_KEY is missing or too short.
    cipher = FieldCipher(settings.secret_key)
    jwks = LocalJwks()
    async with service_runtime(settings, SERVICE, TABLES, jwks=jwks) as rt:
        store = IdentityStore(rt.db, rt.outbox, cipher, settings)
        jwks.store = store
        await store.ensure_signing_key()
        server = rt.grpc_server()
        server.add(add_IdentityServiceServicer_to_server, IdentityServicer(store), FULL_NAME)
        await rt.run(server, background=[rt.outbox_relay()])
