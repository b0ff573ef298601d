"""Tables of quality supervision and the question bank (R-Q-4, R-Q-5, §9.3, §9.4), on the catalog's registry
beside the lawyer profiles they judge and qualify. Lawyers are named by identity account (`lawyer_id`) as
the events that feed these tables name them; a qualification names the profile, whose `lawyer.changed`
carries it to the assignment rosters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.catalog.models import CatalogTable


class QcSampleRow(CatalogTable, table=True):
    """An output sampled for a supervisor's review."""

    __tablename__ = "qc_samples"
    __table_args__ = (
        CheckConstraint("score BETWEEN 0 AND 5", name="ck_qc_samples_score"),
        Index("ix_qc_samples_status_created_at", "status", "created_at"),
    )

    id: str = Field(primary_key=True)
    kind: str = Field(index=True)  # consultation_reply | document_version | meeting | visit
    object_id: str
    lawyer_id: str = Field(index=True)
    status: str = "pending"  # pending | passed | failed
    score: int = 0
    findings: str = ""
    reason: str = ""
    scored_by: str = ""
    scored_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class QualityRecordRow(CatalogTable, table=True):
    """A lawyer's running quality record: what the sampling rate and the risk controls read."""

    __tablename__ = "qc_lawyer_records"

    lawyer_id: str = Field(primary_key=True)
    completed_items: int = 0
    samples: int = 0
    failed_samples: int = 0
    risk_flags: int = 0
    low_rating_streak: int = 0
    replies_past_due: int = 0
    # Items still to be sampled at the raised rate after a low rating or a failed check.
    watched_items: int = 0
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class RiskFlagRow(CatalogTable, table=True):
    __tablename__ = "qc_risk_flags"

    id: str = Field(primary_key=True)
    kind: str = Field(index=True)  # visit_without_check_in | two_low_ratings | reply_past_due_twice
    lawyer_id: str = Field(index=True)
    object_id: str
    detail: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class QuestionRow(CatalogTable, table=True):
    __tablename__ = "qb_questions"
    __table_args__ = (CheckConstraint("difficulty BETWEEN 1 AND 5", name="ck_qb_questions_difficulty"),)

    id: str = Field(primary_key=True)
    field: str = Field(index=True)
    difficulty: int
    stem: str
    choices: list[str] = Field(default_factory=list, sa_type=JSONB)
    answer: int
    explanation: str = ""
    author_id: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class AssessmentRow(CatalogTable, table=True):
    __tablename__ = "qb_assessments"

    id: str = Field(primary_key=True)
    lawyer_id: str = Field(index=True)
    field: str = Field(index=True)
    question_ids: list[str] = Field(default_factory=list, sa_type=JSONB)
    answers: list[int] = Field(default_factory=list, sa_type=JSONB)
    status: str = "open"  # open | passed | failed
    score: int = 0
    due_at: datetime = Field(sa_type=DateTime(timezone=True))
    submitted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class QualificationRow(CatalogTable, table=True):
    """A lawyer profile passed the assessment of a field (or was seeded as having passed it)."""

    __tablename__ = "qb_qualifications"

    lawyer_profile_id: str = Field(primary_key=True)
    field: str = Field(primary_key=True)
    assessment_id: str = ""  # "" for a seeded qualification
    passed_at: datetime = Field(sa_type=DateTime(timezone=True))
