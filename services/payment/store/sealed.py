"""What a client typed into an order, sealed with the owner's data key (R-PRIV-1, docs/privacy.md): the
requirement answers and the booking details that are not facts of the service (an address, needs, contacts)
— each value as JSON under `orders.requirements.<name>` / `orders.booking.<name>`, the names readable — and
the invoice title and tax id. Amounts, the ledger and the issued invoices stay in clear: accounting
records the law keeps (docs/erasure.md).

The API never shows these fields; the order's workflow receives them opened (`OrderWorkflowLink`), the
invoice is issued from them opened. Values erasure redacted, and all values of a subject whose key was
destroyed, read as ERASED_TEXT."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text

from services.payment.models import OrderRow
from services.runtime.db import Database
from services.runtime.erasure import ERASED_TEXT
from services.runtime.keys import SEALED_PREFIX, DataKeys, SubjectCipher, owner_subject

REQUIREMENTS = "orders.requirements"
BOOKING = "orders.booking"
INVOICE_TITLE = "orders.invoice_title"
INVOICE_TAX_ID = "orders.invoice_tax_id"
# Booking details that are facts of the service, not of the person: kept in clear (and through erasure).
BOOKING_FACTS = ("lawyer_id", "firm_id", "start", "minutes", "mode", "slot_id")


def order_subject(row: OrderRow) -> str:
    """Whose data key seals what the client typed into an order."""
    return owner_subject(row.tenant_id, row.client_id)


def seal_answers(
    cipher: SubjectCipher, field: str, answers: Mapping[str, Any], keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`answers` with each value (but those named in `keep`) sealed as JSON, bound to its name."""
    return {
        name: value if name in keep or _sealed(value) else cipher.seal(f"{field}.{name}", _json(value))
        for name, value in answers.items()
    }


def open_answers(
    cipher: SubjectCipher, field: str, answers: Mapping[str, Any], keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What `seal_answers` sealed, in plaintext."""
    return {
        name: value
        if name in keep or value == ERASED_TEXT
        else json.loads(cipher.open_or(f"{field}.{name}", value, _json(ERASED_TEXT)))
        for name, value in answers.items()
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sealed(value: Any) -> bool:
    return isinstance(value, str) and (value == ERASED_TEXT or value.startswith(SEALED_PREFIX))


# --- rows written before sealing -------------------------------------------------------------------------
_BATCH = 500
_CLEAR_ANSWER = (
    "jsonb_typeof({answer}.value) <> 'string' OR ({answer}.value #>> '{{}}' <> :erased "
    "AND {answer}.value #>> '{{}}' NOT LIKE :sealed)"
)
_CLEAR_ORDERS = (
    "SELECT id, tenant_id, client_id, requirements, booking, invoice_title, invoice_tax_id FROM orders o WHERE "
    f"EXISTS (SELECT 1 FROM jsonb_each(o.requirements) r WHERE {_CLEAR_ANSWER.format(answer='r')}) "
    f"OR EXISTS (SELECT 1 FROM jsonb_each(o.booking) b WHERE b.key <> ALL(:facts) "
    f"AND ({_CLEAR_ANSWER.format(answer='b')})) "
    "OR (o.invoice_title <> '' AND o.invoice_title NOT LIKE :sealed) "
    "OR (o.invoice_tax_id <> '' AND o.invoice_tax_id NOT LIKE :sealed) "
    f"LIMIT {_BATCH} FOR UPDATE SKIP LOCKED"
)


async def seal_clear_rows(db: Database, keys: DataKeys) -> int:
    """Seal every order still holding a clear value (written before payment sealed them), a batch per
    transaction; returns how many orders changed. Run at start before serving (migrations never hold the
    master key); replicas starting together skip each other's locked rows, and a second run finds nothing."""
    changed = 0
    while True:
        async with db.engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(_CLEAR_ORDERS),
                    {"erased": ERASED_TEXT, "sealed": SEALED_PREFIX + "%", "facts": list(BOOKING_FACTS)},
                )
            ).all()
            for row in rows:
                cipher = await keys.cipher(owner_subject(row.tenant_id, row.client_id))
                await conn.execute(
                    text(
                        "UPDATE orders SET requirements = CAST(:requirements AS jsonb), "
                        "booking = CAST(:booking AS jsonb), invoice_title = :title, invoice_tax_id = :tax_id "
                        "WHERE id = :id"
                    ),
                    {
                        "id": row.id,
                        "requirements": _json(_sealed_or_erased(cipher, REQUIREMENTS, row.requirements)),
                        "booking": _json(_sealed_or_erased(cipher, BOOKING, row.booking, BOOKING_FACTS)),
                        "title": _sealed_text(cipher, INVOICE_TITLE, row.invoice_title),
                        "tax_id": _sealed_text(cipher, INVOICE_TAX_ID, row.invoice_tax_id),
                    },
                )
        if not rows:
            return changed
        changed += len(rows)


def _sealed_or_erased(
    cipher: SubjectCipher, field: str, answers: Mapping[str, Any], keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A shredded subject's clear leftovers are redacted: nothing can be sealed for it any more."""
    if cipher.destroyed:
        return {name: value if name in keep else ERASED_TEXT for name, value in answers.items()}
    return seal_answers(cipher, field, answers, keep)


def _sealed_text(cipher: SubjectCipher, field: str, value: str) -> str:
    if not value or value.startswith(SEALED_PREFIX):
        return value
    return "" if cipher.destroyed else cipher.seal(field, value)
