"""Quality supervision (R-Q-4, R-Q-5, §9.3, §9.4): the lawyers' outputs sampled for supervisors, their scores,
the follow-up a failed one opens, each lawyer's record and the risk controls' flags. The consumer side runs
in the `catalog-quality` consumer's transaction (services/catalog/quality_events.py); the rules are pure
(services/catalog/quality.py)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import quality
from services.catalog.quality_models import QcSampleRow, QualityRecordRow, RiskFlagRow
from services.catalog.store.base import ranked
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.records import new_id, utcnow


async def _record(session: AsyncSession, lawyer_id: str) -> QualityRecordRow:
    """The lawyer's record, row-locked, created empty on first use."""
    row = await session.get(QualityRecordRow, lawyer_id, with_for_update=True)
    if row is None:
        row = QualityRecordRow(lawyer_id=lawyer_id, updated_at=utcnow())
        session.add(row)
        await session.flush()
    return row


class Quality:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    # --- consumer side (in the consumer's transaction) ------------------------------------------------

    async def record_output(
        self, session: AsyncSession, event_id: str, kind: str, object_id: str, lawyer_id: str
    ) -> QcSampleRow | None:
        """A lawyer completed an output: it counts in their record and is sampled at their current rate
        (quality.sampling_rate); the sample, or None."""
        record = await _record(session, lawyer_id)
        rate = quality.sampling_rate(record.completed_items, record.watched_items)
        record.completed_items += 1
        record.watched_items = max(record.watched_items - 1, 0)
        record.updated_at = utcnow()
        sample = None
        if quality.is_sampled(event_id, rate.rate):
            record.samples += 1
            sample = QcSampleRow(
                id=new_id(),
                kind=kind,
                object_id=object_id,
                lawyer_id=lawyer_id,
                reason=rate.reason,
                created_at=utcnow(),
            )
            session.add(sample)
        session.add(record)
        await session.flush()
        return sample

    async def record_rating(self, session: AsyncSession, lawyer_id: str, object_id: str, rating: int) -> None:
        """A client rated the lawyer's work: a low rating raises the sampling rate for the next items, and
        the second low one in a row raises a flag."""
        record = await _record(session, lawyer_id)
        if quality.is_low_rating(rating):
            record.low_rating_streak += 1
            record.watched_items = quality.WATCH_ITEMS
            if record.low_rating_streak == quality.LOW_RATING_RUN:
                await self._flag(
                    session,
                    record,
                    "two_low_ratings",
                    object_id,
                    f"{quality.LOW_RATING_RUN} ratings of at most {quality.LOW_RATING} stars in a row",
                )
        else:
            record.low_rating_streak = 0
        record.updated_at = utcnow()
        session.add(record)
        await session.flush()

    async def record_reply_past_due(self, session: AsyncSession, lawyer_id: str, object_id: str) -> None:
        """A lawyer missed a reply or delivery deadline; the second time raises a flag."""
        record = await _record(session, lawyer_id)
        record.replies_past_due += 1
        if record.replies_past_due == quality.PAST_DUE_RUN:
            await self._flag(
                session,
                record,
                "reply_past_due_twice",
                object_id,
                f"replies past due {quality.PAST_DUE_RUN} times",
            )
        record.updated_at = utcnow()
        session.add(record)
        await session.flush()

    async def record_meeting_without_check_in(
        self, session: AsyncSession, lawyer_id: str, booking_id: str, status: str
    ) -> None:
        """An on-site meeting ended (`status` completed or no_show) and the lawyer never checked in."""
        record = await _record(session, lawyer_id)
        await self._flag(
            session,
            record,
            "visit_without_check_in",
            booking_id,
            f"an on-site meeting ended ({status}) without the lawyer's check-in",
        )
        session.add(record)
        await session.flush()

    async def _flag(
        self, session: AsyncSession, record: QualityRecordRow, kind: str, object_id: str, detail: str
    ) -> None:
        flag = RiskFlagRow(
            id=new_id(),
            kind=kind,
            lawyer_id=record.lawyer_id,
            object_id=object_id,
            detail=detail,
            created_at=utcnow(),
        )
        session.add(flag)
        record.risk_flags += 1
        await self.outbox.add(
            session,
            "quality.risk_flagged",
            events_pb2.QualityRiskFlagged(
                flag_id=flag.id, kind=kind, lawyer_id=record.lawyer_id, object_id=object_id, detail=detail
            ),
            aggregate_id=flag.id,
            actor_id="system",
        )

    # --- supervisors ------------------------------------------------------------------------------------

    async def list_samples(
        self, kind: str, status: str, lawyer_id: str, limit: int, cursor: str
    ) -> tuple[list[QcSampleRow], str]:
        statement = select(QcSampleRow)
        if kind:
            statement = statement.where(QcSampleRow.kind == kind)
        if status:
            statement = statement.where(QcSampleRow.status == status)
        if lawyer_id:
            statement = statement.where(QcSampleRow.lawyer_id == lawyer_id)
        statement = statement.order_by(col(QcSampleRow.created_at).desc(), col(QcSampleRow.id))
        return await ranked(self.db, statement, limit, cursor)

    async def score_sample(
        self, principal: Principal, sample_id: str, score: int, passed: bool, findings: str
    ) -> QcSampleRow:
        """Score a pending sample (Conflict once scored). A failed one counts in the lawyer's record, raises
        their sampling rate for the next items and publishes `quality.follow_up_opened` for the lawyer."""
        async with self.db.transaction() as session:
            sample = await session.get(QcSampleRow, sample_id, with_for_update=True) if sample_id else None
            if sample is None:
                raise NotFound("no such sample")
            quality.check_scorable(sample.status)
            sample.status = "passed" if passed else "failed"
            sample.score, sample.findings = score, findings
            sample.scored_by, sample.scored_at = principal.user_id, utcnow()
            session.add(sample)
            if not passed:
                record = await _record(session, sample.lawyer_id)
                record.failed_samples += 1
                record.watched_items = quality.WATCH_ITEMS
                record.updated_at = utcnow()
                session.add(record)
                await self.outbox.add(
                    session,
                    "quality.follow_up_opened",
                    events_pb2.QualityFollowUpOpened(
                        sample_id=sample.id,
                        lawyer_id=sample.lawyer_id,
                        kind=sample.kind,
                        object_id=sample.object_id,
                        score=score,
                        findings=findings,
                    ),
                    aggregate_id=sample.id,
                    actor_id=principal.user_id,
                )
            await session.flush()
            return sample

    async def list_flags(self, lawyer_id: str, limit: int, cursor: str) -> tuple[list[RiskFlagRow], str]:
        statement = select(RiskFlagRow)
        if lawyer_id:
            statement = statement.where(RiskFlagRow.lawyer_id == lawyer_id)
        statement = statement.order_by(col(RiskFlagRow.created_at).desc(), col(RiskFlagRow.id))
        return await ranked(self.db, statement, limit, cursor)

    async def list_records(
        self, lawyer_id: str, limit: int, cursor: str
    ) -> tuple[list[QualityRecordRow], str]:
        statement = select(QualityRecordRow)
        if lawyer_id:
            statement = statement.where(QualityRecordRow.lawyer_id == lawyer_id)
        statement = statement.order_by(
            col(QualityRecordRow.failed_samples).desc(),
            col(QualityRecordRow.risk_flags).desc(),
            col(QualityRecordRow.lawyer_id),
        )
        return await ranked(self.db, statement, limit, cursor)
