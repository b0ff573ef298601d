"""What a client or a lawyer types into booking, sealed with its owner's data key (R-PRIV-1,
docs/privacy.md): a booking's address (an on-site meeting's: where the client is), needs, the cancellation
reason the client typed, the lawyer's meeting summary and, in its quality record, the lawyer's note and the
client's rating comment; a connect request's needs; a visit's attendees, findings and follow-ups. A
booking and a connect request belong to `owner_subject(the client's enterprise, the client)`, a visit to
the enterprise visited. Facts of the service (lawyer, times, mode, status, venue — the firm's own public
address —, checklist answers, rating) stay in clear, and so do the cancellation reasons the platform sets
itself (`SYSTEM_REASONS`).

The stores seal each value in the transaction that writes it; their methods return rows opened (plaintext)
once that transaction has ended, so an opened value is never flushed back. Values erasure redacted, and
all values of a subject whose key was destroyed, read as ERASED_TEXT."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.booking.models import BookingRow, ConnectRequestRow, VisitRow
from services.runtime import sealed_rows
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.keys import DataKeys, SubjectCipher, owner_subject, tenant_subject
from services.runtime.sealed_rows import SealedColumns, seal_in_batches, sealed_value

ADDRESS = "bookings.address"
NEEDS = "bookings.needs"
SUMMARY = "bookings.summary"
CANCEL_REASON = "bookings.cancel_reason"
QUALITY = "bookings.quality"  # .lawyer_note, .client_comment
CONNECT_NEEDS = "connect_requests.needs"
VISIT_FINDINGS = "visits.findings"
VISIT_ATTENDEES = "visits.attendees"
VISIT_FOLLOW_UPS = "visits.follow_ups"
# The quality record's free text; its checklists and rating are facts and stay in clear.
QUALITY_TEXTS = ("lawyer_note", "client_comment")
# Cancellation reasons the platform sets itself: facts, not the client's words (kept in clear and through
# erasure).
SYSTEM_REASONS = ("", "client_request", "cancelled", "hold_expired")


def booking_subject(row: BookingRow | ConnectRequestRow) -> str:
    """Whose data key seals what was typed into a booking or a connect request."""
    return owner_subject(row.tenant_id, row.client_id)


def visit_subject(row: VisitRow) -> str:
    """A visit is the enterprise's record (what a lawyer found there), sealed with its key."""
    return tenant_subject(row.tenant_id)


def sealed_reason(cipher: SubjectCipher, reason: str) -> str:
    return reason if reason in SYSTEM_REASONS else cipher.seal(CANCEL_REASON, reason)


def sealed_quality(cipher: SubjectCipher, quality: Mapping[str, Any]) -> dict[str, Any]:
    """`quality` with its free text sealed (what is sealed already stays as it is)."""
    return {
        name: sealed_value(cipher, f"{QUALITY}.{name}", value) if name in QUALITY_TEXTS else value
        for name, value in quality.items()
    }


async def open_bookings(keys: DataKeys, *rows: BookingRow | None) -> None:
    """Open `rows` in place (after their transaction: an opened value must never be flushed back)."""
    for row in rows:
        if row is None:
            continue
        cipher = await keys.cipher(booking_subject(row))
        row.address = opened(cipher, ADDRESS, row.address)
        row.needs = opened(cipher, NEEDS, row.needs)
        row.summary = opened(cipher, SUMMARY, row.summary)
        if row.cancel_reason not in SYSTEM_REASONS:
            row.cancel_reason = opened(cipher, CANCEL_REASON, row.cancel_reason)
        row.quality = {
            name: opened(cipher, f"{QUALITY}.{name}", value) if name in QUALITY_TEXTS else value
            for name, value in row.quality.items()
        }


async def open_connect_requests(keys: DataKeys, *rows: ConnectRequestRow) -> None:
    for row in rows:
        row.needs = opened(await keys.cipher(booking_subject(row)), CONNECT_NEEDS, row.needs)


def seal_visit(cipher: SubjectCipher, row: VisitRow) -> None:
    row.findings = sealed_value(cipher, VISIT_FINDINGS, row.findings)
    row.attendees = [sealed_value(cipher, VISIT_ATTENDEES, name) for name in row.attendees]
    row.follow_ups = [sealed_value(cipher, VISIT_FOLLOW_UPS, item) for item in row.follow_ups]


async def open_visits(keys: DataKeys, *rows: VisitRow) -> None:
    for row in rows:
        cipher = await keys.cipher(visit_subject(row))
        row.findings = opened(cipher, VISIT_FINDINGS, row.findings)
        row.attendees = [opened(cipher, VISIT_ATTENDEES, name) for name in row.attendees]
        row.follow_ups = [opened(cipher, VISIT_FOLLOW_UPS, item) for item in row.follow_ups]


# --- rows written before sealing -------------------------------------------------------------------------
_SEALED_COLUMNS = (
    SealedColumns(
        "bookings",
        {"address": ADDRESS, "needs": NEEDS, "summary": SUMMARY},
        "SELECT t.id, t.tenant_id, t.client_id, {columns} FROM bookings t WHERE {clear}",
    ),
    SealedColumns(
        "bookings",
        {"cancel_reason": CANCEL_REASON},
        "SELECT t.id, t.tenant_id, t.client_id, {columns} FROM bookings t WHERE {clear}",
        kept=SYSTEM_REASONS,
    ),
    SealedColumns(
        "connect_requests",
        {"needs": CONNECT_NEEDS},
        "SELECT t.id, t.tenant_id, t.client_id, {columns} FROM connect_requests t WHERE {clear}",
    ),
    SealedColumns(
        "visits",
        {"findings": VISIT_FINDINGS},
        "SELECT t.id, t.tenant_id, '' AS client_id, {columns} FROM visits t WHERE {clear}",
    ),
)
_CLEAR_TEXT = "({value} <> '' AND {value} <> :erased AND {value} NOT LIKE :sealed)"
_CLEAR_QUALITY = "SELECT t.id, t.tenant_id, t.client_id, t.quality FROM bookings t WHERE " + " OR ".join(
    _CLEAR_TEXT.format(value=f"coalesce(t.quality->>'{name}', '')") for name in QUALITY_TEXTS
)
_CLEAR_VISIT_LISTS = (
    "SELECT t.id, t.tenant_id, '' AS client_id, t.attendees, t.follow_ups FROM visits t WHERE EXISTS ("
    "SELECT 1 FROM jsonb_array_elements_text(t.attendees || t.follow_ups) item(value) WHERE "
    + _CLEAR_TEXT.format(value="item.value")
    + ")"
)


async def seal_clear_rows(db: Database, keys: DataKeys) -> int:
    """Seal every value still in clear (written before booking sealed them); returns how many rows changed
    (services/runtime/sealed_rows.py: at start, in batches, replicas sharing the work)."""
    changed = await sealed_rows.seal_clear_rows(db, keys, _SEALED_COLUMNS)
    changed += await seal_in_batches(db, keys, _CLEAR_QUALITY, {}, _seal_quality_row)
    return changed + await seal_in_batches(db, keys, _CLEAR_VISIT_LISTS, {}, _seal_visit_lists)


async def _seal_quality_row(conn: AsyncConnection, cipher: SubjectCipher, row: Mapping[str, Any]) -> None:
    await conn.execute(
        text("UPDATE bookings SET quality = CAST(:quality AS jsonb) WHERE id = :id"),
        {"id": row["id"], "quality": json.dumps(sealed_quality(cipher, row["quality"]), ensure_ascii=False)},
    )


async def _seal_visit_lists(conn: AsyncConnection, cipher: SubjectCipher, row: Mapping[str, Any]) -> None:
    await conn.execute(
        text(
            "UPDATE visits SET attendees = CAST(:attendees AS jsonb), follow_ups = CAST(:follow_ups AS jsonb) "
            "WHERE id = :id"
        ),
        {
            "id": row["id"],
            "attendees": json.dumps(
                [sealed_value(cipher, VISIT_ATTENDEES, name) for name in row["attendees"]], ensure_ascii=False
            ),
            "follow_ups": json.dumps(
                [sealed_value(cipher, VISIT_FOLLOW_UPS, item) for item in row["follow_ups"]],
                ensure_ascii=False,
            ),
        },
    )
