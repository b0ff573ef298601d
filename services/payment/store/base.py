"""The base every payment store shares (R-PAY-2): the order row, which every writer locks first (then its
payments, so writers of one order queue instead of deadlocking), its stage records and its view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1 import money_pb2
from services.payment import domain
from services.payment.models import OrderRow, OrderStageRow
from services.runtime.context import Principal
from services.runtime.db import get_or_404
from services.runtime.records import utcnow
from services.runtime.tenancy import require_visible


@dataclass(frozen=True)
class OrderView:
    """An order with its stage records, oldest first."""

    row: OrderRow
    stages: list[OrderStageRow]


def money(amount: int, currency: str) -> money_pb2.Money:
    return money_pb2.Money(amount=amount, currency=currency)


async def locked_order(session: AsyncSession, order_id: str) -> OrderRow:
    """The order, row-locked until the transaction ends; NotFound when there is none."""
    return await get_or_404(session, OrderRow, order_id, "order", for_update=True)


async def order_view(session: AsyncSession, order_id: str) -> OrderView:
    row = await get_or_404(session, OrderRow, order_id, "order")
    stages = (
        await session.exec(
            select(OrderStageRow)
            .where(OrderStageRow.order_id == order_id)
            .order_by(col(OrderStageRow.entered_at), col(OrderStageRow.id))
        )
    ).all()
    return OrderView(row, list(stages))


async def visible_order(session: AsyncSession, principal: Principal | None, order_id: str) -> OrderView:
    """The order as `principal` may see it: NotFound for another tenant's (R-ACC-4)."""
    view = await order_view(session, order_id)
    require_visible(principal, view.row.tenant_id, domain.STAFF_WHO_SEE_ORDERS, "order")
    return view


async def record_stage(
    session: AsyncSession,
    order_id: str,
    stage: str,
    actor: str,
    due_at: datetime | None = None,
    *,
    key: str = "",
) -> None:
    """Record that the order entered `stage`, once per `key` (the stage itself unless given)."""
    table = OrderStageRow.__table__  # type: ignore[attr-defined]
    await session.execute(
        pg_insert(table)
        .values(
            order_id=order_id,
            stage=stage,
            actor=actor,
            entered_at=utcnow(),
            due_at=due_at,
            idempotency_key=key or stage,
        )
        .on_conflict_do_nothing()
    )
