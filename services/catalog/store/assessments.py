"""The question bank and lawyers' assessments (R-Q-5, §9.4): supervisors maintain questions per legal field and
difficulty; a lawyer draws an assessment of one of their fields, answers before its due time and is scored
on submit; passing qualifies the lawyer's profile for work in the field, which the profile's
`lawyer.changed` carries to the assignment rosters (`passed_fields`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalog import quality
from services.catalog.models import LawyerRow
from services.catalog.quality_models import AssessmentRow, QualificationRow, QuestionRow
from services.catalog.store.base import ranked
from services.catalog.store.lawyer_events import publish_lawyer_changed
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import Conflict, NotFound
from services.runtime.events import Outbox
from services.runtime.records import new_id, utcnow


@dataclass(frozen=True)
class DrawnAssessment:
    assessment: AssessmentRow
    questions: list[QuestionRow]


async def _own_profile(session: AsyncSession, principal: Principal) -> LawyerRow:
    row = (await session.exec(select(LawyerRow).where(LawyerRow.user_id == principal.user_id))).first()
    if row is None:
        raise NotFound("you have no lawyer profile")
    return row


async def qualify(session: AsyncSession, lawyer_profile_id: str, field: str, assessment_id: str) -> None:
    """Record that the profile passed `field` (a first pass stays the record; `assessment_id` "" when
    seeded)."""
    await session.execute(
        pg_insert(QualificationRow.__table__)  # type: ignore[attr-defined]
        .values(
            lawyer_profile_id=lawyer_profile_id, field=field, assessment_id=assessment_id, passed_at=utcnow()
        )
        .on_conflict_do_nothing()
    )


class Assessments:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox
        # Draws must not be predictable from earlier ones (a lawyer could learn the sequence).
        self.rng = random.SystemRandom()

    async def create_question(self, principal: Principal, question: quality.NewQuestion) -> QuestionRow:
        row = QuestionRow(
            id=new_id(),
            field=question.field,
            difficulty=question.difficulty,
            stem=question.stem,
            choices=list(question.choices),
            answer=question.answer,
            explanation=question.explanation,
            author_id=principal.user_id,
            created_at=utcnow(),
        )
        async with self.db.transaction() as session:
            session.add(row)
            await session.flush()
        return row

    async def upsert_questions(self, rows: Sequence[QuestionRow]) -> None:
        """Seed path: merge questions with fixed ids."""
        async with self.db.transaction() as session:
            for row in rows:
                await session.merge(row)

    async def list_questions(self, field: str, limit: int, cursor: str) -> tuple[list[QuestionRow], str]:
        statement = select(QuestionRow)
        if field:
            statement = statement.where(QuestionRow.field == field)
        statement = statement.order_by(
            col(QuestionRow.field), col(QuestionRow.difficulty), col(QuestionRow.id)
        )
        return await ranked(self.db, statement, limit, cursor)

    async def start(self, principal: Principal, field: str) -> DrawnAssessment:
        """A random draw of the field's questions, due in the time limit. NotFound without a lawyer profile;
        Conflict when the bank holds too few questions of the field."""
        async with self.db.transaction() as session:
            await _own_profile(session, principal)
            ids = list((await session.exec(select(QuestionRow.id).where(QuestionRow.field == field))).all())
            if len(ids) < quality.QUESTIONS_PER_ASSESSMENT:
                raise Conflict(f"the question bank holds too few questions of {field} for an assessment")
            drawn = self.rng.sample(sorted(ids), quality.QUESTIONS_PER_ASSESSMENT)
            by_id = {
                q.id: q
                for q in (await session.exec(select(QuestionRow).where(col(QuestionRow.id).in_(drawn)))).all()
            }
            now = utcnow()
            assessment = AssessmentRow(
                id=new_id(),
                lawyer_id=principal.user_id,
                field=field,
                question_ids=drawn,
                due_at=now + quality.ASSESSMENT_TIME_LIMIT,
                created_at=now,
            )
            session.add(assessment)
            await session.flush()
            return DrawnAssessment(assessment, [by_id[i] for i in drawn])

    async def submit(
        self, principal: Principal, assessment_id: str, answers: Sequence[int]
    ) -> quality.AssessmentScore:
        """Score the caller's open assessment. Conflict when submitted already or after its due time (which
        then counts as expired); a pass qualifies the caller's profile in the field and publishes its
        `lawyer.changed`."""
        async with self.db.transaction() as session:
            row = (
                await session.get(AssessmentRow, assessment_id, with_for_update=True)
                if assessment_id
                else None
            )
            if row is None or row.lawyer_id != principal.user_id:
                raise NotFound("no such assessment")
            now = utcnow()
            quality.check_submittable(row.status, row.due_at, now)
            questions = {
                q.id: q
                for q in (
                    await session.exec(select(QuestionRow).where(col(QuestionRow.id).in_(row.question_ids)))
                ).all()
            }
            result = quality.score_assessment(answers, [questions[i].answer for i in row.question_ids])
            row.answers, row.score = list(answers), result.percent
            row.status = "passed" if result.passed else "failed"
            row.submitted_at = now
            session.add(row)
            if result.passed:
                profile = await _own_profile(session, principal)
                await qualify(session, profile.id, row.field, row.id)
                profile.updated_at = now  # the rosters take a change newer than the one they hold
                session.add(profile)
                await session.flush()
                await publish_lawyer_changed(self.outbox, session, profile, principal.user_id)
            await session.flush()
            return result

    async def list_results(
        self, lawyer_id: str, field: str, limit: int, cursor: str
    ) -> tuple[list[AssessmentRow], str]:
        statement = select(AssessmentRow)
        if lawyer_id:
            statement = statement.where(AssessmentRow.lawyer_id == lawyer_id)
        if field:
            statement = statement.where(AssessmentRow.field == field)
        statement = statement.order_by(col(AssessmentRow.created_at).desc(), col(AssessmentRow.id))
        return await ranked(self.db, statement, limit, cursor)

    async def seed_qualifications(self, lawyers: Sequence[LawyerRow]) -> None:
        """Seed path: the demo lawyers passed every field of theirs (so every journey assigns them)."""
        async with self.db.transaction() as session:
            for lawyer in lawyers:
                for field in lawyer.fields:
                    await qualify(session, lawyer.id, field, "")
