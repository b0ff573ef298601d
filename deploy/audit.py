"""`counsel audit verify`: walk every service's staff access log (services/runtime/access_log.py) and check
its signed anchors. One line per service; exit code 1 naming the first broken record when any chain is
broken."""

from __future__ import annotations

import importlib

from services.runtime.access_log import StaffReads, verify
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.db import Database


def audited_services() -> dict[str, StaffReads]:
    """The services that keep a staff access log, by name."""
    found = {}
    for service in SERVICE_NAMES:
        staff_reads = getattr(importlib.import_module(f"services.{service}.models"), "STAFF_READS", None)
        if staff_reads is not None:
            found[service] = staff_reads
    return found


async def verify_all(settings: Settings) -> int:
    """Prints each service's chain check; 0 when every chain and anchor holds, 1 otherwise."""
    broken = False
    for service, staff_reads in audited_services().items():
        db = Database(settings.database_dsn(service), pool_size=1)
        try:
            async with db.transaction() as session:
                report = await verify(session, staff_reads.tables, settings.secret_key)
        finally:
            await db.close()
        if report.intact:
            print(f"{service}: staff access log intact: {report.records} records, {report.anchors} anchors")
        else:
            broken = True
            print(f"{service}: staff access log BROKEN: {report.problem}")
    return 1 if broken else 0
