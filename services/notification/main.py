"""Entry point of the notification service."""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import product
from typing import TYPE_CHECKING, cast

from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceStub
from counsel.notification.v1 import notification_service_pb2, notification_service_pb2_grpc
from services.notification import events
from services.notification.channels import senders_for, unconfigured_channels
from services.notification.config import NotificationSettings
from services.notification.dev_outbox import DevOutbox
from services.notification.directory import IdentityDirectory
from services.notification.models import DATA_KEYS, TABLES
from services.notification.policy import OUTBOUND
from services.notification.server import NotificationServicer
from services.notification.store import NotificationStores
from services.notification.store.base import DELIVERIES, WATCHED_OUTCOMES
from services.notification.store.deliveries import Deliveries
from services.notification.store.sealed import ContactAddresses, seal_former_addresses
from services.notification.templates import templates
from services.runtime.config import Settings
from services.runtime.crypto import FieldCipher
from services.runtime.grpc_client import open_channel
from services.runtime.keys import DataKeys, master_key
from services.runtime.service import drain_forever, service_runtime

if TYPE_CHECKING:
    from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceAsyncStub

log = logging.getLogger(__name__)

SERVICE = "notification"
DISPATCH_INTERVAL_SECONDS = 1.0


async def dispatch_forever(deliveries: Deliveries, interval: float = DISPATCH_INTERVAL_SECONDS) -> None:
    """Release and send due e-mails and SMS. The clock is only read here; the rules take it as input."""

    async def dispatched() -> bool:
        report = await deliveries.dispatch_once()
        return bool(report.sent or report.retried or report.fell_back)

    await drain_forever(dispatched, interval, "notification dispatch")


async def serve(shared: Settings) -> None:
    settings = NotificationSettings.from_settings(shared)
    # Blind indexes of addresses, and the contact addresses sealed before data keys: fails fast without
    # COUNSEL_SECRET_KEY.
    cipher = FieldCipher(settings.secret_key)
    master = master_key(settings)  # fails fast without one: nothing personal is ever written in clear
    templates()  # a broken templates.toml fails here, at start
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        keys = DataKeys(rt.db, master, DATA_KEYS)
        await keys.check()
        await seal_former_addresses(rt.db, keys, cipher)
        dev_outbox = DevOutbox(rt.db, keys, cipher)
        senders = senders_for(settings, dev_outbox)  # an unknown or half-configured provider fails at start
        for channel, outcome in product(OUTBOUND, WATCHED_OUTCOMES):
            DELIVERIES.labels(channel.value, outcome)
        for channel in unconfigured_channels(senders):
            log.warning(
                "no %s provider is configured: login codes by %s fail with 503 and notifications fall back "
                "to the inbox (set %s)",
                channel.value,
                channel.value,
                "COUNSEL_SMTP_HOST" if channel.value == "email" else "COUNSEL_SMS_PROVIDER",
            )
        identity = cast(
            "IdentityInternalServiceAsyncStub",
            IdentityInternalServiceStub(
                open_channel(
                    settings.identity_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        stores = NotificationStores.build(
            rt.db,
            rt.outbox,
            ContactAddresses(keys, cipher),
            dev_outbox,
            senders,
            digest_window=timedelta(seconds=settings.notification_digest_seconds),
            # Groups' members and contact addresses come from identity.
            directory=IdentityDirectory(identity),
        )
        server = rt.grpc_server()
        server.add(
            NotificationServicer(stores, dev_outbox_enabled=settings.dev_routes),
            notification_service_pb2,
            notification_service_pb2_grpc,
        )
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                *rt.consumers(events.TABLE, events.HandlerContext(stores.fan_out, keys, dev_outbox)),
                dispatch_forever(stores.deliveries),
            ],
        )
