"""The base every consultation store shares (R-CON-2): the consultation row, which every change locks first,
its stage records (each written once per idempotency key, so a workflow's retry records nothing twice) and
its view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.consultation.models import (
    CallRecordRow,
    ConsultationMessageRow,
    ConsultationRow,
    ConsultationStageRow,
    MajorMatterRow,
)
from services.runtime.db import get_or_404
from services.runtime.records import utcnow


@dataclass
class ConsultationView:
    """A consultation with its stages, messages and calls, oldest first, and its major matter if it is one."""

    row: ConsultationRow
    stages: list[ConsultationStageRow]
    messages: list[ConsultationMessageRow]
    calls: list[CallRecordRow]
    major: MajorMatterRow | None = None


async def locked_consultation(session: AsyncSession, consultation_id: str) -> ConsultationRow:
    """The consultation, row-locked until the transaction ends; NotFound when there is none."""
    return await get_or_404(session, ConsultationRow, consultation_id, "consultation", for_update=True)


async def consultation_view(session: AsyncSession, consultation_id: str) -> ConsultationView:
    row = await get_or_404(session, ConsultationRow, consultation_id, "consultation")
    stages = (
        await session.exec(
            select(ConsultationStageRow)
            .where(ConsultationStageRow.consultation_id == consultation_id)
            .order_by(col(ConsultationStageRow.entered_at), col(ConsultationStageRow.id))
        )
    ).all()
    messages = (
        await session.exec(
            select(ConsultationMessageRow)
            .where(ConsultationMessageRow.consultation_id == consultation_id)
            .order_by(col(ConsultationMessageRow.created_at))
        )
    ).all()
    calls = (
        await session.exec(
            select(CallRecordRow)
            .where(CallRecordRow.consultation_id == consultation_id)
            .order_by(col(CallRecordRow.started_at), col(CallRecordRow.id))
        )
    ).all()
    major = await session.get(MajorMatterRow, consultation_id)
    return ConsultationView(row, list(stages), list(messages), list(calls), major)


async def add_stage(
    session: AsyncSession,
    consultation_id: str,
    stage: str,
    idempotency_key: str,
    *,
    actor: str = "system",
    due_at: datetime | None = None,
    detail: str = "",
) -> bool:
    """Insert a stage once per idempotency key; False when it was already recorded (a retry)."""
    stages = ConsultationStageRow.__table__  # type: ignore[attr-defined]
    inserted = await session.execute(
        pg_insert(stages)
        .values(
            consultation_id=consultation_id,
            stage=stage,
            actor=actor,
            entered_at=utcnow(),
            due_at=due_at,
            idempotency_key=idempotency_key,
            detail=detail,
        )
        .on_conflict_do_nothing()
        .returning(stages.c.id)
    )
    return inserted.first() is not None


async def stage_recorded(session: AsyncSession, consultation_id: str, idempotency_key: str) -> bool:
    found = (
        await session.exec(
            select(ConsultationStageRow.id)
            .where(ConsultationStageRow.consultation_id == consultation_id)
            .where(ConsultationStageRow.idempotency_key == idempotency_key)
        )
    ).first()
    return found is not None
