"""`counsel audit verify`: walk every service's staff access log (services/runtime/access_log.py), check its
signed anchors, and check both against the anchors each service published to the event stream
(`<service>.access_log.anchored`, read from JetStream: the copy outside the database). One line per service;
exit code 1 naming the service and the first broken record or anchor when any chain is broken."""

from __future__ import annotations

import importlib

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from counsel.common.v1.access_log_pb2 import AccessLogAnchored
from counsel.common.v1.event_pb2 import EventEnvelope
from services.runtime.access_log import Anchor, StaffReads, published_anchor, verify
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.db import Database
from services.runtime.events import connect_nats, unpack

# JetStream's error code for "no message found" (past the last one on the subject), as opposed to a missing
# stream, which fails the audit.
NO_MESSAGE = 10037


def audited_services() -> dict[str, StaffReads]:
    """The services that keep a staff access log, by name."""
    found = {}
    for service in SERVICE_NAMES:
        staff_reads = getattr(importlib.import_module(f"services.{service}.models"), "STAFF_READS", None)
        if staff_reads is not None:
            found[service] = staff_reads
    return found


async def published_anchors(js: JetStreamContext, stream: str, subject: str) -> list[Anchor]:
    """Every anchor the stream still holds on `subject`, oldest first, read message by message (direct
    gets: no consumer is made). Anchors older than the stream's max age (30 days) have aged out."""
    anchors: list[Anchor] = []
    seq = 1
    while True:
        try:
            message = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError as exc:
            if exc.err_code != NO_MESSAGE:  # the stream itself is missing: nothing to check against
                raise
            return anchors
        envelope = EventEnvelope.FromString(message.data or b"")
        anchors.append(published_anchor(unpack(envelope, AccessLogAnchored)))
        seq = (message.seq or seq) + 1


async def verify_all(settings: Settings) -> int:
    """Prints each service's chain check; 0 when every chain and anchor holds, 1 otherwise."""
    broken = False
    nc = await connect_nats(settings, "counsel-audit")
    try:
        js = nc.jetstream(timeout=10)
        for service, staff_reads in audited_services().items():
            subject = f"{settings.subject_root}.{service}.access_log.anchored"
            published = await published_anchors(js, settings.nats_stream, subject)
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
