"""`counsel audit verify`: walk every service's staff access log (services/runtime/access_log.py), check its
signed anchors, and check both against the anchors each service published to the event stream
(`<service>.access_log.anchored`, read from JetStream: the copy outside the database). One line per service;
exit code 1 naming the service and the first broken record or anchor when any chain is broken."""

from __future__ import annotations

import contextlib
import importlib

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from counsel.common.v1.access_log_pb2 import AccessLogAnchored
from counsel.common.v1.event_pb2 import EventEnvelope
from deploy.nats_auth import AUDIT, AUDIT_CONSUMER_IDLE, audit_consumer
from services.runtime.access_log import Anchor, StaffReads, published_anchor, verify
from services.runtime.config import SERVICE_NAMES, Settings, SettingsError
from services.runtime.db import Database
from services.runtime.events import connect_nats, unpack


def audited_services() -> dict[str, StaffReads]:
    """The services that keep a staff access log, by name."""
    found = {}
    for service in SERVICE_NAMES:
        staff_reads = getattr(importlib.import_module(f"services.{service}.models"), "STAFF_READS", None)
        if staff_reads is not None:
            found[service] = staff_reads
    return found


async def published_anchors(js: JetStreamContext, stream: str, service: str, subject: str) -> list[Anchor]:
    """Every anchor the stream still holds on `subject`, oldest first, read through a consumer of that subject
    alone (`audit-<service>`, deleted when read): the only reads the `audit` NATS user is granted
    (deploy/nats_auth.py). Anchors older than the stream's max age (30 days) have aged out. A missing stream
    raises: there is nothing to check against."""
    consumer = audit_consumer(service)
    with contextlib.suppress(NotFoundError):  # left by a run that stopped before deleting it
        await js.delete_consumer(stream, consumer)
    info = await js.add_consumer(
        stream,
        ConsumerConfig(
            name=consumer,
            filter_subject=subject,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            mem_storage=True,
            inactive_threshold=AUDIT_CONSUMER_IDLE,
        ),
    )
    published = info.num_pending or 0
    anchors: list[Anchor] = []
    try:
        subscription = await js.pull_subscribe_bind(durable=consumer, stream=stream)
        while len(anchors) < published:
            for message in await subscription.fetch(batch=published - len(anchors), timeout=10):
                anchors.append(
                    published_anchor(unpack(EventEnvelope.FromString(message.data), AccessLogAnchored))
                )
        await subscription.unsubscribe()
    finally:
        await js.delete_consumer(stream, consumer)
    return anchors


async def verify_all(settings: Settings) -> int:
    """Prints each service's chain check; 0 when every chain and anchor holds, 1 otherwise."""
    if settings.nats_user not in ("", AUDIT):
        raise SettingsError(
            f"counsel audit verify connects as the {AUDIT} NATS user (COUNSEL_NATS_USER={AUDIT}), "
            f"not {settings.nats_user}"
        )
    broken = False
    nc = await connect_nats(settings, "counsel-audit")
    try:
        js = nc.jetstream(timeout=10)
        for service, staff_reads in audited_services().items():
            subject = f"{settings.subject_root}.{service}.access_log.anchored"
            published = await published_anchors(js, settings.nats_stream, service, subject)
            db = Database(settings.database_dsn(service), pool_size=1)
            try:
                async with db.transaction() as session:
                    report = await verify(session, staff_reads.tables, settings.secret_key, published)
            finally:
                await db.close()
            if report.intact:
                print(
                    f"{service}: staff access log intact: {report.records} records, {report.anchors} anchors, "
                    f"{len(published)} published"
                )
            else:
                broken = True
                print(f"{service}: staff access log BROKEN: {report.problem}")
    finally:
        await nc.close()
    return 1 if broken else 0
