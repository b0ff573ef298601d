"""Entry point of the identity service; importable so tests run the real server in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from counsel.identity.v1 import identity_service_pb2, identity_service_pb2_grpc
from counsel.notification.v1.notification_service_pb2_grpc import NotificationInternalServiceStub
from services.identity import domain, events
from services.identity.config import IdentitySettings
from services.identity.delivery import NotificationSender
from services.identity.models import DATA_KEYS, TABLES
from services.identity.oidc import OidcClients, parse_providers
from services.identity.server import IdentityServicer
from services.identity.social import LoginProviders
from services.identity.store import IdentityStores
from services.identity.store.keys import SigningKeys
from services.identity.store.sealed import seal_former_values
from services.identity.store.sessions import Sessions
from services.identity.wechat import WeChatLogin
from services.runtime.auth import Revocation
from services.runtime.config import Settings
from services.runtime.crypto import FieldCipher
from services.runtime.grpc_client import open_channel
from services.runtime.keys import DataKeys, master_key
from services.runtime.service import service_runtime

if TYPE_CHECKING:
    from counsel.notification.v1.notification_service_pb2_grpc import NotificationInternalServiceAsyncStub

SERVICE = "identity"


class LocalJwks:
    """Identity verifies callers' tokens with its own keys, read from its own database: no gRPC to itself.
    The keys' store is attached once the runtime (and so the database) exists."""

    def __init__(self) -> None:
        self.keys: SigningKeys | None = None

    async def __call__(self) -> dict[str, Any]:
        if self.keys is None:
            raise RuntimeError("the identity store is not ready yet")
        return await self.keys.jwks()


class LocalRevocations:
    """Identity's own revocations, for identity's own token checks (the others ask over gRPC)."""

    def __init__(self) -> None:
        self.sessions: Sessions | None = None

    async def __call__(self, after_id: int) -> list[Revocation]:
        if self.sessions is None:
            return []
        return [
            Revocation(row.id or 0, row.user_id, row.session_id, row.revoked_before.timestamp(), row.erased)
            for row in await self.sessions.token_revocations(after_id)
        ]


async def serve(shared: Settings, policy: domain.AuthPolicy | None = None) -> None:
    """Run identity until stopped. `policy` narrows the code and lockout limits (tests)."""
    settings = IdentitySettings.from_settings(shared)
    # Blind indexes and the service's own secrets: fails fast, before anything starts, when
    # COUNSEL_SECRET_KEY is missing or too short.
    cipher = FieldCipher(settings.secret_key)
    app = settings.wechat_app()
    oidc = OidcClients(parse_providers(settings.oidc_providers))
    logins = LoginProviders(oidc, WeChatLogin(app) if app else None)
    jwks, revocations = LocalJwks(), LocalRevocations()
    async with (
        service_runtime(settings, SERVICE, TABLES, jwks=jwks, revocations=revocations) as rt,
        open_channel(
            settings.notification_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
        ) as channel,
    ):
        # service_runtime has refused to start without a master key: nothing personal is written in clear.
        data_keys = DataKeys(rt.db, master_key(settings), DATA_KEYS)
        await data_keys.check()
        await seal_former_values(rt.db, data_keys, cipher)
        stores = IdentityStores.build(rt.db, rt.outbox, cipher, data_keys, settings, policy=policy)
        jwks.keys, revocations.sessions = stores.keys, stores.sessions
        await stores.keys.ensure()
        notification = cast("NotificationInternalServiceAsyncStub", NotificationInternalServiceStub(channel))
        server = rt.grpc_server()
        server.add(
            IdentityServicer(stores, NotificationSender(notification), logins),
            identity_service_pb2,
            identity_service_pb2_grpc,
        )
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                *rt.consumers(events.TABLE, stores.privacy),
                stores.retention.purge_forever(),
            ],
        )
