"""What fulfils a paid order (R-INFO-4, R-PAY-2), written in the fulfilment-links consumer's transaction:
the link to the consultation, document order or booking, its completion, and the refund when it is
cancelled."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.payment import domain
from services.payment.models import TABLES, OrderRow
from services.payment.store.base import record_stage
from services.payment.store.refunds import refund
from services.runtime.events import Outbox
from services.runtime.records import claim_idempotency_key, new_id, request_fingerprint


class Fulfilments:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def link_fulfilment(
        self, session: AsyncSession, tenant_id: str, order_id: str, kind: str, fulfilment_id: str
    ) -> bool:
        """Record what fulfils a paid order (e.g. the consultation submitted against it), once, in the
        caller's transaction. Returns False when the order is not this tenant's, not paid, or linked."""
        row = (await session.exec(select(OrderRow).where(OrderRow.id == order_id).with_for_update())).first()
        if row is None or row.tenant_id != tenant_id or row.fulfilment_id:
            return False
        if row.status not in ("paid", "in_service"):
            return False
        row.fulfilment_kind, row.fulfilment_id = kind, fulfilment_id
        session.add(row)
        await record_stage(session, order_id, f"{kind}_started", "system")
        return True

    async def complete_fulfilment(
        self, session: AsyncSession, tenant_id: str, order_id: str, kind: str, fulfilment_id: str
    ) -> bool:
        """The order's fulfilment finished: an in-service order fulfilled by it becomes completed, once, in
        the caller's transaction. Returns False for another tenant's or another fulfilment's order, or one
        not in service (already completed or refunded)."""
        row = (await session.exec(select(OrderRow).where(OrderRow.id == order_id).with_for_update())).first()
        if row is None or row.tenant_id != tenant_id or row.status != "in_service":
            return False
        if (row.fulfilment_kind, row.fulfilment_id) != (kind, fulfilment_id):
            return False
        row.status = domain.next_order_status(row.status, "completed")
        session.add(row)
        await record_stage(session, order_id, "completed", "system")
        return True

    async def refund_cancelled_fulfilment(
        self,
        session: AsyncSession,
        tenant_id: str,
        order_id: str,
        kind: str,
        fulfilment_id: str,
    ) -> bool:
        """The order's fulfilment was cancelled or failed in its owning service: refund what is left of the
        order, exactly once (keyed by the fulfilment, in the caller's transaction, so a redelivered or
        replayed event finds the key and the refunded order and does nothing). Returns False for another
        tenant's order, another fulfilment's, or an order with nothing left to refund."""
        row = (await session.exec(select(OrderRow).where(OrderRow.id == order_id).with_for_update())).first()
        if row is None or row.tenant_id != tenant_id:
            return False
        if row.fulfilment_id and (row.fulfilment_kind, row.fulfilment_id) != (kind, fulfilment_id):
            return False
        if row.status not in ("paid", "in_service") or row.refunded_fen >= row.amount_fen:
            return False
        refund_id = new_id()
        first = await claim_idempotency_key(
            session,
            TABLES,
            f"refund:{order_id}",
            f"fulfilment:{kind}:{fulfilment_id}",
            request_fingerprint(kind, fulfilment_id),
            refund_id,
        )
        if first is not None:
            return False
        # A reason code: the supervisor's words stay with the document order (and its event, which tells the
        # client), never in the append-only ledger (R-PRIV-1, see domain.ledger_reason).
        await refund(session, self.outbox, row, 0, "fulfilment_cancelled", "system", refund_id)
        return True
